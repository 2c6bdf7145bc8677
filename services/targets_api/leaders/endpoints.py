from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from services.common.auth import Principal, StewardKey
from services.common.catalogue import Catalogue, CatalogueDep
from services.common.clock import TodayDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.responses import PageDep, csv_response, wants_csv, with_etag
from services.targets_api.leaders import service
from services.targets_api.leaders.schemas import (
    CSV_FIELDS,
    LeaderCreate,
    LeaderPublic,
    LeadersPublic,
    PlacePublic,
)
from services.targets_api.lookups import place_of

router = APIRouter(
    prefix="/v1/places", tags=["leaders"], responses=problem_responses(401, 403, 404, 422, 503)
)


async def _catalogue_knowing(request: Request, code: str, catalogue: CatalogueDep) -> Catalogue:
    """The catalogue, asked again of metrics_api when its cached copy does not know the code:
    a place added a moment ago must not be refused as unknown from a copy a few seconds old."""
    return await request.app.state.metrics_api.knowing(catalogue, areas=[code])


PlaceCatalogue = Annotated[Catalogue, Depends(_catalogue_knowing)]


@router.put(
    "/{code}/leader",
    response_model=LeaderPublic,
    status_code=201,
    responses={
        200: {
            "model": LeaderPublic,
            "description": "The latest leader sent again: nothing changed",
        },
        **problem_responses(400, 409),
    },
)
async def appoint_leader(
    request: Request,
    session: SessionDep,
    principal: StewardKey,
    catalogue: PlaceCatalogue,
    today: TodayDep,
    code: str,
    body: LeaderCreate,
) -> Response:
    """Appoint the place's leader from `appointed_on`; the previous term ends the day before.

    201 with the new term; 200 with the latest term unchanged when every field equals it (a
    retry). `appointed_on` must be after the latest term's start (else 409) and at most a year
    ahead: a planned handover may be recorded in advance.
    """
    leader, added = await service.appoint(
        session, principal=principal, catalogue=catalogue, code=code, body=body, today=today
    )
    return with_etag(request, leader, status_code=201 if added else 200)


@router.get(
    "/{code}/leaders",
    response_model=LeadersPublic,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def list_leaders(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: PlaceCatalogue,
    code: str,
    page: PageDep,
) -> Response:
    """The place's leaders, newest term first. With `Accept: text/csv`, every term as CSV
    (no paging)."""
    place_of(catalogue, code)
    if wants_csv(request):
        rows, _count = await service.list_leaders(session, code=code, limit=None, offset=0)
        return csv_response(CSV_FIELDS, _as_csv_rows(rows), filename=f"leaders-{code}.csv")
    rows, count = await service.list_leaders(
        session, code=code, limit=page.limit, offset=page.offset
    )
    return with_etag(request, LeadersPublic(data=rows, count=count))


async def _as_csv_rows(rows: Iterable[LeaderPublic]) -> AsyncIterator[dict[str, Any]]:
    # A place has a handful of terms: read them in the request's session, before it closes,
    # rather than stream them from a second one.
    for row in rows:
        yield row.model_dump(mode="json")


@router.get("/{code}", response_model=PlacePublic, responses={304: {"description": "Not modified"}})
async def get_place(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: PlaceCatalogue,
    today: TodayDep,
    code: str,
) -> Response:
    """The place's profile: the area, its leader, its agreed plan, its plans by status and
    its agreed targets by progress status."""
    return with_etag(
        request, await service.get_profile(session, catalogue=catalogue, code=code, today=today)
    )
