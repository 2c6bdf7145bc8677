import time
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from services.common import audit
from services.common.auth import AdminKey, Principal
from services.common.catalogue import CatalogueDep
from services.common.clock import TodayDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.replica import ReadSessionDep
from services.common.responses import PageDep, csv_representation
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
from services.targets_api.reads import READ_RESPONSES, ReadDep

router = APIRouter(tags=["progress"], responses=problem_responses(401, 403, 404, 422, 503))


@router.get("/v1/places/{code}/progress", response_model=PlaceProgress, responses=READ_RESPONSES)
async def get_place_progress(
    session: ReadSessionDep, _: Principal, read: ReadDep, code: str
) -> Response:
    """Progress of every target of the place's agreed plan, with a count by status.

    With `Accept: text/csv`, one row per target. `If-None-Match` with the `ETag` answers 304
    until a refresh, the plan or the queue of changes moves it.
    """
    state = await service.progress_state(session, catalogue=read.catalogue, code=code)
    return await read.answer(
        generation=state.generation,
        parts=(code, state.plan_id, state.queued),
        model=lambda: service.place_progress(
            session, catalogue=read.catalogue, state=state, today=read.today
        ),
        csv=lambda progress: csv_representation(
            ITEM_CSV_FIELDS, _rows(progress.items), filename=f"progress-{code}.csv"
        ),
    )


@router.get(
    "/v1/places/{code}/progress/{metric_code}",
    response_model=ProgressSeries,
    responses=READ_RESPONSES,
)
async def get_place_series(
    session: ReadSessionDep, _: Principal, read: ReadDep, code: str, metric_code: str
) -> Response:
    """The place's series for one metric with per-point SPC, its icons and the agreed target.

    With `Accept: text/csv`, one row per point. `If-None-Match` with the `ETag` answers 304
    until the series' observations or the place's agreed plan change.
    """
    state = await service.series_state(
        session, catalogue=read.catalogue, code=code, metric_code=metric_code
    )

    # Computed from the observations as they are, not from a refresh: no generation, and the
    # count of versions in the parts changes with them.
    return await read.answer(
        generation=None,
        parts=(code, metric_code, state.plan_id, state.versions),
        model=lambda: service.place_series(
            session, catalogue=read.catalogue, state=state, today=read.today
        ),
        csv=lambda series: csv_representation(
            POINT_CSV_FIELDS, _rows(series.points), filename=f"series-{code}-{metric_code}.csv"
        ),
    )


@router.post("/v1/progress/refresh", response_model=RefreshResult)
async def refresh_progress(
    session: SessionDep, principal: AdminKey, catalogue: CatalogueDep, today: TodayDep
) -> RefreshResult:
    """Recompute all progress from the current observations (admin; `joinedup progress
    refresh`). Change notices from ingest refresh just what changed, without this."""
    started = time.perf_counter()
    done = await refresh_all(session, catalogue=catalogue, today=today)
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


def _rows(models: Iterable[BaseModel]) -> Iterator[dict[str, Any]]:
    return (model.model_dump(mode="json") for model in models)
