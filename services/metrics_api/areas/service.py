"""The area hierarchy: England > regions > ICBs > places."""

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common import audit
from services.common.auth import ApiPrincipal
from services.common.errors import Conflict, NotFound, Unprocessable, field_error
from services.common.models import Area
from services.metrics_api.areas.schemas import PARENT_LEVEL, AreaCreate, AreaLevel, AreaPublic
from services.metrics_api.unique import add_new

_LINEAGE = text("""
    WITH RECURSIVE up AS (
        SELECT code, parent_code, 0 AS depth FROM area WHERE code = :code
        UNION ALL
        SELECT a.code, a.parent_code, up.depth + 1 FROM area a JOIN up ON a.code = up.parent_code
    )
    SELECT code FROM up ORDER BY depth
""")


async def lineage(session: AsyncSession, *, code: str) -> list[str]:
    """The area and its ancestors, nearest first; empty if the area does not exist."""
    return list((await session.execute(_LINEAGE, {"code": code})).scalars())


async def get_area(session: AsyncSession, *, code: str) -> Area:
    area = await session.get(Area, code)
    if area is None:
        raise NotFound(f"No area with code {code}.")
    return area


async def list_areas(
    session: AsyncSession, *, level: AreaLevel | None, parent: str | None, limit: int, offset: int
) -> tuple[list[Area], int]:
    query = select(Area)
    if level is not None:
        query = query.where(col(Area.level) == level)
    if parent is not None:
        query = query.where(col(Area.parent_code) == parent)
    count = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(query.order_by(col(Area.code)).limit(limit).offset(offset))
    return list(rows.scalars()), count or 0


async def create_area(session: AsyncSession, *, principal: ApiPrincipal, body: AreaCreate) -> Area:
    if body.level is AreaLevel.nation:
        raise Unprocessable(
            "England is the only nation; add regions, ICBs or places.",
            errors=[field_error(["level"], "must be region, icb or place")],
        )
    parent = await session.get(Area, body.parent_code)
    if parent is None:
        raise Unprocessable(
            f"Parent area {body.parent_code} does not exist.",
            errors=[field_error(["parent_code"], "no such area")],
        )
    if parent.level != PARENT_LEVEL[body.level]:
        want = PARENT_LEVEL[body.level]
        raise Unprocessable(
            f"A {body.level} must sit under a {want}; {body.parent_code} is a {parent.level}.",
            errors=[field_error(["parent_code"], f"must be a {want}")],
        )
    exists = Conflict(f"Area {body.code} already exists.")
    if await session.get(Area, body.code) is not None:
        raise exists
    area = Area(**body.model_dump())
    await add_new(session, area, taken=exists)
    await session.refresh(area)
    await audit.record(
        session,
        actor=principal,
        action="area.create",
        entity_type="area",
        entity_id=area.code,
        after=AreaPublic.model_validate(area).model_dump(mode="json"),
    )
    return area
