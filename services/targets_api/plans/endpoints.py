from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from services.common.auth import (
    ApiPrincipal,
    Principal,
    Role,
    SignatoryKey,
    StewardKey,
    require_role,
)
from services.common.catalogue import CatalogueDep, ConfirmedCatalogueDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.params import RowId
from services.common.responses import PageDep, csv_response, wants_csv, with_etag
from services.targets_api.plans import service
from services.targets_api.plans.schemas import (
    ApprovalCreate,
    PlanCreate,
    PlanEventPublic,
    PlanHistoryPublic,
    PlanPublic,
    PlansPublic,
    PlanStatus,
    PlanSummary,
    TargetPublic,
    TargetUpdate,
)

router = APIRouter(tags=["plans"], responses=problem_responses(401, 403, 404, 422))

AssessorKey = Annotated[ApiPrincipal, Depends(require_role(Role.assessor))]


CONFLICT = problem_responses(409)
CSV_FIELDS = [name for name in PlanSummary.model_fields if name != "metric_version_changes"]


@router.post(
    "/v1/places/{code}/plans",
    response_model=PlanPublic,
    status_code=201,
    responses=problem_responses(400),
)
async def create_plan(
    request: Request,
    session: SessionDep,
    principal: StewardKey,
    catalogue: ConfirmedCatalogueDep,
    code: str,
    body: PlanCreate,
) -> Response:
    """Start a draft plan for a place."""
    plan = await service.create_plan(
        session, principal=principal, catalogue=catalogue, place_code=code, body=body
    )
    response = with_etag(request, plan, status_code=201)
    response.headers["Location"] = f"/v1/plans/{plan.id}"
    return response


@router.get(
    "/v1/places/{code}/plans",
    response_model=PlansPublic,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def list_plans(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    page: PageDep,
    code: str,
    status: PlanStatus | None = None,
) -> Response:
    """A place's plans, newest first. With `Accept: text/csv`, all of them as CSV."""
    as_csv = wants_csv(request)
    found = await service.list_plans(
        session,
        catalogue=catalogue,
        place_code=code,
        status=status,
        limit=None if as_csv else page.limit,
        offset=0 if as_csv else page.offset,
    )
    return _plans_response(request, found, as_csv=as_csv, filename=f"plans-{code}.csv")


@router.get(
    "/v1/areas/{code}/plans",
    response_model=PlansPublic,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def list_area_plans(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    page: PageDep,
    code: str,
    status: PlanStatus | None = None,
) -> Response:
    """The plans of every place under an area (England, a region, an ICB, or a place), newest
    first, optionally in one status: a signatory's work list in one call. With
    `Accept: text/csv`, all of them as CSV."""
    as_csv = wants_csv(request)
    found = await service.list_area_plans(
        session,
        catalogue=catalogue,
        area_code=code,
        status=status,
        limit=None if as_csv else page.limit,
        offset=0 if as_csv else page.offset,
    )
    return _plans_response(request, found, as_csv=as_csv, filename=f"plans-{code}-places.csv")


def _plans_response(
    request: Request, found: tuple[list[PlanSummary], int], *, as_csv: bool, filename: str
) -> Response:
    plans, count = found
    if as_csv:
        return csv_response(CSV_FIELDS, _rows(p.model_dump() for p in plans), filename=filename)
    return with_etag(request, PlansPublic(data=plans, count=count))


async def _rows(rows: Iterable[Mapping[str, Any]]) -> AsyncIterator[Mapping[str, Any]]:
    for row in rows:
        yield row


@router.get(
    "/v1/plans/{plan_id}",
    response_model=PlanPublic,
    responses={304: {"description": "Not modified"}},
)
async def get_plan(
    request: Request, session: SessionDep, _: Principal, catalogue: CatalogueDep, plan_id: RowId
) -> Response:
    """One plan with its targets and every round's approvals."""
    return with_etag(request, await service.get_plan(session, catalogue=catalogue, plan_id=plan_id))


@router.get("/v1/plans/{plan_id}/history", response_model=PlanHistoryPublic)
async def get_plan_history(
    request: Request, session: SessionDep, _: AssessorKey, page: PageDep, plan_id: RowId
) -> Response:
    """Every audited change of the plan, its targets and approvals, oldest first."""
    events, count = await service.plan_history(
        session, plan_id=plan_id, limit=page.limit, offset=page.offset
    )
    return with_etag(
        request,
        PlanHistoryPublic(data=[PlanEventPublic.model_validate(e) for e in events], count=count),
    )


@router.put(
    "/v1/plans/{plan_id}/targets/{metric_code}",
    response_model=TargetPublic,
    responses=problem_responses(400, 409),
)
async def put_target(
    request: Request,
    session: SessionDep,
    principal: StewardKey,
    catalogue: ConfirmedCatalogueDep,
    plan_id: RowId,
    metric_code: str,
    body: TargetUpdate,
) -> Response:
    """Set or replace a draft plan's target for a metric."""
    return with_etag(
        request,
        await service.put_target(
            session,
            principal=principal,
            catalogue=catalogue,
            plan_id=plan_id,
            metric_code=metric_code,
            body=body,
        ),
    )


@router.delete("/v1/plans/{plan_id}/targets/{metric_code}", status_code=204, responses=CONFLICT)
async def delete_target(
    session: SessionDep,
    principal: StewardKey,
    catalogue: ConfirmedCatalogueDep,
    plan_id: RowId,
    metric_code: str,
) -> Response:
    """Remove a draft plan's target for a metric."""
    await service.delete_target(
        session, principal=principal, catalogue=catalogue, plan_id=plan_id, metric_code=metric_code
    )
    return Response(status_code=204)


@router.post("/v1/plans/{plan_id}/submit", response_model=PlanPublic, responses=CONFLICT)
async def submit_plan(
    request: Request,
    session: SessionDep,
    principal: StewardKey,
    catalogue: ConfirmedCatalogueDep,
    plan_id: RowId,
) -> Response:
    """Propose a draft for approval; it needs a target for every mandatory national metric."""
    return with_etag(
        request,
        await service.submit_plan(
            session, principal=principal, catalogue=catalogue, plan_id=plan_id
        ),
    )


@router.post(
    "/v1/plans/{plan_id}/approvals",
    response_model=PlanPublic,
    status_code=201,
    responses=problem_responses(400, 409),
)
async def decide_plan(
    request: Request,
    session: SessionDep,
    principal: SignatoryKey,
    catalogue: ConfirmedCatalogueDep,
    plan_id: RowId,
    body: ApprovalCreate,
) -> Response:
    """Approve or reject a proposed plan for the place or its ICB; returns the plan."""
    return with_etag(
        request,
        await service.decide(
            session, principal=principal, catalogue=catalogue, plan_id=plan_id, body=body
        ),
        status_code=201,
    )


@router.post(
    "/v1/plans/{plan_id}/revise", response_model=PlanPublic, status_code=201, responses=CONFLICT
)
async def revise_plan(
    request: Request,
    session: SessionDep,
    principal: StewardKey,
    catalogue: ConfirmedCatalogueDep,
    plan_id: RowId,
) -> Response:
    """Open a new draft revision of the agreed plan, carrying its targets over."""
    revision = await service.revise_plan(
        session, principal=principal, catalogue=catalogue, plan_id=plan_id
    )
    response = with_etag(request, revision, status_code=201)
    response.headers["Location"] = f"/v1/plans/{revision.id}"
    return response
