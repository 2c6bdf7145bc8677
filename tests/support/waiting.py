"""Waiting for something another process (or task) does: poll a reading until it is what the
test expects, against a deadline, and fail with the last reading. The sync and the async form
take the same arguments."""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

TIMEOUT_S = 20.0
POLL_S = 0.05


def eventually(
    read: Callable[[], T],
    until: Callable[[T], object] = bool,
    *,
    what: str,
    timeout_s: float = TIMEOUT_S,
    poll_s: float = POLL_S,
) -> T:
    """Call ``read`` until ``until`` holds for what it returns (by default: until it is true),
    and return that reading."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = read()
        if until(found):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s; last: {found!r}")
        time.sleep(poll_s)


async def eventually_async(
    read: Callable[[], T | Awaitable[T]],
    until: Callable[[T], object] = bool,
    *,
    what: str,
    timeout_s: float = TIMEOUT_S,
    poll_s: float = POLL_S,
) -> T:
    """``eventually`` in the event loop: ``read`` may return a value or an awaitable, and the
    loop runs other tasks (an in-process worker, say) between readings."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        found = read()
        if inspect.isawaitable(found):
            found = await found
        if until(found):
            return found
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s; last: {found!r}")
        await asyncio.sleep(poll_s)
