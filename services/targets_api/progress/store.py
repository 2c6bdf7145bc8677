"""Progress's SQL. The refresh's: the queue, the observations the area values are computed
from and the area values written back, the agreed targets and their series, the progress rows
and benchmarks, and what a refresh set aside (recorded when an item fails on its data, cleared
when it succeeds). The reads of a place's progress and series."""

import json
import logging
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import psycopg
from sqlalchemy import Row, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common import binary_copy
from services.common.db import driver_connection
from services.common.models.targets_api import TargetProgress
from services.targets_api.progress import areas, intervals
from services.targets_api.progress.engine import Observations, Targets

log = logging.getLogger(__name__)

LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('joinedup.progress.refresh', 0))")

# The current observations of the pairs, numbered as the engine numbers pairs and places (from
# 0), as one bytea of fixed-width big-endian records (NULLs as a flag beside a 0): a few
# megabytes in one value, rather than a Python object per row and field. Each record is built
# whole, so its fields cannot come apart.
#
# Two shapes, because no one plan suits both sizes and the planner's choice rests on statistics
# that lag a table growing by thousands of rows a minute (it once costed every current version as
# 44 rows, nested-looped each of them over all 153 places and spent 500 ms on 120 pairs). For a
# few pairs (one place's new months) every (place, pair) is looked up in observation_current, a
# LATERAL with LIMIT 1 that the planner cannot turn into a scan; for many (a full refresh, a bulk
# load's notices) the pairs are hashed against the current versions and each row's place is
# numbered by a lookup in a JSON object, not by a join it could nest.
_RECORD_BYTES = """
    string_agg(
        int4send((p.i - 1)::int4) || int4send(({place})::int4) || float8send(o.value)
        || float8send(coalesce(o.numerator, 0)) || boolsend(o.numerator IS NOT NULL)
        || float8send(coalesce(o.denominator, 0)) || boolsend(o.denominator IS NOT NULL),
        ''::bytea)
"""
_PAIRS = """unnest(CAST(:metrics AS text[]), CAST(:periods AS text[])) WITH ORDINALITY
        AS p(metric_code, period, i)"""
_OBSERVATIONS_LOOKED_UP = text(f"""
    SELECT {_RECORD_BYTES.format(place="a.i - 1")}
    FROM {_PAIRS}
    CROSS JOIN unnest(CAST(:places AS text[])) WITH ORDINALITY AS a(code, i)
    CROSS JOIN LATERAL (
        SELECT o.value, o.numerator, o.denominator FROM observation o
        WHERE o.place_code = a.code AND o.metric_code = p.metric_code AND o.period = p.period
          AND o.superseded_at IS NULL
        LIMIT 1) AS o
""")
_OBSERVATIONS_SCANNED = text(f"""
    SELECT {_RECORD_BYTES.format(place="CAST(:place_numbers AS jsonb) ->> o.place_code")}
    FROM {_PAIRS}
    JOIN observation o ON o.metric_code = p.metric_code AND o.period = p.period
                      AND o.superseded_at IS NULL
    WHERE CAST(:place_numbers AS jsonb) ? o.place_code
""")
# Lookups (pairs x places) up to which looking each up beats hashing every current version: a
# lookup costs a few microseconds, a scan a fraction of one for each current version of the
# table, which holds hundreds of thousands.
LOOKUP_LIMIT = 50_000
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
_INSERT_AREA_VALUES = text("""
    INSERT INTO area_value (metric_code, period, area_code, level, value, numerator, denominator,
                            places_reported, places_expected, ci_lower, ci_upper, comparison,
                            rank, rank_of, quintile)
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(
        metric_code text, period text, area_code text, level text, value float8,
        numerator float8, denominator float8, places_reported int, places_expected int,
        ci_lower float8, ci_upper float8, comparison text, rank int, rank_of int, quintile int)
""")

# The agreed targets (of metrics in the catalogue) of the (place, metric) pairs given, or of all
# when none are, with their trajectories and their series' current observations: one statement
# (one snapshot), answered as columns (arrays) for the engine. Period codes come as positions in
# `codes`. The aggregates of one query level read their rows in the same order, so the arrays of
# one subquery line up element by element.
_TARGET_SERIES = text("""
    WITH target AS (
        SELECT (row_number() OVER (ORDER BY t.plan_id, t.metric_code) - 1)::int AS ord,
               t.plan_id, p.place_code, t.metric_code, t.baseline_period, t.baseline_value,
               t.target_period, t.target_value, t.tolerance, t.trajectory
        FROM plan_target t JOIN plan p ON p.id = t.plan_id
        WHERE p.status = 'agreed' AND t.metric_code = ANY(CAST(:catalogue AS text[]))
          AND (CAST(:all AS boolean) OR (p.place_code, t.metric_code) IN (
              SELECT * FROM unnest(CAST(:places AS text[]), CAST(:metrics AS text[]))))
    ), step AS (
        SELECT t.ord, s.n, s.step ->> 'period' AS period,
               CAST(s.step ->> 'value' AS float8) AS value
        FROM target t
        CROSS JOIN LATERAL jsonb_array_elements(t.trajectory) WITH ORDINALITY AS s(step, n)
    ), code AS (
        -- Every period the arrays name. The series' periods are read apart from their values
        -- (below) rather than kept in a CTE, which at national scale spills to disk: for all
        -- targets, the distinct periods of their metrics (one scan, a hash of a few dozen);
        -- for a few, of their own series (an index lookup each). DISTINCT in each part keeps
        -- the planner's estimate of `code` small, so that joins hash it, not the series.
        SELECT period, (row_number() OVER (ORDER BY period) - 1)::int AS id
        FROM (SELECT DISTINCT baseline_period AS period FROM target
              UNION SELECT DISTINCT target_period FROM target
              UNION SELECT DISTINCT period FROM step
              UNION SELECT DISTINCT o.period FROM observation o
                    WHERE CAST(:all AS boolean) AND o.superseded_at IS NULL
                      AND o.metric_code IN (SELECT metric_code FROM target)
              UNION SELECT DISTINCT o.period FROM target t
                    JOIN observation o ON o.place_code = t.place_code
                                      AND o.metric_code = t.metric_code
                                      AND o.superseded_at IS NULL
                    WHERE NOT CAST(:all AS boolean)) AS c
    )
    SELECT * FROM
        (SELECT coalesce(array_agg(period ORDER BY id), '{}') AS codes FROM code) AS c,
        (SELECT coalesce(array_agg(t.plan_id ORDER BY t.ord), '{}') AS plan_id,
                coalesce(array_agg(t.place_code ORDER BY t.ord), '{}') AS place_code,
                coalesce(array_agg(t.metric_code ORDER BY t.ord), '{}') AS metric_code,
                coalesce(array_agg(b.id ORDER BY t.ord), '{}') AS baseline_period,
                coalesce(array_agg(t.baseline_value ORDER BY t.ord), '{}') AS baseline_value,
                coalesce(array_agg(e.id ORDER BY t.ord), '{}') AS target_period,
                coalesce(array_agg(t.target_value ORDER BY t.ord), '{}') AS target_value,
                coalesce(array_agg(t.tolerance ORDER BY t.ord), '{}') AS tolerance,
                coalesce(array_agg(t.tolerance IS NOT NULL ORDER BY t.ord), '{}')
                    AS tolerance_set
         FROM target t
         JOIN code b ON b.period = t.baseline_period
         JOIN code e ON e.period = t.target_period) AS t,
        (SELECT coalesce(array_agg(s.ord ORDER BY s.ord, s.n), '{}') AS step_target,
                coalesce(array_agg(c.id ORDER BY s.ord, s.n), '{}') AS step_period,
                coalesce(array_agg(s.value ORDER BY s.ord, s.n), '{}') AS step_value
         FROM step s JOIN code c ON c.period = s.period) AS s,
        (SELECT coalesce(array_agg(t.ord), '{}') AS target,
                coalesce(array_agg(c.id), '{}') AS period,
                coalesce(array_agg(o.value), '{}') AS value,
                coalesce(array_agg(o.numerator), '{}') AS numerator,
                coalesce(array_agg(o.denominator), '{}') AS denominator,
                coalesce(array_agg(coalesce(o.numerator = 'NaN', false)), '{}') AS numerator_nan,
                coalesce(array_agg(coalesce(o.denominator = 'NaN', false)), '{}')
                    AS denominator_nan
         FROM target t
         JOIN observation o ON o.place_code = t.place_code AND o.metric_code = t.metric_code
                           AND o.superseded_at IS NULL
         JOIN code c ON c.period = o.period) AS o
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
# The rows come as one array per column (engine.COLUMNS), unnested side by side.
_UPSERT_PROGRESS = text("""
    INSERT INTO target_progress AS tp (plan_id, metric_code, place_code, latest_period,
        latest_value, baseline_period, baseline_value, target_period, target_value,
        expected_value, progress_pct, status, consecutive_off_track, variation, assurance,
        forecast_value, trend, comparison)
    SELECT *, 'not_compared' FROM unnest(
        CAST(:plan_id AS int[]), CAST(:metric_code AS text[]), CAST(:place_code AS text[]),
        CAST(:latest_period AS text[]), CAST(:latest_value AS float8[]),
        CAST(:baseline_period AS text[]), CAST(:baseline_value AS float8[]),
        CAST(:target_period AS text[]), CAST(:target_value AS float8[]),
        CAST(:expected_value AS float8[]), CAST(:progress_pct AS float8[]),
        CAST(:status AS text[]), CAST(:consecutive_off_track AS int[]),
        CAST(:variation AS text[]), CAST(:assurance AS text[]),
        CAST(:forecast_value AS float8[]), CAST(:trend AS text[]))
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
    DELETE FROM progress_refresh_queue RETURNING place_code, metric_code, period_from, period_to
""")
# The (metric, period) pairs a queued range stands for: the periods of the place's current
# observations within it (every changed one among them; the others recompute to the figures
# they have). Compared as codes, as ingest chose the range's ends; the primary key's prefix
# (place, metric) finds them.
_PAIRS_IN_RANGES = text("""
    SELECT DISTINCT o.metric_code, o.period
    FROM unnest(CAST(:places AS text[]), CAST(:metrics AS text[]), CAST(:froms AS text[]),
                CAST(:tos AS text[])) AS q(place_code, metric_code, period_from, period_to)
    JOIN observation o ON o.place_code = q.place_code AND o.metric_code = q.metric_code
                      AND o.period COLLATE "C" BETWEEN q.period_from AND q.period_to
                      AND o.superseded_at IS NULL
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
# The page and its count in one statement, so one snapshot: a refresh taking a pair up again
# between two statements would answer a count that its own page contradicts.
_LIST = text("""
    WITH total AS (SELECT count(*) AS count FROM progress_set_aside),
    page AS (
        SELECT kind, metric_code, nullif(period, '') AS period, nullif(plan_id, 0) AS plan_id,
               place_code, reason, failures, first_failed_at, last_failed_at
        FROM progress_set_aside
        ORDER BY first_failed_at, kind, metric_code, period, plan_id
        LIMIT :limit OFFSET :offset
    )
    SELECT total.count, page.* FROM total LEFT JOIN page ON true
    ORDER BY first_failed_at, kind, metric_code, period, plan_id
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
    rows = (await session.execute(_LIST, {"limit": limit, "offset": offset})).mappings().all()
    # A page past the end is the count's one row with nothing beside it.
    page = [{k: v for k, v in row.items() if k != "count"} for row in rows if row["kind"]]
    return page, rows[0]["count"]


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


async def pairs_in_ranges(
    session: AsyncSession, ranges: Collection[tuple[str, str, str, str]]
) -> set[tuple[str, str]]:
    """The (metric, period) pairs of the (place, metric, from, to) ranges of queued notices."""
    if not ranges:
        return set()
    places, metrics, froms, tos = (list(column) for column in zip(*ranges, strict=True))
    params = {"places": places, "metrics": metrics, "froms": froms, "tos": tos}
    rows = await session.execute(_PAIRS_IN_RANGES, params)
    return {(row.metric_code, row.period) for row in rows}


async def all_pairs(session: AsyncSession) -> set[tuple[str, str]]:
    """Every (metric, period) that has current observations."""
    return {(row.metric_code, row.period) for row in await session.execute(_ALL_PAIRS)}


async def delete_other_area_values(session: AsyncSession, pairs: Iterable[tuple[str, str]]) -> None:
    await session.execute(_DELETE_OTHER_AREA_VALUES, {"pairs": pairs_json(pairs)})


async def current_observations(
    session: AsyncSession, pairs: Sequence[tuple[str, str]], places: Sequence[str]
) -> areas.Observations:
    """The current observations of ``pairs`` at ``places``, numbered by their positions there."""
    params: dict[str, Any] = {
        "metrics": [m for m, _ in pairs],
        "periods": [p for _, p in pairs],
    }
    if len(pairs) * len(places) <= LOOKUP_LIMIT:
        statement, params["places"] = _OBSERVATIONS_LOOKED_UP, list(places)
    else:
        statement = _OBSERVATIONS_SCANNED
        params["place_numbers"] = json.dumps({code: n for n, code in enumerate(places)})
    data = (await session.execute(statement, params)).scalar_one() or b""
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
        cursor = (await driver_connection(session)).cursor()
        async with cursor.copy(_COPY_AREA_VALUES) as copy:
            await copy.write(data)


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


async def target_series(
    session: AsyncSession, scope: dict[str, Any], catalogue: Sequence[str]
) -> tuple[Targets, Observations]:
    """The agreed targets in ``scope`` whose metric is in ``catalogue``, and their series."""
    row = (await session.execute(_TARGET_SERIES, {**scope, "catalogue": list(catalogue)})).one()

    def arrays(dtypes: dict[str, Any]) -> dict[str, np.ndarray]:
        # NULL (None) in a float8 array becomes NaN; Targets and Observations say what it means.
        return {name: np.array(getattr(row, name), dtype=dtype) for name, dtype in dtypes.items()}

    return Targets(**arrays(_TARGET_COLUMNS)), Observations(**arrays(_OBSERVATION_COLUMNS))


# The columns of _TARGET_SERIES, by the engine's names, and the arrays they become.
_TARGET_COLUMNS = {
    "codes": object,
    "plan_id": np.int64,
    "metric_code": object,
    "place_code": object,
    "baseline_period": np.int64,
    "baseline_value": np.float64,
    "target_period": np.int64,
    "target_value": np.float64,
    "tolerance": np.float64,
    "tolerance_set": bool,
    "step_target": np.int64,
    "step_period": np.int64,
    "step_value": np.float64,
}
_OBSERVATION_COLUMNS = {
    "target": np.int64,
    "period": np.int64,
    "value": np.float64,
    "numerator": np.float64,
    "denominator": np.float64,
    "numerator_nan": bool,
    "denominator_nan": bool,
}


async def delete_other_progress(
    session: AsyncSession, scope: dict[str, Any], targets: Targets
) -> None:
    await session.execute(
        _DELETE_OTHER_PROGRESS,
        {
            **scope,
            "plan_ids": targets.plan_id.tolist(),
            "target_metrics": targets.metric_code.tolist(),
        },
    )


async def upsert_progress(session: AsyncSession, columns: dict[str, list[Any]]) -> None:
    """Rows as columns (engine.COLUMNS), in one statement; their figures are finite."""
    await session.execute(_UPSERT_PROGRESS, columns)


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
_PLACE_SERIES = text("""
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
    found = await session.execute(_PLACE_SERIES, {"place": place_code, "metric": metric_code})
    return [(period, value) for period, value in found]


# The generation (progress/generation.py says what it is for).
_BUMP_GENERATION = text(
    "UPDATE progress_generation SET generation = generation + 1, refreshed_at = now()"
)
_GENERATION = text("SELECT generation, refreshed_at FROM progress_generation")


async def bump_generation(session: AsyncSession) -> None:
    await session.execute(_BUMP_GENERATION)


async def generation_row(session: AsyncSession) -> Row[Any]:
    """``generation`` and ``refreshed_at`` of the figures this session reads next."""
    return (await session.execute(_GENERATION)).one()


_ANY_QUEUED = text("SELECT EXISTS (SELECT 1 FROM progress_refresh_queue)")


async def any_queued(session: AsyncSession) -> bool:
    """Whether any change notice waits for the refresher."""
    return bool(await session.scalar(_ANY_QUEUED))


# The outcome scrape (progress/outcome_metrics.py).
# Everything the exposition is made from besides the materialised figures, in one query over
# small tables (areas and metrics by content, since metrics_api changes them without a refresh;
# agreed plans by id, as agreed plans are frozen).
_STATE = text("""
    SELECT g.generation, g.refreshed_at,
           (SELECT md5(string_agg(concat_ws('|', code, name, level, parent_code), ','
                                  ORDER BY code)) FROM area) AS areas,
           (SELECT md5(string_agg(concat_ws('|', code, current_version, status), ','
                                  ORDER BY code)) FROM metric) AS metrics,
           (SELECT md5(string_agg(CAST(id AS text), ',' ORDER BY id))
            FROM plan WHERE status = 'agreed') AS plans,
           CAST(now() AT TIME ZONE 'Europe/London' AS date) AS today
    FROM progress_generation g
""")
# The end of a period is the end of its last day, as a UTC timestamp.
_TARGETS = text("""
    SELECT tp.place_code, tp.metric_code, coalesce(a.parent_code, '') AS icb,
           coalesce(i.parent_code, '') AS region, tp.latest_value, tp.target_value,
           tp.expected_value, tp.progress_pct, tp.status, tp.consecutive_off_track,
           extract(epoch FROM CAST(period_end(tp.latest_period) + 1 AS timestamp)
                              AT TIME ZONE 'UTC') AS latest_end
    FROM target_progress tp
    JOIN plan p ON p.id = tp.plan_id AND p.status = 'agreed'
    LEFT JOIN area a ON a.code = tp.place_code
    LEFT JOIN area i ON i.code = a.parent_code
    ORDER BY tp.place_code, tp.metric_code
""")
_AREAS = text("SELECT code, name, level, coalesce(parent_code, '') FROM area ORDER BY code")
_METRICS = text("""
    SELECT m.code, v.name, v.kind, v.unit, v.direction, v.periodicity
    FROM metric m JOIN metric_version v ON v.metric_code = m.code
                                       AND v.version = m.current_version
    ORDER BY m.code
""")
# England at the latest closed period with data (the league tables' default), or the latest
# open one while none has closed: one place's early return must not pass for England's value.
_NATIONAL = text("""
    SELECT DISTINCT ON (a.metric_code) a.metric_code, a.value
    FROM area_value a
    JOIN metric m ON m.code = a.metric_code
    JOIN metric_version v ON v.metric_code = m.code AND v.version = m.current_version
    WHERE a.level = 'nation' AND a.value IS NOT NULL
      AND period_periodicity(a.period) = v.periodicity
    ORDER BY a.metric_code,
             period_end(a.period) + v.submission_deadline_days
                 < CAST(now() AT TIME ZONE 'Europe/London' AS date) DESC,
             period_index(a.period) DESC
""")


async def scrape_state(session: AsyncSession) -> tuple[Any, ...]:
    """What the outcome exposition is built from besides the figures: it is built again only
    when this changes."""
    return tuple((await session.execute(_STATE)).one())


async def scrape_rows(
    session: AsyncSession,
) -> tuple[Sequence[Row[Any]], Sequence[Row[Any]], Sequence[Row[Any]], Sequence[Row[Any]]]:
    """The agreed targets' figures, the areas, the metrics and England's values."""
    targets, areas_, metrics, national = [
        (await session.execute(query)).all() for query in (_TARGETS, _AREAS, _METRICS, _NATIONAL)
    ]
    return targets, areas_, metrics, national
