"""Reading progress: the stored results of the last refresh, and a place's series with its SPC."""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalogue import Catalogue
from services.common.etag import Generation
from services.common.models.targets_api import TargetProgress
from services.targets_api.lookups import metric_of, place_of
from services.targets_api.plans import store as plans
from services.targets_api.progress import generation, store
from services.targets_api.progress.reference import SPC_DIRECTION, indexed
from services.targets_api.progress.schemas import (
    PlaceProgress,
    ProgressItem,
    ProgressSeries,
    SeriesPoint,
    SeriesTarget,
    SetAsidePublic,
    SetAsidesPublic,
    StatusCounts,
)
from services.targets_api.spc.service import spc


@dataclass(frozen=True)
class ProgressState:
    """What a place's progress depends on, besides the catalogue and today: the answer is the
    same while these are (they name it in its ETag)."""

    code: str
    generation: Generation
    plan_id: int | None  # agreed plans are frozen: the id names its targets
    targets: int  # in the agreed plan
    queued: bool  # change notices wait for its metrics


@dataclass(frozen=True)
class SeriesState:
    code: str
    metric_code: str
    plan_id: int | None
    versions: int  # of the series' observations: any change adds one


async def progress_state(
    session: AsyncSession, *, catalogue: Catalogue, code: str
) -> ProgressState:
    place_of(catalogue, code)
    row = await store.progress_state(session, place_code=code)
    return ProgressState(code, generation.of(row), row.plan_id, row.targets, row.queued)


async def place_progress(
    session: AsyncSession, *, catalogue: Catalogue, state: ProgressState, today: date
) -> PlaceProgress:
    """Every target of the place's agreed plan; no plan, no items (and plan_id null)."""
    if state.plan_id is None:
        return PlaceProgress(
            place_code=state.code,
            plan_id=None,
            as_of=None,
            refresh_pending=False,
            summary=StatusCounts(),
            items=[],
        )
    stored = await store.target_progress(session, plan_id=state.plan_id)
    items = [_item(row, catalogue, today) for row in stored]
    return PlaceProgress(
        place_code=state.code,
        plan_id=state.plan_id,
        as_of=min((item.computed_at for item in items), default=None),
        # A plan agreed a moment ago has targets the refresher has not reached yet: say so.
        refresh_pending=len(items) < state.targets or state.queued,
        summary=StatusCounts(**Counter[str](item.status for item in items)),
        items=items,
    )


def _item(row: TargetProgress, catalogue: Catalogue, today: date) -> ProgressItem:
    """The stored progress with the metric's name, unit and decimals, so that a reader can show
    it without a second request, and whether its latest period is still open."""
    metric = metric_of(catalogue, row.metric_code)
    return ProgressItem.model_validate(
        {
            **row.model_dump(),
            "metric_name": metric.name,
            "unit": metric.unit,
            "decimals": metric.decimals,
            "provisional": metric.provisional(row.latest_period, today)
            if row.latest_period
            else None,
        }
    )


async def series_state(
    session: AsyncSession, *, catalogue: Catalogue, code: str, metric_code: str
) -> SeriesState:
    place_of(catalogue, code)
    metric_of(catalogue, metric_code)
    row = await store.series_state(session, place_code=code, metric_code=metric_code)
    return SeriesState(code, metric_code, row.plan_id, row.versions)


async def place_series(
    session: AsyncSession, *, catalogue: Catalogue, state: SeriesState, today: date
) -> ProgressSeries:
    """The place's current values of the metric with their SPC, computed from the observations
    as they are now, and the agreed plan's target for the metric if it has one."""
    code, metric_code = state.code, state.metric_code
    metric = metric_of(catalogue, metric_code)
    points = indexed(
        metric, await store.current_values(session, place_code=code, metric_code=metric_code)
    )
    target = (
        None
        if state.plan_id is None
        else await plans.plan_target(session, state.plan_id, metric_code)
    )
    direction = SPC_DIRECTION[metric.direction]
    values = [v for _, _, v in points]
    warnings = []
    try:
        chart = (
            spc(
                values,
                improvement_direction=direction,
                target=target.target_value if target else None,
            )
            if points
            else None
        )
        warnings += chart.warnings if chart else []
    except (ValueError, ArithmeticError) as error:
        # Stored before the bounds at the door (docs/api.md, "Numbers"): the values are shown,
        # and the chart says why it cannot be drawn rather than failing the request.
        chart = None
        warnings.append(f"No SPC for this series: {error}")
    return ProgressSeries(
        place_code=code,
        metric_code=metric_code,
        improvement_direction=direction,
        points=[
            SeriesPoint(
                index=i,
                period=period,
                value=value,
                provisional=metric.provisional(period, today),
                mean=p.mean if p else None,
                lpl=p.lpl if p else None,
                upl=p.upl if p else None,
                point_type=p.point_type if p else None,
            )
            for i, ((_, period, value), p) in enumerate(
                zip(points, chart.points if chart else [None] * len(points), strict=True)
            )
        ],
        variation=chart.variation if chart else None,
        assurance=chart.assurance if chart else None,
        warnings=warnings,
        target=None
        if target is None
        else SeriesTarget(
            plan_id=target.plan_id,
            baseline_period=target.baseline_period,
            baseline_value=target.baseline_value,
            target_period=target.target_period,
            target_value=target.target_value,
        ),
    )


async def set_aside(session: AsyncSession, *, limit: int, offset: int) -> SetAsidesPublic:
    """What the refresh could not compute, oldest first."""
    rows, count = await store.set_aside_page(session, limit=limit, offset=offset)
    return SetAsidesPublic(data=[SetAsidePublic(**row) for row in rows], count=count)
