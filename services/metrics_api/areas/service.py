"""The area hierarchy: England > regions > ICBs > places."""

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal
from services.common.errors import Conflict, NotFound, Unprocessable, field_error
from services.common.models import Area
from services.metrics_api.areas import store
from services.metrics_api.areas.schemas import PARENT_LEVEL, AreaCreate, AreaLevel, AreaPublic


async def get_area(session: AsyncSession, *, code: str) -> Area:
    area = await store.area(session, code)
    if area is None:
        raise NotFound(f"No area with code {code}.")
    return area


async def list_areas(
    session: AsyncSession, *, level: AreaLevel | None, parent: str | None, limit: int, offset: int
) -> tuple[list[Area], int]:
    count = await store.area_count(session, level=level, parent=parent)
    rows = await store.areas_page(session, level=level, parent=parent, limit=limit, offset=offset)
    return rows, count


async def create_area(session: AsyncSession, *, principal: ApiPrincipal, body: AreaCreate) -> Area:
    if body.level is AreaLevel.nation:
        raise Unprocessable(
            "England is the only nation; add regions, ICBs or places.",
            errors=[field_error(["level"], "must be region, icb or place")],
        )
    parent = await store.area(session, body.parent_code)
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
    if await store.area(session, body.code) is not None:
        raise exists
    area = await store.insert_area(session, Area(**body.model_dump()), taken=exists)
    await audit.record(
        session,
        actor=principal,
        action="area.create",
        entity_type="area",
        entity_id=area.code,
        after=AreaPublic.model_validate(area).model_dump(mode="json"),
    )
    return area
