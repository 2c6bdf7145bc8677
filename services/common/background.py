"""Work a service does beside its requests (delivering the outbox, refreshing progress)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any


@asynccontextmanager
async def running(work: Coroutine[Any, Any, None], *, name: str) -> AsyncIterator[None]:
    """Runs ``work`` as a task while the block lasts, then cancels it and waits for it to end,
    so a stopping app never leaves it half way through a transaction."""
    task = asyncio.create_task(work, name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
