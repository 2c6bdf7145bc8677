import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from fastapi import APIRouter, Request, Response

from services.common import audit
from services.common.auth import AdminKey, Principal
from services.common.catalogue import CatalogueDep
from services.common.clock import TodayDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.responses import PageDep, csv_response, wants_csv, with_etag
from services.targets_api.progress import service
from services.targets_api.progress.refresh import refresh_all
from services.targets_api.progress.schemas import (
    ITEM_CSV_FIELDS,
    POINT_CSV_FIELDS,
    PlaceProgress,
    ProgressSeries,
    RefreshResult,
    SetAsidesPublic,
)

router = APIRouter(tags=["progress"], responses=problem_responses(401, 403, 404, 422, 503))
# The type FastAPI declares for `responses`: a dict literal alone is inferred too narrowly.
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


@router.get("/v1/places/{code}/progress", response_model=PlaceProgress, responses=_CSV)
async def get_place_progress(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    today: TodayDep,
    code: str,
) -> Response:
    """Progress of every target of the place's agreed plan, with a count by status.

    With `Accept: text/csv`, one row per target.
    """
    progress = await service.place_progress(session, catalogue=catalogue, code=code, today=today)
    if wants_csv(request):
        return csv_response(ITEM_CSV_FIELDS, _rows(progress.items), filename=f"progress-{code}.csv")
    return with_etag(request, progress)


@router.get(
    "/v1/places/{code}/progress/{metric_code}", response_model=ProgressSeries, responses=_CSV
)
async def get_place_series(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    today: TodayDep,
    code: str,
    metric_code: str,
) -> Response:
    """The place's series for one metric with per-point SPC, its icons and the agreed target.

    With `Accept: text/csv`, one row per point.
    """
    series = await service.place_series(
        session, catalogue=catalogue, code=code, metric_code=metric_code, today=today
    )
    if wants_csv(request):
        return csv_response(
            POINT_CSV_FIELDS, _rows(series.points), filename=f"series-{code}-{metric_code}.csv"
        )
    return with_etag(request, series)


@router.post("/v1/progress/refresh", response_model=RefreshResult)
async def refresh_progress(
    session: SessionDep, principal: AdminKey, catalogue: CatalogueDep
) -> RefreshResult:
    """Recompute all progress from the current observations (admin; `joinedup progress
    refresh`). Change notices from ingest refresh just what changed, without this."""
    started = time.perf_counter()
    done = await refresh_all(session, catalogue=catalogue)
    result = RefreshResult(
        pairs=done.pairs,
        area_values=done.area_values,
        targets=done.targets,
        set_aside=done.set_aside,
        seconds=round(time.perf_counter() - started, 3),
    )
    await audit.record(
        session,
        actor=principal,
        action="progress.refresh",
        entity_type="progress",
        entity_id="all",
        after=result.model_dump(),
    )
    return result


@router.get("/v1/progress/set-aside", response_model=SetAsidesPublic)
async def list_set_aside(session: SessionDep, _: AdminKey, page: PageDep) -> SetAsidesPublic:
    """What the refresh set aside because its data could not be computed (admin): each
    (metric, period) or target with its reason. Its previous figures stay until it succeeds."""
    return await service.set_aside(session, limit=page.limit, offset=page.offset)


async def _rows(models: Iterable[Any]) -> AsyncIterator[dict[str, Any]]:
    for model in models:
        yield model.model_dump(mode="json")
