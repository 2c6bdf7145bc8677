"""League tables and system performance: reads of the area values and target progress that the
progress refresh materialised (services/targets_api/progress/refresh.py), joined with the
catalogue for names and the hierarchy."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import periods
from services.common.catalogue import AreaRef, Catalogue, MetricDef
from services.common.errors import NotFound, Unprocessable, field_error
from services.common.etag import Generation
from services.common.vocabulary import Status
from services.targets_api.assessments import store
from services.targets_api.assessments.schemas import (
    AreaPerformance,
    LeagueRow,
    LeagueTable,
    MetricPerformance,
    PlacePerformance,
    TableLevel,
)
from services.targets_api.lookups import metric_of
from services.targets_api.progress import generation
from services.targets_api.progress.schemas import StatusCounts
from services.targets_api.progress.trend import POINTS_USED, Trend, TrendPoint, recent_trend

_ASSESSED: tuple[Status, ...] = ("on_track", "achieved", "at_risk", "off_track")
_GOOD: tuple[Status, ...] = ("on_track", "achieved")


async def league_state(
    session: AsyncSession, *, catalogue: Catalogue, metric_code: str, period: str | None
) -> Generation:
    """What a league table depends on besides the catalogue, today and its parameters: the
    refresh that made its figures. Checks the metric and the period first."""
    metric = metric_of(catalogue, metric_code)
    if period is not None:
        _check_period(period, periods.Periodicity(metric.periodicity))
    return await generation.current(session)


async def league_table(
    session: AsyncSession,
    *,
    catalogue: Catalogue,
    metric_code: str,
    level: TableLevel,
    period: str | None,
    today: date,
) -> LeagueTable:
    """Every area of the level at the period, best first; by default the latest closed period
    with any value at the level (an open one only when none is closed). Incomplete roll-ups are
    shown but not ranked (the refresh leaves them without a rank). ``league_state`` has checked
    the metric and the period."""
    metric = metric_of(catalogue, metric_code)
    if period is None:
        period = _default_period(
            await store.league_periods(
                session, metric_code=metric_code, level=level, periodicity=metric.periodicity
            ),
            metric,
            today,
        )
    if period is None:
        return LeagueTable(
            metric_code=metric_code,
            level=level,
            period=None,
            provisional=None,
            national_value=None,
            national_coverage=None,
            data=[],
            count=0,
        )
    found = await store.table_rows(session, metric_code=metric_code, period=period, level=level)
    national = next((row for row in found if row["level"] == "nation"), None)
    trends = await _trends(session, metric, level, period)
    rows = [
        LeagueRow.model_validate(
            dict(row)
            | {
                "area_name": _name(catalogue, row),
                **_coverage(row),
                "trend": trends.get(row["area_code"]),
            }
        )
        for row in found
        if row["level"] == level
    ]
    return LeagueTable(
        metric_code=metric_code,
        level=level,
        period=period,
        provisional=metric.provisional(period, today),
        national_value=national["value"] if national else None,
        national_coverage=_coverage(national)["coverage"] if national else None,
        data=rows,
        count=len(rows),
    )


def _default_period(found: list[str], metric: MetricDef, today: date) -> str | None:
    """``found`` newest first: the first closed one, else the newest."""
    return next((p for p in found if not metric.provisional(p, today)), found[0] if found else None)


def _coverage(row: Any) -> dict[str, Any]:
    # Rows from before coverage was stored count as complete until the next refresh.
    expected = row["places_expected"] or row["places_reported"]
    return {
        "places_expected": expected,
        "coverage": row["places_reported"] / expected,
        "complete": row["places_reported"] >= expected,
    }


async def _trends(
    session: AsyncSession, metric: MetricDef, level: TableLevel, period: str
) -> dict[str, Trend | None]:
    """Each area's recent-trend marker over the five periods up to ``period``."""
    if metric.kind not in ("proportion", "rate"):
        return {}
    last = periods.index(periods.parse(period))
    points: dict[str, list[TrendPoint]] = defaultdict(list)
    for row in await store.trend_rows(
        session,
        metric_code=metric.code,
        level=level,
        periodicity=metric.periodicity,
        first=last - POINTS_USED + 1,
        last=last,
    ):
        points[row.area_code].append(
            TrendPoint(
                index=row.position,
                numerator=row.numerator,
                denominator=row.denominator,
                value=row.value,
                lower=row.ci_lower,
                upper=row.ci_upper,
            )
        )
    if level != "place" and metric.aggregation == "population_weighted_mean":
        # A weighted mean of places' ratios is not a count to test (and has no interval).
        return dict.fromkeys(points, "cannot_be_calculated")
    return {
        area: recent_trend(series, kind=metric.kind, multiplier=metric.multiplier or 1)
        for area, series in points.items()
    }


# The share of member places that must have reported for a closed period to be chosen.
DEFAULT_MIN_COVERAGE = 0.9


@dataclass(frozen=True)
class PerformanceState:
    """What a system's performance depends on besides the catalogue, today and min_coverage."""

    code: str
    generation: Generation
    plans: tuple[int, ...]  # the member places' agreed plans
    queued: bool  # change notices wait for a metric shown


async def performance_state(
    session: AsyncSession, *, catalogue: Catalogue, code: str
) -> PerformanceState:
    _system_of(catalogue, code)
    members = [catalogue.areas[p] for p in catalogue.places_in(code)]
    row = await store.performance_state(
        session,
        places=[m.code for m in members],
        metrics=[m.code for m in _metrics_shown(catalogue, members, set())],
    )
    return PerformanceState(code, generation.of(row), tuple(row.plans), row.queued)


async def area_performance(
    session: AsyncSession,
    *,
    catalogue: Catalogue,
    state: PerformanceState,
    min_coverage: float,
    today: date,
) -> AreaPerformance:
    """Each metric shown (see _metrics_shown) for the system and for each member place it
    applies to: the catalogue's places whose lineage holds the area."""
    code = state.code
    area = _system_of(catalogue, code)
    members = [catalogue.areas[p] for p in catalogue.places_in(code)]
    places = [m.code for m in members]
    targets = await store.agreed_targets(session, places)
    metrics = _metrics_shown(catalogue, members, {t.metric_code for t in targets})
    # A target agreed since the last refresh has no progress yet.
    pending = state.queued or any(t.status is None for t in targets)
    area_periods = await store.area_periods(
        session,
        area_code=code,
        metrics=[
            {
                "code": m.code,
                "periodicity": m.periodicity,
                "deadline_days": m.submission_deadline_days,
            }
            for m in metrics
        ],
        min_coverage=min_coverage,
        today=today,
    )
    picks = [
        {"metric_code": c, "period": row.period}
        for c, row in area_periods.items()
        if row.period is not None
    ]
    place_values = await store.place_values(session, picks=picks, places=places)
    statuses: dict[str, dict[str, Status]] = defaultdict(dict)
    signals: dict[str, dict[str, Any]] = defaultdict(dict)  # metric -> place -> its target row
    for t in targets:
        if t.status is not None:
            statuses[t.metric_code][t.place_code] = t.status
            signals[t.metric_code][t.place_code] = t
    overall = Counter(s for by_place in statuses.values() for s in by_place.values())
    assessed = sum(overall[s] for s in _ASSESSED)
    return AreaPerformance(
        area_code=code,
        area_name=area.name,
        level=area.level,  # type: ignore[arg-type]  # _system_of refused a place
        member_places=len(members),
        min_coverage=min_coverage,
        on_track_share=sum(overall[s] for s in _GOOD) / assessed if assessed else None,
        refresh_pending=pending,
        metrics=[
            _metric_performance(
                metric,
                area_periods[metric.code],
                [m for m in members if catalogue.applies(metric, m.code)],
                statuses[metric.code],
                signals[metric.code],
                place_values,
                min_coverage=min_coverage,
            )
            for metric in metrics
        ],
    )


def _metric_performance(
    metric: MetricDef,
    area_row: Any,
    members: list[AreaRef],
    statuses: dict[str, Status],
    signals: dict[str, Any],
    place_values: dict[tuple[str, str], Any],
    *,
    min_coverage: float,
) -> MetricPerformance:
    """``members``: the member places the metric applies to; ``signals``: their refreshed
    targets, by place."""
    places = []
    for place in members:
        value = place_values.get((metric.code, place.code))
        signal = signals.get(place.code)
        places.append(
            PlacePerformance(
                place_code=place.code,
                place_name=place.name,
                value=value.value if value else None,
                status=statuses.get(place.code),
                variation=signal.variation if signal else None,
                assurance=signal.assurance if signal else None,
                comparison=value.comparison if value else None,
                rank=value.rank if value else None,
                rank_of=value.rank_of if value else None,
            )
        )
    reported = [p for p in places if p.value is not None]
    coverage = len(reported) / len(members) if area_row.period is not None else None
    return MetricPerformance(
        metric_code=metric.code,
        period=area_row.period,
        value=area_row.value,
        places_expected=len(members),
        places_reported=len(reported),
        coverage=coverage,
        missing_places=[p.place_code for p in places if p.value is None]
        if area_row.period is not None
        else [],
        below_min_coverage=coverage is not None and coverage < min_coverage,
        provisional=None if area_row.period is None else not area_row.closed,
        latest_period=area_row.latest_period,
        latest_period_any=area_row.latest_period,
        status_counts=StatusCounts(
            **Counter[str](statuses[p.code] for p in members if p.code in statuses)
        ),
        places=places,
    )


def _metrics_shown(
    catalogue: Catalogue, members: list[AreaRef], targeted: set[str]
) -> list[MetricDef]:
    """Every active metric that applies to at least one member place, and any other (retired)
    that a member place has an agreed target for; by code."""
    return sorted(
        (
            m
            for m in catalogue.metrics.values()
            if (m.status == "active" and any(catalogue.applies(m, p.code) for p in members))
            or m.code in targeted
        ),
        key=lambda m: m.code,
    )


def _system_of(catalogue: Catalogue, code: str) -> AreaRef:
    area = catalogue.area(code)
    if area is None:
        raise NotFound(f"No area with code {code}.")
    if area.level == "place":
        raise Unprocessable(
            f"{code} ({area.name}) is a place; performance is for an ICB, region or England: "
            f"use /v1/places/{code}/progress for a place.",
            errors=[field_error(["path", "code"], "must be an ICB, region or England")],
        )
    return area


def _check_period(period: str, periodicity: periods.Periodicity) -> None:
    try:
        periods.parse_as(period, periodicity)
    except periods.PeriodError as error:
        raise Unprocessable(
            f"period: {error}", errors=[field_error(["query", "period"], str(error))]
        ) from None


def _name(catalogue: Catalogue, row: Any) -> str | None:
    area = catalogue.area(row["area_code"])
    return area.name if area else None
