"""One participant's bad data must never stop the nation's figures.

A refresh computes many independent items at once (a (metric, period)'s roll-up, a target's
progress). When a batch fails on its data — a value whose arithmetic overflows, a result that is
not a finite number — the batch is halved and each half tried again, each in its own savepoint,
until the items that fail are alone: k bad items among n cost about 2 k log2 n attempts, and
every other item is written as if nothing had happened. A failure that is not about the data (a
lost connection, a deadlock, a constraint the schema enforces) is not isolated: it fails the
whole refresh, which leaves its notices queued for the next attempt.
"""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

Item = TypeVar("Item")

# SQLSTATE class 22 (data exception: numeric value out of range, invalid JSON number...) and the
# Python arithmetic that the same data breaks.
DATA_FAILURES = (sa_exc.DataError, ValueError, ArithmeticError)


@dataclass(frozen=True)
class SetAside(Generic[Item]):
    item: Item
    reason: str


def reason_of(error: BaseException) -> str:
    """What went wrong, without SQL or parameters (they may carry other places' data)."""
    if isinstance(error, sa_exc.DBAPIError):
        diag = getattr(error.orig, "diag", None)
        message = getattr(diag, "message_primary", None) or type(error.orig).__name__
        return f"database: {message}"
    return f"{type(error).__name__}: {error}"


async def isolating(
    session: AsyncSession, items: Sequence[Item], work: Callable[[Sequence[Item]], Awaitable[int]]
) -> tuple[int, list[SetAside[Item]]]:
    """``work`` over all ``items``, or over every part of them that it can do; returns what
    ``work`` counted over the parts that succeeded, and the items set aside with their reason."""
    if not items:
        return 0, []
    try:
        async with session.begin_nested():
            return await work(items), []
    except DATA_FAILURES as error:
        if len(items) == 1:
            return 0, [SetAside(items[0], reason_of(error))]
    middle = len(items) // 2
    done_first, failed_first = await isolating(session, items[:middle], work)
    done_second, failed_second = await isolating(session, items[middle:], work)
    return done_first + done_second, failed_first + failed_second
