"""First come, first served admission to the database pool for submissions.

SQLAlchemy's async pool does not hand its connections out in the order they were asked for: a
task that returns a connection and asks again at once can take it back ahead of tasks that
have waited longer, so under many closed-loop clients some requests wait past the pool's
timeout and fail while others go round several times. The gate in front of it has as many
slots as the pool has connections and serves its waiters strictly in arrival order; a request
that cannot be admitted within ``wait_s`` gets a 503 problem with Retry-After, before it has
read its body or written anything.
"""

import asyncio
import collections
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import Depends, FastAPI, Request

from services.common.errors import ServiceUnavailable


class Admission:
    """``slots`` holders at a time; the others wait in a queue, served in arrival order."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self, wait_s: float) -> bool:
        """Take a slot, waiting at most ``wait_s`` behind those who came first; False if none
        came in time."""
        if self._free and not self._waiters:
            self._free -= 1
            return True
        if wait_s <= 0:
            return False
        turn = asyncio.get_running_loop().create_future()
        self._waiters.append(turn)
        try:
            async with asyncio.timeout(wait_s):
                await turn
        except TimeoutError:
            return self._leave(turn)
        except asyncio.CancelledError:
            self._leave(turn)
            raise
        return True

    def _leave(self, turn: asyncio.Future[None]) -> bool:
        """A waiter gives up. If the slot was handed to it just as it left, pass the slot on."""
        if turn in self._waiters:
            self._waiters.remove(turn)
        elif turn.done() and not turn.cancelled():
            self.release()
        return False

    def release(self) -> None:
        """Hand the slot to the longest waiter still waiting, else free it."""
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1


def admission_gate(slots: int) -> Callable[[FastAPI], AbstractAsyncContextManager[object]]:
    """The app resource that holds the gate (one per process, like the pool it guards)."""

    @asynccontextmanager
    async def resource(app: FastAPI) -> AsyncIterator[Admission]:
        app.state.admission = Admission(slots)
        yield app.state.admission

    return resource


async def _admitted(request: Request) -> AsyncIterator[None]:
    admission: Admission = request.app.state.admission
    wait_s = request.app.state.settings.admission_wait
    if not await admission.acquire(wait_s):
        raise ServiceUnavailable(
            f"Too many submissions at once: none could start within {wait_s:g} s; retry shortly.",
            retry_after_s=max(1, math.ceil(wait_s)),
        )
    try:
        yield
    finally:
        admission.release()


# A route dependency: solved before the endpoint's own (the key check's session among them), so
# the slot is taken before a connection is and held until the session's commit has finished.
ADMITTED = Depends(_admitted, scope="function")
