"""What a refresh set aside: recorded when an item fails on its data, cleared when it succeeds;
and the reads of a place's progress and series."""

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Row, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.models.targets_api import TargetProgress

log = logging.getLogger(__name__)

# `failures` counts the refreshes that failed on the item in a row, so 1 is news (logged) and
# more is the same failure met again (not logged again).
_RECORD = text("""
    INSERT INTO progress_set_aside AS s (kind, metric_code, period, plan_id, place_code, reason)
    SELECT r.kind, r.metric_code, coalesce(r.period, ''), coalesce(r.plan_id, 0), r.place_code,
           r.reason
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        kind text, metric_code text, period text, plan_id int, place_code text, reason text)
    ON CONFLICT (kind, metric_code, period, plan_id) DO UPDATE
        SET reason = excluded.reason, failures = s.failures + 1, last_failed_at = now()
    RETURNING s.kind, s.metric_code, s.period, s.plan_id, s.place_code, s.reason, s.failures
""")
# The (metric, period) pairs that were computed this time are no longer set aside.
_CLEAR_AREA_VALUES = text("""
    DELETE FROM progress_set_aside s
    USING jsonb_to_recordset(CAST(:pairs AS jsonb)) AS p(metric_code text, period text)
    WHERE s.kind = 'area_value' AND s.metric_code = p.metric_code AND s.period = p.period
""")
# Of the (place, metric) series recomputed (all when :all), every target that did not fail this
# time: computed, or no longer in an agreed plan.
_CLEAR_TARGETS = text("""
    DELETE FROM progress_set_aside s
    WHERE s.kind = 'target'
      AND (CAST(:all AS boolean) OR (s.place_code, s.metric_code) IN (
          SELECT * FROM unnest(CAST(:places AS text[]), CAST(:metrics AS text[]))))
      AND (s.plan_id, s.metric_code) NOT IN (
          SELECT * FROM unnest(CAST(:failed_plans AS int[]), CAST(:failed_metrics AS text[])))
""")
_LIST = text("""
    SELECT kind, metric_code, nullif(period, '') AS period, nullif(plan_id, 0) AS plan_id,
           place_code, reason, failures, first_failed_at, last_failed_at
    FROM progress_set_aside
    ORDER BY first_failed_at, kind, metric_code, period, plan_id
    LIMIT :limit OFFSET :offset
""")
_COUNT_BY_KIND = text("SELECT kind, count(*) FROM progress_set_aside GROUP BY kind")

KINDS = ("area_value", "target")


async def record_set_aside(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Record each failed item with its reason; log the ones that were not set aside before."""
    if not rows:
        return
    for row in (await session.execute(_RECORD, {"rows": json.dumps(list(rows))})).mappings():
        if row["failures"] == 1:
            what = (
                f"{row['metric_code']} {row['period']}"
                if row["kind"] == "area_value"
                else f"plan {row['plan_id']} {row['metric_code']} ({row['place_code']})"
            )
            log.warning(
                "progress refresh set aside %s %s: %s; the rest was refreshed, and it "
                "is tried again when its data or target change",
                row["kind"],
                what,
                row["reason"],
            )


async def clear_area_values(session: AsyncSession, pairs: Iterable[tuple[str, str]]) -> None:
    await session.execute(
        _CLEAR_AREA_VALUES,
        {
            "pairs": json.dumps(
                [{"metric_code": metric, "period": period} for metric, period in pairs]
            )
        },
    )


async def clear_targets(
    session: AsyncSession, *, scope: dict[str, Any], failed: Iterable[tuple[int, str]]
) -> None:
    """``scope``: ``all``, ``places`` and ``metrics`` as the refresh's target queries take them."""
    failed = sorted(failed)
    await session.execute(
        _CLEAR_TARGETS,
        {
            **scope,
            "failed_plans": [plan for plan, _ in failed],
            "failed_metrics": [metric for _, metric in failed],
        },
    )


async def set_aside_page(
    session: AsyncSession, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    rows = [
        dict(row)
        for row in (await session.execute(_LIST, {"limit": limit, "offset": offset})).mappings()
    ]
    return rows, sum((await set_aside_counts(session)).values())


async def set_aside_counts(session: AsyncSession) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    counts.update({kind: n for kind, n in await session.execute(_COUNT_BY_KIND)})
    return counts


# Reads. What a place's progress depends on besides the stored figures, in one query: which
# refresh made them, the agreed plan (frozen, so its id names its targets), how many targets it
# has, and whether notices are queued for its metrics (from any place: a change anywhere moves
# England's value and the ranks).
_PROGRESS_STATE = text("""
    SELECT g.generation, g.refreshed_at, p.id AS plan_id,
           (SELECT count(*) FROM plan_target t WHERE t.plan_id = p.id) AS targets,
           EXISTS (SELECT 1 FROM progress_refresh_queue q
                   WHERE q.metric_code IN (SELECT t.metric_code FROM plan_target t
                                           WHERE t.plan_id = p.id)) AS queued
    FROM progress_generation g
    LEFT JOIN plan p ON p.place_code = :place AND p.status = 'agreed'
""")
# What a place's series depends on besides the catalogue: its agreed plan (for the target), and
# how many versions its observations have. Versions are only ever added (a correction is a new
# one), so the count moves with every change; it is counted on the primary key's prefix.
_SERIES_STATE = text("""
    SELECT (SELECT id FROM plan WHERE place_code = :place AND status = 'agreed') AS plan_id,
           (SELECT count(*) FROM observation
            WHERE place_code = :place AND metric_code = :metric) AS versions
""")
_SERIES = text("""
    SELECT period, value FROM observation
    WHERE place_code = :place AND metric_code = :metric AND superseded_at IS NULL
""")


async def progress_state(session: AsyncSession, *, place_code: str) -> Row[Any]:
    """``generation``, ``refreshed_at``, ``plan_id`` (None without an agreed plan), ``targets``
    and ``queued``."""
    return (await session.execute(_PROGRESS_STATE, {"place": place_code})).one()


async def target_progress(session: AsyncSession, *, plan_id: int) -> list[TargetProgress]:
    """The stored progress of the plan's targets, by metric code."""
    query = (
        select(TargetProgress)
        .where(col(TargetProgress.plan_id) == plan_id)
        .order_by(col(TargetProgress.metric_code))
    )
    return list((await session.execute(query)).scalars())


async def series_state(session: AsyncSession, *, place_code: str, metric_code: str) -> Row[Any]:
    """``plan_id`` (None without an agreed plan) and ``versions``."""
    return (
        await session.execute(_SERIES_STATE, {"place": place_code, "metric": metric_code})
    ).one()


async def current_values(
    session: AsyncSession, *, place_code: str, metric_code: str
) -> list[tuple[str, float]]:
    """The place's current (period, value) of the metric, in no particular order."""
    found = await session.execute(_SERIES, {"place": place_code, "metric": metric_code})
    return [(period, value) for period, value in found]
