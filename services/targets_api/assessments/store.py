"""The SQL of league tables and system performance: reads of the area values and target
progress that the progress refresh materialised."""

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

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
    SELECT p.place_code, t.metric_code, tp.status, tp.variation, tp.assurance
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


async def league_periods(
    session: AsyncSession, *, metric_code: str, level: str, periodicity: str
) -> list[str]:
    """The level's periods of the metric's current form, newest first."""
    params = {"metric": metric_code, "level": level, "periodicity": periodicity}
    return [row.period for row in await session.execute(_PERIODS, params)]


async def table_rows(
    session: AsyncSession, *, metric_code: str, period: str, level: str
) -> Sequence[RowMapping]:
    """The level's area values at the period, best first, and England's."""
    params = {"metric": metric_code, "period": period, "level": level}
    return (await session.execute(_TABLE_ROWS, params)).mappings().all()


async def trend_rows(
    session: AsyncSession, *, metric_code: str, level: str, periodicity: str, first: int, last: int
) -> Sequence[Row[Any]]:
    """The level's area values at the period indexes first..last."""
    params = {
        "metric": metric_code,
        "level": level,
        "periodicity": periodicity,
        "first": first,
        "last": last,
    }
    return (await session.execute(_TREND_ROWS, params)).all()


async def performance_state(
    session: AsyncSession, *, places: list[str], metrics: list[str]
) -> Row[Any]:
    params = {"places": places, "metrics": metrics}
    return (await session.execute(_PERFORMANCE_STATE, params)).one()


async def agreed_targets(session: AsyncSession, places: list[str]) -> Sequence[Row[Any]]:
    """The places' agreed targets with their status and SPC variation and assurance (None
    until refreshed)."""
    return (await session.execute(_AGREED_TARGETS, {"places": places})).all()


async def area_periods(
    session: AsyncSession,
    *,
    area_code: str,
    metrics: list[dict[str, Any]],
    min_coverage: float,
    today: date,
) -> dict[str, Row[Any]]:
    """Per metric (code, periodicity, deadline_days), the period the area is read at."""
    params = {
        "area": area_code,
        "min_coverage": min_coverage,
        "today": today,
        "metrics": json.dumps(metrics),
    }
    return {row.metric_code: row for row in await session.execute(_AREA_PERIODS, params)}


async def place_values(
    session: AsyncSession, *, picks: list[dict[str, str]], places: list[str]
) -> dict[tuple[str, str], Row[Any]]:
    """The places' values at each (metric, period) picked, by (metric, place)."""
    params = {"picks": json.dumps(picks), "places": places}
    return {
        (row.metric_code, row.area_code): row
        for row in await session.execute(_PLACE_VALUES, params)
    }
