"""Databases on the test server, and work done in one transaction on one: what the fixtures
in tests/conftest.py are built from, and what a test that makes its own databases uses."""

from collections.abc import Callable

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from services.common.config import CommonSettings
from services.common.db import create_engine, libpq_url, make_sessionmaker


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


async def run_in_transaction(url: str, work: Callable) -> object:
    engine = create_engine(url, CommonSettings(database_url=url, db_pool_size=1))
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()
