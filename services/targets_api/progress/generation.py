"""The generation of the materialised progress: every committed refresh moves it on, in its own
transaction, so a reader that reads it first knows which refresh its figures come from (READ
COMMITTED: the figures it reads next are of that refresh or a later one, never an earlier).
The reads' ETags and in-process caches are keyed on it (services/common/etag.py)."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.etag import Generation
from services.targets_api.progress import store


async def bump(session: AsyncSession) -> None:
    """The refresh in ``session`` makes a new generation, seen by readers when it commits."""
    await store.bump_generation(session)


def of(row: Any) -> Generation:
    """The generation in a row that selected ``generation`` and ``refreshed_at``."""
    return Generation(row.generation, row.refreshed_at)


async def current(session: AsyncSession) -> Generation:
    """The generation of the figures this session reads next (or of a later refresh)."""
    return of(await store.generation_row(session))
