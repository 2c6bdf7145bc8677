"""Reads from a streaming replica: the read-only endpoints that serve materialised or historical
data (progress, series, performance, league tables, completeness) take ``ReadSessionDep``
instead of ``SessionDep``; ingest's observations read through ``read_session`` when they
are asked for every version (history; the current ones are what a place system reads back
after submitting). Writes and read-your-own-write paths stay on the primary.

With ``JOINEDUP_DATABASE_READ_URL`` unset every read goes to the primary. With it set, a read
asks the replica first; if the replica cannot be reached (refused, timed out, broken) the read
falls back to the primary, logs one line saying so and counts it in
``joinedup_read_replica_fallbacks_total``. Every answer read through here says where it was read
(``Joinedup-Read-From``), the replica's lag when read there (``Joinedup-Replica-Lag``), and, for
materialised figures, the refresh generation it was read at and how old the data is
(``Joinedup-Progress-Generation``, ``Joinedup-Progress-Refreshed-At``, ``Joinedup-Data-Age``).

The generation is read in the same session as the figures (services/targets_api/reads.py), so
an ETag names what that side holds: a lagging replica's answer carries the older generation's
ETag and is never kept in the cache of a newer one (services/common/etag.py).
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.etag import Generation
from services.common.telemetry import current_service

log = logging.getLogger(__name__)

READ_REPLICA_FALLBACKS = Counter(
    "joinedup_read_replica_fallbacks_total",
    "Reads meant for the read replica that were answered from the primary because the replica "
    "could not be reached, by service.",
    ["service"],
)

# Seconds since the last replayed transaction, or 0 when everything received is replayed (an
# idle primary sends nothing, and its standby is then as new as it is, however long ago that
# transaction was). NULL on a server that is not a standby.
_LAG = text("""
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN NULL
        WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0
        ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8
    END
""")

# The middleware puts a holder in the scope; the dependency puts its ReadSource in it (the holder,
# not the scope, is shared however the scope is copied on its way to the endpoint).
_HOLDER = "joinedup.read_source"


@dataclass
class ReadSource:
    """Where a request's reads were made, filled in by the dependency, sent by the middleware."""

    side: str = "primary"
    lag_s: float | None = None
    generation: Generation | None = None

    def headers(self, now: datetime) -> dict[str, str]:
        headers = {"Joinedup-Read-From": self.side}
        if self.lag_s is not None:
            headers["Joinedup-Replica-Lag"] = f"{self.lag_s:.3f}"
        made_at = self.generation.made_at if self.generation else None
        if self.generation is not None:
            headers["Joinedup-Progress-Generation"] = str(self.generation.number)
        if made_at is not None:
            headers["Joinedup-Progress-Refreshed-At"] = made_at.isoformat()
            headers["Joinedup-Data-Age"] = f"{max((now - made_at).total_seconds(), 0.0):.3f}"
        elif self.side == "replica" and self.lag_s is not None:
            headers["Joinedup-Data-Age"] = f"{self.lag_s:.3f}"
        else:
            headers["Joinedup-Data-Age"] = "0.000"
        return headers


def read_source(request: Request) -> ReadSource | None:
    """The request's record of where it read, when ``ReadSourceMiddleware`` runs."""
    holder = request.scope.get(_HOLDER)
    return holder.get("source") if holder is not None else None


def note_generation(request: Request, generation: Generation | None) -> None:
    """The refresh generation the request's figures were read at, for its headers."""
    source = read_source(request)
    if source is not None and generation is not None:
        source.generation = generation


class ReadSourceMiddleware:
    """Adds the ``Joinedup-Read-*`` headers to the answers of requests that read through
    ``ReadSessionDep`` (the others carry none)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder: dict[str, ReadSource] = {}
        scope[_HOLDER] = holder

        async def send_with_headers(message: Message) -> None:
            source = holder.get("source")
            if message["type"] == "http.response.start" and source is not None:
                headers = MutableHeaders(scope=message)
                for name, value in source.headers(datetime.now(UTC)).items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _replica_session(request: Request) -> tuple[AsyncSession, float | None] | None:
    """A session on the replica with its lag, or None (logged, counted) when it cannot be
    reached."""
    sessionmaker = request.app.state.read_sessionmaker
    session = sessionmaker()
    try:
        lag = await session.scalar(_LAG)
    except (DBAPIError, SQLAlchemyError, OSError, TimeoutError) as exc:
        await session.close()
        service = current_service.get()
        READ_REPLICA_FALLBACKS.labels(service).inc()
        log.warning(
            "read replica unreachable (%s: %s); reading %s from the primary",
            type(exc).__name__,
            str(exc).splitlines()[0] if str(exc) else "",
            request.url.path,
        )
        return None
    return session, lag


@asynccontextmanager
async def read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A read-only session: on the replica when one is configured and answers, else on the
    primary, the side recorded for the headers. For an endpoint that reads here only for some
    of its requests (``get_read_session`` is for all of them)."""
    source = ReadSource()
    holder = request.scope.get(_HOLDER)
    if holder is not None:
        holder["source"] = source
    found = await _replica_session(request) if request.app.state.read_sessionmaker else None
    if found is None:
        session = request.app.state.sessionmaker()
    else:
        session, lag = found
        source.side, source.lag_s = "replica", lag if lag is not None else 0.0
    # Nothing to commit: these endpoints only read (and a standby refuses writes). Closing the
    # session ends its transaction.
    async with session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The dependency of the endpoints that always read from the replica when it answers."""
    async with read_session(request) as session:
        yield session


def streamed_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    """Where a streamed body reads: the side the request's read session was on, which its
    headers, sent before the body, already name (the request's own session is closed by
    then)."""
    source = read_source(request)
    if source is not None and source.side == "replica":
        return request.app.state.read_sessionmaker
    return request.app.state.sessionmaker


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
