from collections.abc import AsyncIterator, Iterable
from typing import Any

from fastapi import APIRouter, Request, Response

from services.common.auth import Principal, StewardKey
from services.common.catalogue import ConfirmedCatalogueDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.params import RowId
from services.common.responses import csv_response, wants_csv, with_etag
from services.targets_api.resources import service
from services.targets_api.resources.schemas import (
    SPEND_CSV_FIELDS,
    ResourcesPublic,
    ResourcesUpdate,
    SpendAgainstPlan,
)

router = APIRouter(tags=["resources"], responses=problem_responses(401, 403, 404, 422))


@router.put(
    "/v1/plans/{plan_id}/resources",
    response_model=ResourcesPublic,
    responses=problem_responses(400, 409),
)
async def put_resources(
    request: Request,
    session: SessionDep,
    principal: StewardKey,
    catalogue: ConfirmedCatalogueDep,
    plan_id: RowId,
    body: ResourcesUpdate,
) -> Response:
    """Replace a draft plan's partners' contributions and planned spend by scheme, whole; the
    same resources sent again change nothing."""
    resources = await service.put_resources(
        session, principal=principal, catalogue=catalogue, plan_id=plan_id, body=body
    )
    return with_etag(request, resources)


@router.get(
    "/v1/plans/{plan_id}/resources",
    response_model=ResourcesPublic,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        304: {"description": "Not modified"},
    },
)
async def get_resources(
    request: Request, session: SessionDep, _: Principal, plan_id: RowId
) -> Response:
    """The plan's contributions and planned spend, and its planned spend against the place's
    actual spend to date per financial year and scheme. With `Accept: text/csv`, that
    comparison as CSV."""
    resources = await service.get_resources(session, plan_id=plan_id)
    if wants_csv(request):
        return csv_response(
            SPEND_CSV_FIELDS, _as_csv_rows(resources.spend), filename=f"plan-{plan_id}-spend.csv"
        )
    return with_etag(request, resources)


async def _as_csv_rows(rows: Iterable[SpendAgainstPlan]) -> AsyncIterator[dict[str, Any]]:
    for row in rows:
        yield row.model_dump(mode="json")
