"""The refresh's SQL: the queue, the observations the area values are computed from and the
area values written back, the agreed targets and their series, the progress rows and
benchmarks; and what a refresh set aside (recorded when an item fails on its data, cleared when
it succeeds)."""

import json
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, cast

import numpy as np
import psycopg
from sqlalchemy import RowMapping, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import binary_copy
from services.targets_api.progress import areas, intervals

log = logging.getLogger(__name__)

LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('joinedup.progress.refresh', 0))")

# The current observations of the pairs, numbered as the engine numbers pairs and places (from
# 0), as one bytea of fixed-width big-endian records (NULLs as a flag beside a 0): a few
# megabytes in one value, rather than a Python object per row and field. Each record is built
# whole, so its fields cannot come apart. Every (place, pair) is named, so that a few pairs (one
# place's new month) are found through observation_current rather than by a scan.
_OBSERVATIONS = text("""
    SELECT string_agg(
        int4send((p.i - 1)::int4) || int4send((a.i - 1)::int4) || float8send(o.value)
        || float8send(coalesce(o.numerator, 0)) || boolsend(o.numerator IS NOT NULL)
        || float8send(coalesce(o.denominator, 0)) || boolsend(o.denominator IS NOT NULL),
        ''::bytea)
    FROM unnest(CAST(:metrics AS text[]), CAST(:periods AS text[])) WITH ORDINALITY
        AS p(metric_code, period, i)
    CROSS JOIN unnest(CAST(:places AS text[])) WITH ORDINALITY AS a(code, i)
    JOIN observation o ON o.place_code = a.code AND o.metric_code = p.metric_code
                      AND o.period = p.period AND o.superseded_at IS NULL
""")
_OBSERVATION_RECORD = np.dtype(
    [
        ("pair", ">i4"),
        ("place", ">i4"),
        ("value", ">f8"),
        ("numerator", ">f8"),
        ("numerator_known", "?"),
        ("denominator", ">f8"),
        ("denominator_known", "?"),
    ]
)
_COPY_AREA_VALUES = """
    COPY area_value (metric_code, period, area_code, level, value, numerator, denominator,
                     places_reported, places_expected, ci_lower, ci_upper, comparison,
                     rank, rank_of, quintile)
    FROM STDIN (FORMAT BINARY)
"""

# refresh_all: the pairs that have no current observations any more (or whose metric left the
# catalogue) lose their values; every other pair's are replaced as it is computed.
_DELETE_OTHER_AREA_VALUES = text("""
    DELETE FROM area_value v
    WHERE (v.metric_code, v.period) NOT IN (
        SELECT * FROM jsonb_to_recordset(CAST(:pairs AS jsonb)) AS p(metric_code text, period text))
""")
_DELETE_AREA_VALUES = text("""
    DELETE FROM area_value v
    USING jsonb_to_recordset(CAST(:pairs AS jsonb)) AS p(metric_code text, period text)
    WHERE v.metric_code = p.metric_code AND v.period = p.period
""")
# Agreed targets of the (place, metric) pairs given, or of all when none are.
_AGREED_TARGETS = text("""
    SELECT t.plan_id, p.place_code, t.metric_code, t.baseline_period, t.baseline_value,
           t.target_period, t.target_value, t.trajectory, t.tolerance
    FROM plan_target t JOIN plan p ON p.id = t.plan_id
    WHERE p.status = 'agreed' AND (CAST(:all AS boolean) OR (p.place_code, t.metric_code) IN (
        SELECT * FROM unnest(CAST(:places AS text[]), CAST(:metrics AS text[]))))
""")
_SERIES = text("""
    SELECT o.place_code, o.metric_code, o.period, o.value, o.numerator, o.denominator
    FROM observation o
    JOIN unnest(CAST(:places AS text[]), CAST(:metrics AS text[])) AS s(place_code, metric_code)
      ON o.place_code = s.place_code AND o.metric_code = s.metric_code
    WHERE o.superseded_at IS NULL
""")
# Of the series recomputed (all when :all), the rows of targets no longer in force (their plan
# was superseded, or their metric left the catalogue) go; the others are replaced as computed.
_DELETE_OTHER_PROGRESS = text("""
    DELETE FROM target_progress
    WHERE (CAST(:all AS boolean) OR (place_code, metric_code) IN (
              SELECT * FROM unnest(CAST(:places AS text[]), CAST(:metrics AS text[]))))
      AND (plan_id, metric_code) NOT IN (
          SELECT * FROM unnest(CAST(:plan_ids AS int[]), CAST(:target_metrics AS text[])))
""")
_UPSERT_PROGRESS = text("""
    INSERT INTO target_progress AS tp (plan_id, metric_code, place_code, latest_period,
        latest_value, baseline_period, baseline_value, target_period, target_value,
        expected_value, progress_pct, status, consecutive_off_track, variation, assurance,
        forecast_value, trend, comparison)
    SELECT *, 'not_compared' FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        plan_id int, metric_code text, place_code text, latest_period text, latest_value float8,
        baseline_period text, baseline_value float8, target_period text, target_value float8,
        expected_value float8, progress_pct float8, status text, consecutive_off_track int,
        variation text, assurance text, forecast_value float8, trend text)
    ON CONFLICT (plan_id, metric_code) DO UPDATE SET
        latest_period = excluded.latest_period, latest_value = excluded.latest_value,
        baseline_period = excluded.baseline_period, baseline_value = excluded.baseline_value,
        target_period = excluded.target_period, target_value = excluded.target_value,
        expected_value = excluded.expected_value, progress_pct = excluded.progress_pct,
        status = excluded.status, consecutive_off_track = excluded.consecutive_off_track,
        variation = excluded.variation, assurance = excluded.assurance,
        forecast_value = excluded.forecast_value, trend = excluded.trend, computed_at = now()
""")
# A new value anywhere moves England and every place's rank at that period: every target whose
# latest period is one of them takes its benchmarks afresh from the area values.
_BENCHMARKS = text("""
    UPDATE target_progress tp
    SET national_value = b.national_value, comparison = b.comparison, rank = b.rank,
        rank_of = b.rank_of
    FROM (
        SELECT tp.plan_id, tp.metric_code, n.value AS national_value,
               coalesce(v.comparison, 'not_compared') AS comparison, v.rank, v.rank_of
        FROM target_progress tp
        LEFT JOIN area_value v ON v.metric_code = tp.metric_code AND v.period = tp.latest_period
                              AND v.area_code = tp.place_code
        LEFT JOIN area_value n ON n.metric_code = tp.metric_code AND n.period = tp.latest_period
                              AND n.level = 'nation'
        WHERE CAST(:all AS boolean)
           OR (tp.metric_code, tp.latest_period) IN (
               SELECT * FROM unnest(CAST(:pair_metrics AS text[]), CAST(:periods AS text[])))
           OR (tp.place_code, tp.metric_code) IN (
               SELECT * FROM unnest(CAST(:places AS text[]), CAST(:metrics AS text[])))
    ) AS b
    WHERE tp.plan_id = b.plan_id AND tp.metric_code = b.metric_code
""")
_ALL_PAIRS = text("""
    SELECT DISTINCT metric_code, period FROM observation WHERE superseded_at IS NULL
""")
DRAIN_QUEUE = text("""
    DELETE FROM progress_refresh_queue RETURNING place_code, metric_code, periods
""")


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


def pairs_json(pairs: Iterable[tuple[str, str]]) -> str:
    return json.dumps([{"metric_code": m, "period": p} for m, p in sorted(pairs)])


def columns(first: str, second: str, pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Pairs as two parallel arrays, which is how SQL unnests them into rows."""
    ordered = sorted(pairs)
    return {first: [a for a, _ in ordered], second: [b for _, b in ordered]}


async def lock(session: AsyncSession) -> None:
    """One refresh at a time, until the transaction ends."""
    await session.execute(LOCK)


async def drain_queue(session: AsyncSession) -> list[Any]:
    """The queued change notices, deleted in the refresh's own transaction."""
    return list((await session.execute(DRAIN_QUEUE)).all())


async def all_pairs(session: AsyncSession) -> set[tuple[str, str]]:
    """Every (metric, period) that has current observations."""
    return {(row.metric_code, row.period) for row in await session.execute(_ALL_PAIRS)}


async def delete_other_area_values(session: AsyncSession, pairs: Iterable[tuple[str, str]]) -> None:
    await session.execute(_DELETE_OTHER_AREA_VALUES, {"pairs": pairs_json(pairs)})


async def current_observations(
    session: AsyncSession, pairs: Sequence[tuple[str, str]], places: Sequence[str]
) -> areas.Observations:
    """The current observations of ``pairs`` at ``places``, numbered by their positions there."""
    params = {
        "metrics": [m for m, _ in pairs],
        "periods": [p for _, p in pairs],
        "places": list(places),
    }
    data = (await session.execute(_OBSERVATIONS, params)).scalar_one() or b""
    rows = np.frombuffer(data, dtype=_OBSERVATION_RECORD)
    return areas.Observations(
        **{
            name: rows[name].astype(rows[name].dtype.newbyteorder("="))
            for name in _OBSERVATION_RECORD.names or ()
        }
    )


async def replace_area_values(
    session: AsyncSession,
    pairs: Sequence[tuple[str, str]],
    values: areas.AreaValues,
    geography: areas.Geography,
) -> None:
    """The pairs' area values, replaced by ``values`` (their pair numbers index ``pairs``), in
    one DELETE and one binary COPY."""
    await session.execute(_DELETE_AREA_VALUES, {"pairs": pairs_json(pairs)})
    metric_codes = sorted({m for m, _ in pairs})
    period_codes = sorted({p for _, p in pairs})
    pair_metric = np.searchsorted(metric_codes, [m for m, _ in pairs]).astype(np.int64)
    pair_period = np.searchsorted(period_codes, [p for _, p in pairs]).astype(np.int64)
    no_rank = values.rank == 0
    data = binary_copy.encode(
        [
            binary_copy.Column.text(pair_metric[values.pair], metric_codes),
            binary_copy.Column.text(pair_period[values.pair], period_codes),
            binary_copy.Column.text(values.area, geography.areas),
            binary_copy.Column.text(values.level, areas.LEVELS),
            binary_copy.Column.float8(values.value),
            binary_copy.Column.float8(values.numerator),
            binary_copy.Column.float8(values.denominator),
            binary_copy.Column.int4(values.places_reported),
            binary_copy.Column.int4(values.places_expected),
            binary_copy.Column.float8(values.ci_lower),
            binary_copy.Column.float8(values.ci_upper),
            binary_copy.Column.text(values.comparison, intervals.COMPARISONS),
            binary_copy.Column.int4(values.rank, null=no_rank),
            binary_copy.Column.int4(values.rank_of, null=no_rank),
            binary_copy.Column.int4(values.quintile, null=no_rank),
        ]
    )
    async with _driver_errors("COPY area_value"):
        cursor = (await _driver(session)).cursor()
        async with cursor.copy(_COPY_AREA_VALUES) as copy:
            await copy.write(data)


async def _driver(session: AsyncSession) -> psycopg.AsyncConnection[Any]:
    """The session's own psycopg connection, in its transaction: COPY is psycopg's, not
    SQLAlchemy's."""
    raw = await (await session.connection()).get_raw_connection()
    return cast(psycopg.AsyncConnection[Any], raw.driver_connection)


@asynccontextmanager
async def _driver_errors(statement: str) -> AsyncIterator[None]:
    """psycopg's errors as SQLAlchemy's, which the refresh's isolation tells apart."""
    try:
        yield
    except psycopg.Error as error:
        raise sa_exc.DBAPIError.instance(statement, None, error, psycopg.Error) from error


def target_scope(changed: set[tuple[str, str]] | None) -> dict[str, Any]:
    """The (place, metric) series a refresh recomputes, as its target queries take them."""
    return {"all": changed is None, **columns("places", "metrics", changed or set())}


async def agreed_targets(session: AsyncSession, scope: dict[str, Any]) -> list[RowMapping]:
    return list((await session.execute(_AGREED_TARGETS, scope)).mappings())


async def delete_other_progress(
    session: AsyncSession, scope: dict[str, Any], targets: Sequence[RowMapping]
) -> None:
    await session.execute(
        _DELETE_OTHER_PROGRESS,
        {
            **scope,
            "plan_ids": [t["plan_id"] for t in targets],
            "target_metrics": [t["metric_code"] for t in targets],
        },
    )


async def series(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[tuple[str, float, float | None, float | None]]]:
    """The current (period, value, numerator, denominator) of each (place, metric)."""
    found: dict[tuple[str, str], list[tuple[str, float, float | None, float | None]]] = {}
    result = await session.execute(_SERIES, columns("places", "metrics", keys))
    for row in result:
        found.setdefault((row.place_code, row.metric_code), []).append(
            (row.period, row.value, row.numerator, row.denominator)
        )
    return found


async def upsert_progress(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(_UPSERT_PROGRESS, {"rows": json.dumps(rows, allow_nan=False)})


async def update_benchmarks(
    session: AsyncSession,
    *,
    pairs: Iterable[tuple[str, str]],
    changed: set[tuple[str, str]] | None,
) -> None:
    await session.execute(
        _BENCHMARKS,
        {
            "all": changed is None,
            **columns("pair_metrics", "periods", pairs),
            **columns("places", "metrics", changed or set()),
        },
    )
