from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common.auth import Principal, StewardKey
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.params import RowId
from services.common.responses import ListPublic, PageDep, check_if_match, with_etag
from services.metrics_api.metrics import service
from services.metrics_api.metrics.schemas import (
    MetricCreate,
    MetricPublic,
    MetricScope,
    MetricStatus,
    MetricUpdate,
    MetricVersionPublic,
)

router = APIRouter(
    prefix="/v1/metrics", tags=["metrics"], responses=problem_responses(401, 403, 404, 422)
)


@router.get("", response_model=ListPublic[MetricPublic])
async def list_metrics(
    request: Request,
    session: SessionDep,
    _: Principal,
    page: PageDep,
    scope: MetricScope | None = None,
    owner: Annotated[str | None, Query(description="Owner area code")] = None,
    status: MetricStatus | None = None,
    domain: str | None = None,
) -> Response:
    """List metrics at their current versions."""
    rows, count = await service.list_metrics(
        session,
        scope=scope,
        owner=owner,
        status=status,
        domain=domain,
        limit=page.limit,
        offset=page.offset,
    )
    return with_etag(request, ListPublic[MetricPublic](data=rows, count=count))


@router.get(
    "/{code}", response_model=MetricPublic, responses={304: {"description": "Not modified"}}
)
async def get_metric(
    request: Request,
    session: SessionDep,
    _: Principal,
    code: str,
    version: Annotated[RowId | None, Query(description="A past version")] = None,
) -> Response:
    """One metric, at its current version unless another is asked for."""
    return with_etag(request, await service.get_metric(session, code=code, version=version))


@router.get("/{code}/versions", response_model=ListPublic[MetricVersionPublic])
async def list_metric_versions(
    request: Request, session: SessionDep, _: Principal, code: str
) -> Response:
    """Every version of a metric's definition, oldest first."""
    versions = await service.list_versions(session, code=code)
    return with_etag(request, ListPublic[MetricVersionPublic](data=versions, count=len(versions)))


@router.post(
    "", response_model=MetricPublic, status_code=201, responses=problem_responses(400, 409)
)
async def create_metric(
    request: Request, session: SessionDep, principal: StewardKey, body: MetricCreate
) -> Response:
    """Create a national metric (England in scope) or a local one (its owner in scope)."""
    metric = await service.create_metric(session, principal=principal, body=body)
    response = with_etag(request, metric, status_code=201)
    response.headers["Location"] = f"/v1/metrics/{metric.code}"
    return response


@router.put("/{code}", response_model=MetricPublic, responses=problem_responses(400, 409, 412))
async def update_metric(
    request: Request, session: SessionDep, principal: StewardKey, code: str, body: MetricUpdate
) -> Response:
    """Replace the definition: a change makes a new version; the same definition changes nothing.

    Send `If-Match` with the ETag you read to be sure nobody changed the metric meanwhile.
    """
    metric, current = await service.lock_for_change(session, principal=principal, code=code)
    check_if_match(request, service.to_public(metric, current))
    return with_etag(
        request,
        await service.update_metric(
            session, principal=principal, metric=metric, current=current, body=body
        ),
    )


@router.post("/{code}/retire", response_model=MetricPublic, responses=problem_responses(409))
async def retire_metric(
    request: Request, session: SessionDep, principal: StewardKey, code: str
) -> Response:
    """Retire a metric: it stays readable, but takes no new targets or data."""
    metric, current = await service.lock_for_change(session, principal=principal, code=code)
    return with_etag(
        request,
        await service.retire_metric(session, principal=principal, metric=metric, current=current),
    )
