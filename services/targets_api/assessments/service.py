"""League tables and system performance: reads of the area values and target progress that the
progress refresh materialised (services/targets_api/progress/refresh.py), joined with the
catalogue for names and the hierarchy."""

import json
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import periods
from services.common.catalogue import AreaRef, Catalogue, MetricDef
from services.common.errors import NotFound, Unprocessable, field_error
from services.targets_api.assessments.schemas import (
    AreaPerformance,
    LeagueRow,
    LeagueTable,
    MetricPerformance,
    PlacePerformance,
    TableLevel,
)
from services.targets_api.lookups import metric_of
from services.targets_api.progress.schemas import StatusCounts

# Periods in another form are left from an earlier version of the metric: they are not on the
# current version's timeline, so "latest" is taken among the current form only.
_LATEST_PERIOD = text("""
    SELECT period FROM area_value
    WHERE metric_code = :metric AND level = :level AND period_periodicity(period) = :periodicity
    ORDER BY period_index(period) DESC LIMIT 1
""")
_TABLE_ROWS = text("""
    SELECT * FROM area_value
    WHERE metric_code = :metric AND period = :period AND level IN (:level, 'nation')
    ORDER BY rank NULLS LAST, area_code
""")

_AGREED_TARGETS = text("""
    SELECT p.place_code, t.metric_code, tp.status
    FROM plan p
    JOIN plan_target t ON t.plan_id = p.id
    LEFT JOIN target_progress tp ON tp.plan_id = t.plan_id AND tp.metric_code = t.metric_code
    WHERE p.status = 'agreed' AND p.place_code = ANY(:places)
""")
# A change to any place's data moves national values and ranks, so any queued change to one of
# the metrics makes the figures out of date, as for a place's progress.
_PENDING = text("""
    SELECT EXISTS (SELECT 1 FROM progress_refresh_queue WHERE metric_code = ANY(:metrics))
""")
# Per metric, the latest period at which the area's roll-up counts every member place, and the
# latest at which it counts any.
_AREA_PERIODS = text("""
    WITH metric AS (
        SELECT * FROM jsonb_to_recordset(CAST(:metrics AS jsonb)) AS m(code text, periodicity text)
    ), own AS (
        SELECT v.metric_code, v.period, v.value, v.places_reported,
               period_index(v.period) AS position
        FROM area_value v
        JOIN metric m ON m.code = v.metric_code AND period_periodicity(v.period) = m.periodicity
        WHERE v.area_code = :area
    )
    SELECT m.code AS metric_code, whole.period, whole.value, latest.period AS latest_period_any
    FROM metric m
    LEFT JOIN LATERAL (
        SELECT period, value FROM own
        WHERE own.metric_code = m.code AND own.places_reported = :members
        ORDER BY position DESC LIMIT 1
    ) whole ON true
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

_ASSESSED = ("on_track", "achieved", "at_risk", "off_track")
_GOOD = ("on_track", "achieved")


async def league_table(session: AsyncSession, *, catalogue: Catalogue, metric_code: str,
                       level: TableLevel, period: str | None) -> LeagueTable:
    """Every area of the level at the period (by default the latest with any), best first."""
    metric = metric_of(catalogue, metric_code)
    periodicity = periods.Periodicity(metric.periodicity)
    if period is None:
        period = await session.scalar(_LATEST_PERIOD, {
            "metric": metric_code, "level": level, "periodicity": periodicity.value})
    else:
        _check_period(period, periodicity)
    found = [] if period is None else (await session.execute(_TABLE_ROWS, {
        "metric": metric_code, "period": period, "level": level})).mappings().all()
    national = next((row["value"] for row in found if row["level"] == "nation"), None)
    return LeagueTable(
        metric_code=metric_code, level=level, period=period, national_value=national,
        rows=[LeagueRow.model_validate(dict(row) | {"area_name": _name(catalogue, row)})
              for row in found if row["level"] == level])


async def area_performance(session: AsyncSession, *, catalogue: Catalogue, code: str
                           ) -> AreaPerformance:
    """Each metric shown (see _metrics_shown) for the system and for each of its member places:
    the catalogue's places whose lineage holds the area."""
    area = _system_of(catalogue, code)
    members = sorted((a for a in catalogue.areas.values()
                      if a.level == "place" and code in catalogue.lineage(a.code)),
                     key=lambda a: a.code)
    places = [m.code for m in members]
    targets = (await session.execute(_AGREED_TARGETS, {"places": places})).all()
    metrics = _metrics_shown(catalogue, {t.metric_code for t in targets})
    codes = [m.code for m in metrics]
    pending = (any(t.status is None for t in targets)
               or bool(await session.scalar(_PENDING, {"metrics": codes})))
    area_periods = {row.metric_code: row for row in await session.execute(_AREA_PERIODS, {
        "area": code, "members": len(members),
        "metrics": json.dumps([{"code": m.code, "periodicity": m.periodicity}
                               for m in metrics])})}
    picks = [{"metric_code": c, "period": row.period} for c, row in area_periods.items()
             if row.period is not None]
    place_values = {(row.metric_code, row.area_code): row for row in await session.execute(
        _PLACE_VALUES, {"picks": json.dumps(picks), "places": places})}
    statuses: dict[str, dict[str, str]] = defaultdict(dict)
    for t in targets:
        if t.status is not None:
            statuses[t.metric_code][t.place_code] = t.status
    overall = Counter(s for by_place in statuses.values() for s in by_place.values())
    assessed = sum(overall[s] for s in _ASSESSED)
    return AreaPerformance(
        area_code=code, area_name=area.name, level=area.level,  # type: ignore[arg-type]
        member_places=len(members),
        on_track_share=sum(overall[s] for s in _GOOD) / assessed if assessed else None,
        refresh_pending=pending,
        metrics=[_metric_performance(c, area_periods[c], members, statuses[c], place_values)
                 for c in codes])


def _metric_performance(metric_code: str, area_row: Any, members: list[AreaRef],
                        statuses: dict[str, str], place_values: dict[tuple[str, str], Any]
                        ) -> MetricPerformance:
    places = []
    for place in members:
        value = place_values.get((metric_code, place.code))
        places.append(PlacePerformance(
            place_code=place.code, place_name=place.name,
            value=value.value if value else None, status=statuses.get(place.code),
            comparison=value.comparison if value else None,
            rank=value.rank if value else None, rank_of=value.rank_of if value else None))
    return MetricPerformance(
        metric_code=metric_code, period=area_row.period, value=area_row.value,
        latest_period_any=area_row.latest_period_any,
        status_counts=StatusCounts(**Counter(statuses.values())), places=places)


def _metrics_shown(catalogue: Catalogue, targeted: set[str]) -> list[MetricDef]:
    """Every active national metric, which every system is held to, and any other metric (local
    or retired) that a member place has an agreed target for; by code."""
    return sorted((m for m in catalogue.metrics.values()
                   if (m.scope == "national" and m.status == "active") or m.code in targeted),
                  key=lambda m: m.code)


def _system_of(catalogue: Catalogue, code: str) -> AreaRef:
    area = catalogue.area(code)
    if area is None:
        raise NotFound(f"No area with code {code}.")
    if area.level == "place":
        raise Unprocessable(
            f"{code} ({area.name}) is a place; performance is for an ICB, region or England: "
            f"use /v1/places/{code}/progress for a place.",
            errors=[field_error(["path", "code"], "must be an ICB, region or England")])
    return area


def _check_period(period: str, periodicity: periods.Periodicity) -> None:
    try:
        periods.parse_as(period, periodicity)
    except periods.PeriodError as error:
        raise Unprocessable(f"period: {error}",
                            errors=[field_error(["query", "period"], str(error))]) from None


def _name(catalogue: Catalogue, row: Any) -> str | None:
    area = catalogue.area(row["area_code"])
    return area.name if area else None
