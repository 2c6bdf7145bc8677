"""Database connection: which server, the engine, and the per-request session."""

from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar, cast

import psycopg
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlmodel import SQLModel

from services.common.config import CommonSettings
from services.common.embedded import ensure_database, start_embedded

Row = TypeVar("Row", bound=SQLModel)

# Held for the life of the process so the embedded server's handle is not released early.
_embedded_servers: list[object] = []


def resolve_database_url(settings: CommonSettings) -> str:
    """The libpq URL of the joinedup database, starting the embedded server if none is set."""
    if settings.database_url:
        return settings.database_url
    server = start_embedded(settings)
    _embedded_servers.append(server)
    ensure_database(server.get_uri(), settings.database_name)
    return server.get_uri(settings.database_name)


def sqlalchemy_url(url: str) -> str:
    """Turn a libpq URL into one that selects SQLAlchemy's psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("JOINEDUP_DATABASE_URL must be a postgresql:// URL")


def libpq_url(url: str) -> str:
    """Turn a SQLAlchemy URL back into one psycopg.connect accepts."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def create_engine(
    url: str, settings: CommonSettings, *, connect_timeout_s: int | None = None
) -> AsyncEngine:
    """The engine of a server. Without server-side prepares (behind PgBouncer in transaction
    mode) psycopg never prepares a statement (``prepare_threshold=None``): a prepared statement
    lives on one server connection, and the next transaction may get another."""
    connect_args: dict[str, Any] = {}
    if not settings.db_server_side_prepares:
        connect_args["prepare_threshold"] = None
    if connect_timeout_s is not None:
        connect_args["connect_timeout"] = connect_timeout_s
    return create_async_engine(
        sqlalchemy_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=0,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the endpoint returns, rolled back on error.

    Declared with ``scope="function"`` below so the commit happens before the response is sent:
    a client never sees a success that was not durably stored.
    """
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def driver_connection(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    """The session's own psycopg connection, in its transaction, for what is psycopg's rather
    than SQLAlchemy's (COPY). The engine is psycopg's async dialect, whose driver connection is
    an AsyncConnection; SQLAlchemy types it for every dialect at once."""
    raw = await (await session.connection()).get_raw_connection()
    return cast(psycopg.AsyncConnection[Any], raw.driver_connection)


async def insert_row(session: AsyncSession, row: Row) -> Row:
    """The row as stored: added, flushed and read back, with what the database filled in (its
    generated id, its defaults such as created_at)."""
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row
