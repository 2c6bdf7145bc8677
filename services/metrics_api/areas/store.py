"""The SQL of the area hierarchy: the area table and its lineage."""

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.errors import Conflict
from services.common.models import Area
from services.metrics_api.areas.schemas import AreaLevel
from services.metrics_api.unique import add_new

_LINEAGE = text("""
    WITH RECURSIVE up AS (
        SELECT code, parent_code, 0 AS depth FROM area WHERE code = :code
        UNION ALL
        SELECT a.code, a.parent_code, up.depth + 1 FROM area a JOIN up ON a.code = up.parent_code
    )
    SELECT code FROM up ORDER BY depth
""")


async def lineage(session: AsyncSession, code: str) -> list[str]:
    """The area and its ancestors, nearest first; empty if the area does not exist."""
    return list((await session.execute(_LINEAGE, {"code": code})).scalars())


async def area(session: AsyncSession, code: str) -> Area | None:
    return await session.get(Area, code)


def _areas(level: AreaLevel | None, parent: str | None) -> Select[Area]:
    query = select(Area)
    if level is not None:
        query = query.where(col(Area.level) == level)
    if parent is not None:
        query = query.where(col(Area.parent_code) == parent)
    return query


async def area_count(session: AsyncSession, *, level: AreaLevel | None, parent: str | None) -> int:
    """How many areas are at ``level`` and under ``parent`` (None: any)."""
    query = select(func.count()).select_from(_areas(level, parent).subquery())
    return await session.scalar(query) or 0


async def areas_page(
    session: AsyncSession, *, level: AreaLevel | None, parent: str | None, limit: int, offset: int
) -> list[Area]:
    """A page of the areas at ``level`` and under ``parent`` (None: any), in code order."""
    query = _areas(level, parent).order_by(col(Area.code)).limit(limit).offset(offset)
    return list((await session.execute(query)).scalars())


async def insert_area(session: AsyncSession, row: Area, *, taken: Conflict) -> Area:
    """The area as stored; ``taken`` is raised if another transaction stored its code first."""
    await add_new(session, row, taken=taken)
    await session.refresh(row)
    return row
