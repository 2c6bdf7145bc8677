"""League tables and system performance: reads of the area values and target progress that the
progress refresh materialised (services/targets_api/progress/refresh.py), joined with the
catalogue for names and the hierarchy."""

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import periods
from services.common.catalogue import AreaRef, Catalogue, MetricDef
from services.common.errors import NotFound, Unprocessable, field_error
from services.common.etag import Generation
from services.common.vocabulary import Status
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

# Periods in another form are left from an earlier version of the metric: they are not on the
# current version's timeline, so "latest" is taken among the current form only.
_PERIODS = text("""
    SELECT DISTINCT period, period_index(period) AS position FROM area_value
    WHERE metric_code = :metric AND level = :level AND period_periodicity(period) = :periodicity
    ORDER BY position DESC
""")
_TABLE_ROWS = text("""
    SELECT * FROM area_value
    WHERE metric_code = :metric AND period = :period AND level IN (:level, 'nation')
    ORDER BY rank NULLS LAST, area_code
""")
# The level's rows for the periods that make each row's recent trend.
_TREND_ROWS = text("""
    SELECT area_code, period_index(period) AS position, value, numerator, denominator,
           ci_lower, ci_upper
    FROM area_value
    WHERE metric_code = :metric AND level = :level AND period_periodicity(period) = :periodicity
      AND period_index(period) BETWEEN :first AND :last
""")

_AGREED_TARGETS = text("""
    SELECT p.place_code, t.metric_code, tp.status
    FROM plan p
    JOIN plan_target t ON t.plan_id = p.id
    LEFT JOIN target_progress tp ON tp.plan_id = t.plan_id AND tp.metric_code = t.metric_code
    WHERE p.status = 'agreed' AND p.place_code = ANY(:places)
""")
# Per metric, the period the area's performance is read at (API.md amendments, "Replaced:
# performance"): the latest closed period whose coverage reaches the minimum, else the latest
# closed one with any data, else the latest open one; and the latest period with any data.
# Closed: the day after the period's end plus the metric's deadline days has come.
_AREA_PERIODS = text("""
    WITH metric AS (
        SELECT * FROM jsonb_to_recordset(CAST(:metrics AS jsonb))
            AS m(code text, periodicity text, deadline_days int)
    ), own AS (
        SELECT v.metric_code, v.period, v.value, v.places_reported, v.places_expected,
               period_index(v.period) AS position,
               period_end(v.period) + m.deadline_days < CAST(:today AS date) AS closed,
               v.places_reported >= :min_coverage * coalesce(v.places_expected,
                                                             v.places_reported) AS covered
        FROM area_value v
        JOIN metric m ON m.code = v.metric_code AND period_periodicity(v.period) = m.periodicity
        WHERE v.area_code = :area
    )
    SELECT m.code AS metric_code, chosen.period, chosen.value, chosen.places_reported,
           chosen.closed, latest.period AS latest_period
    FROM metric m
    LEFT JOIN LATERAL (
        SELECT period, value, places_reported, closed FROM own
        WHERE own.metric_code = m.code
        ORDER BY closed AND covered DESC, closed DESC, position DESC LIMIT 1
    ) chosen ON true
    LEFT JOIN LATERAL (
        SELECT period FROM own WHERE own.metric_code = m.code ORDER BY position DESC LIMIT 1
    ) latest ON true
""")
_PLACE_VALUES = text("""
    SELECT v.metric_code, v.area_code, v.value, v.comparison, v.rank, v.rank_of
    FROM area_value v
    JOIN jsonb_to_recordset(CAST(:picks AS jsonb)) AS p(metric_code text, period text)
      ON v.metric_code = p.metric_code AND v.period = p.period
    WHERE v.level = 'place' AND v.area_code = ANY(:places)
""")

_GENERATION = text("SELECT generation, refreshed_at FROM progress_generation")
# What a system's performance depends on besides the materialised figures, the catalogue and
# today: its member places' agreed plans (frozen, so their ids name their targets), and whether
# notices are queued for the metrics shown (the active ones applying to a member, and those a
# member has an agreed target for).
_PERFORMANCE_STATE = text("""
    WITH agreed AS (
        SELECT id FROM plan WHERE status = 'agreed' AND place_code = ANY(:places)
    )
    SELECT g.generation, g.refreshed_at,
           (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM agreed) AS plans,
           EXISTS (SELECT 1 FROM progress_refresh_queue q
                   WHERE q.metric_code = ANY(:metrics)
                      OR q.metric_code IN (SELECT t.metric_code FROM plan_target t
                                           JOIN agreed a ON a.id = t.plan_id)) AS queued
    FROM progress_generation g
""")

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
    return generation.of((await session.execute(_GENERATION)).one())


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
            [
                row.period
                for row in await session.execute(
                    _PERIODS,
                    {"metric": metric_code, "level": level, "periodicity": metric.periodicity},
                )
            ],
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
    found = (
        (
            await session.execute(
                _TABLE_ROWS, {"metric": metric_code, "period": period, "level": level}
            )
        )
        .mappings()
        .all()
    )
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
    for row in await session.execute(
        _TREND_ROWS,
        {
            "metric": metric.code,
            "level": level,
            "periodicity": metric.periodicity,
            "first": last - POINTS_USED + 1,
            "last": last,
        },
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
    row = (
        await session.execute(
            _PERFORMANCE_STATE,
            {
                "places": [m.code for m in members],
                "metrics": [m.code for m in _metrics_shown(catalogue, members, set())],
            },
        )
    ).one()
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
    targets = (await session.execute(_AGREED_TARGETS, {"places": places})).all()
    metrics = _metrics_shown(catalogue, members, {t.metric_code for t in targets})
    # A target agreed since the last refresh has no progress yet.
    pending = state.queued or any(t.status is None for t in targets)
    area_periods = {
        row.metric_code: row
        for row in await session.execute(
            _AREA_PERIODS,
            {
                "area": code,
                "min_coverage": min_coverage,
                "today": today,
                "metrics": json.dumps(
                    [
                        {
                            "code": m.code,
                            "periodicity": m.periodicity,
                            "deadline_days": m.submission_deadline_days,
                        }
                        for m in metrics
                    ]
                ),
            },
        )
    }
    picks = [
        {"metric_code": c, "period": row.period}
        for c, row in area_periods.items()
        if row.period is not None
    ]
    place_values = {
        (row.metric_code, row.area_code): row
        for row in await session.execute(
            _PLACE_VALUES, {"picks": json.dumps(picks), "places": places}
        )
    }
    statuses: dict[str, dict[str, Status]] = defaultdict(dict)
    for t in targets:
        if t.status is not None:
            statuses[t.metric_code][t.place_code] = t.status
    overall = Counter(s for by_place in statuses.values() for s in by_place.values())
    assessed = sum(overall[s] for s in _ASSESSED)
    return AreaPerformance(
        area_code=code,
        area_name=area.name,
        level=area.level,  # type: ignore[arg-type]
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
    place_values: dict[tuple[str, str], Any],
    *,
    min_coverage: float,
) -> MetricPerformance:
    """``members``: the member places the metric applies to."""
    places = []
    for place in members:
        value = place_values.get((metric.code, place.code))
        places.append(
            PlacePerformance(
                place_code=place.code,
                place_name=place.name,
                value=value.value if value else None,
                status=statuses.get(place.code),
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
