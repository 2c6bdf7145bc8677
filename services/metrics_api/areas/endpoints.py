from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common.auth import AdminKey, Principal
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.responses import ListPublic, PageDep, with_etag
from services.metrics_api.areas import service
from services.metrics_api.areas.schemas import AreaCreate, AreaLevel, AreaPublic

router = APIRouter(
    prefix="/v1/areas", tags=["areas"], responses=problem_responses(401, 403, 404, 422)
)


@router.get("", response_model=ListPublic[AreaPublic])
async def list_areas(
    request: Request,
    session: SessionDep,
    _: Principal,
    page: PageDep,
    level: AreaLevel | None = None,
    parent: Annotated[str | None, Query(description="Only the children of this area")] = None,
) -> Response:
    """List areas, optionally one level or the children of one parent."""
    rows, count = await service.list_areas(
        session, level=level, parent=parent, limit=page.limit, offset=page.offset
    )
    return with_etag(
        request,
        ListPublic[AreaPublic](data=[AreaPublic.model_validate(r) for r in rows], count=count),
    )


@router.get("/{code}", response_model=AreaPublic, responses={304: {"description": "Not modified"}})
async def get_area(request: Request, session: SessionDep, _: Principal, code: str) -> Response:
    """One area by its ONS code."""
    area = await service.get_area(session, code=code)
    return with_etag(request, AreaPublic.model_validate(area))


@router.post("", response_model=AreaPublic, status_code=201, responses=problem_responses(400, 409))
async def create_area(
    request: Request, session: SessionDep, principal: AdminKey, body: AreaCreate
) -> Response:
    """Add an area (a new ICB or place); admin only."""
    area = await service.create_area(session, principal=principal, body=body)
    return with_etag(request, AreaPublic.model_validate(area), status_code=201)
