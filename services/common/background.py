"""Work done beside the requests (delivering the outbox, refreshing progress), in the worker
process (services/worker)."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.schema_version import current_revision, head_revision, serves

log = logging.getLogger(__name__)

SCHEMA_POLL_S = 2.0


@asynccontextmanager
async def running(
    work: Callable[[], Coroutine[Any, Any, None]], *, name: str, engine: AsyncEngine
) -> AsyncIterator[None]:
    """Runs ``work()`` as a task while the block lasts, then cancels it and waits for it to end,
    so a stopping process never leaves it half way through a transaction (it rolls back)."""
    task = asyncio.create_task(_once_migrated(engine, work, name), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.info("%s stopped", name)


async def _once_migrated(
    engine: AsyncEngine, work: Callable[[], Coroutine[Any, Any, None]], name: str
) -> None:
    """``work()`` once the schema is one this code serves: at the head it was written for, or a
    later revision compatible with it (services/common/schema_version.py). The API processes
    are kept from traffic until then by their readiness; background work has no traffic to be
    kept from, so it waits itself rather than write to a schema a migration has yet to change
    (a worker rolled out before its migration Job has run)."""
    expected, waiting = head_revision(), False
    while True:
        try:
            async with engine.connect() as conn:
                current = await current_revision(conn)
                if await serves(conn, current, expected):
                    break
        except Exception as error:  # the database may still be starting
            current = f"unreachable ({type(error).__name__})"
        if not waiting:
            log.warning("%s waits for the schema %s (the database has %s)", name, expected, current)
            waiting = True
        await asyncio.sleep(SCHEMA_POLL_S)
    await work()
