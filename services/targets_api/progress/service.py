"""Reading progress: the stored results of the last refresh, and a place's series with its SPC."""

from collections import Counter
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.catalogue import Catalogue
from services.common.models.targets_api import Plan, PlanTarget, TargetProgress
from services.targets_api.lookups import metric_of, place_of
from services.targets_api.progress import store
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

_PENDING = text("""
    SELECT EXISTS (SELECT 1 FROM progress_refresh_queue WHERE metric_code = ANY(:metrics))
""")
_SERIES = text("""
    SELECT period, value FROM observation
    WHERE place_code = :place AND metric_code = :metric AND superseded_at IS NULL
""")


async def _agreed_plan(session: AsyncSession, place_code: str) -> Plan | None:
    return (
        await session.execute(
            select(Plan).where(col(Plan.place_code) == place_code, col(Plan.status) == "agreed")
        )
    ).scalar()


async def place_progress(
    session: AsyncSession, *, catalogue: Catalogue, code: str, today: date
) -> PlaceProgress:
    """Every target of the place's agreed plan; no plan, no items (and plan_id null)."""
    place_of(catalogue, code)
    plan = await _agreed_plan(session, code)
    if plan is None:
        return PlaceProgress(
            place_code=code,
            plan_id=None,
            as_of=None,
            refresh_pending=False,
            summary=StatusCounts(),
            items=[],
        )
    stored = (
        await session.execute(
            select(TargetProgress)
            .where(col(TargetProgress.plan_id) == plan.id)
            .order_by(col(TargetProgress.metric_code))
        )
    ).scalars()
    items = [_item(row, catalogue, today) for row in stored]
    metrics = list(
        (
            await session.execute(
                select(col(PlanTarget.metric_code)).where(col(PlanTarget.plan_id) == plan.id)
            )
        ).scalars()
    )
    # A plan agreed a moment ago has targets the refresher has not reached yet: say so.
    pending = len(items) < len(metrics) or bool(
        await session.scalar(_PENDING, {"metrics": metrics})
    )
    return PlaceProgress(
        place_code=code,
        plan_id=plan.id,
        as_of=min((item.computed_at for item in items), default=None),
        refresh_pending=pending,
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


async def place_series(
    session: AsyncSession, *, catalogue: Catalogue, code: str, metric_code: str, today: date
) -> ProgressSeries:
    """The place's current values of the metric with their SPC, computed from the observations
    as they are now, and the agreed plan's target for the metric if it has one."""
    place_of(catalogue, code)
    metric = metric_of(catalogue, metric_code)
    points = indexed(
        metric, (await session.execute(_SERIES, {"place": code, "metric": metric_code})).all()
    )
    plan = await _agreed_plan(session, code)
    target = None if plan is None else await session.get(PlanTarget, (plan.id, metric_code))
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
