from collections.abc import AsyncIterator, Iterable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from services.common.auth import Principal, StewardKey
from services.common.catalogue import CatalogueDep, ConfirmedCatalogueDep
from services.common.clock import TodayDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.responses import csv_response, wants_csv, with_etag
from services.targets_api.governance import service
from services.targets_api.governance.schemas import (
    CSV_FIELDS,
    AreaGovernancePublic,
    GovernancePublic,
    GovernanceUpdate,
    PlaceGovernanceRow,
)

router = APIRouter(tags=["governance"], responses=problem_responses(401, 403, 404, 422))


async def _national_date(request: Request) -> date:
    # async, so FastAPI calls it on the event loop rather than handing it to a thread.
    return request.app.state.settings.governance_national_date


NationalDate = Annotated[date, Depends(_national_date)]


@router.put(
    "/v1/places/{code}/governance",
    response_model=GovernancePublic,
    status_code=201,
    responses={
        200: {
            "model": GovernancePublic,
            "description": "The current arrangement sent again: nothing changed",
        },
        **problem_responses(400),
    },
)
async def put_governance(
    request: Request,
    session: SessionDep,
    principal: StewardKey,
    catalogue: ConfirmedCatalogueDep,
    national_date: NationalDate,
    today: TodayDep,
    code: str,
    body: GovernanceUpdate,
) -> Response:
    """Record the place's governance model, partnership members and delegated functions as
    its next version (201); 200 with nothing changed when it equals the current version."""
    governance, added = await service.put_governance(
        session,
        principal=principal,
        catalogue=catalogue,
        code=code,
        body=body,
        national_date=national_date,
        today=today,
    )
    return with_etag(request, governance, status_code=201 if added else 200)


@router.get("/v1/places/{code}/governance", response_model=GovernancePublic)
async def get_governance(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    national_date: NationalDate,
    today: TodayDep,
    code: str,
) -> Response:
    """The place's current governance arrangement, what it says about the place (minimum
    membership, adoption by the national date, scrutiny before adoption) and every version."""
    return with_etag(
        request,
        await service.get_governance(
            session, catalogue=catalogue, code=code, national_date=national_date, today=today
        ),
    )


@router.get(
    "/v1/areas/{code}/governance",
    response_model=AreaGovernancePublic,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_area_governance(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    national_date: NationalDate,
    today: TodayDep,
    code: str,
) -> Response:
    """An ICB's, a region's or England's places' governance: counts, the places that fall
    short and why, and a row per place. With `Accept: text/csv`, the rows as CSV."""
    answer = await service.area_governance(
        session, catalogue=catalogue, code=code, national_date=national_date, today=today
    )
    if wants_csv(request):
        return csv_response(
            CSV_FIELDS, _as_csv_rows(answer.data), filename=f"governance-{code}.csv"
        )
    return with_etag(request, answer)


async def _as_csv_rows(rows: Iterable[PlaceGovernanceRow]) -> AsyncIterator[dict[str, Any]]:
    for row in rows:
        cells = row.model_dump(mode="json")
        yield {
            **cells,
            "missing_categories": ";".join(cells["missing_categories"]),
            "shortfalls": ";".join(cells["shortfalls"]),
        }
