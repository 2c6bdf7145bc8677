"""Materialised progress: recompute what changed, in one transaction, so reads are plain selects.

A refresh has two steps, both for a set of (metric, period) pairs and the metrics they touch:

1. ``area_value``: each place's current value and the roll-ups of its ICB, region and England by
   the metric's aggregation (one GROUPING SETS query over the observations), with ranks and
   quintiles (window functions), then each row's 95 % interval and comparison with England.
2. ``target_progress``: the targets of agreed plans whose place's series changed, from that
   series (status, SPC icons, forecast); then, in one UPDATE, the national value, comparison and
   rank of every target whose latest period is among the recomputed ones (a new value anywhere
   moves England and everyone's rank).

Each step runs its items through ``isolation.isolating``: a (metric, period) or a target whose
computation fails on its data is set aside with its reason (``progress_set_aside``; its previous
figures stay) and everything else is written; it is tried again when its inputs change.

Refreshers take one advisory lock, so two never interleave; a reader sees the state before or
after a refresh, never between (READ COMMITTED and one transaction). Lock order with the plan
workflow: docs/architecture.md, "Lock order".
"""

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import periods
from services.common.catalogue import Catalogue, MetricDef
from services.common.figures import derived
from services.targets_api.progress import definitions, generation, intervals, store
from services.targets_api.progress.isolation import SetAside, isolating
from services.targets_api.progress.trend import TrendPoint, recent_trend
from services.targets_api.spc.service import Direction, spc

log = logging.getLogger(__name__)

SPC_DIRECTION: dict[str, Direction] = {
    "higher_is_better": "increase",
    "lower_is_better": "decrease",
    "neutral": "neutral",
}

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('joinedup.progress.refresh', 0))")

# Rank 1 is the best value among the areas of one level (England has none to rank against);
# neutral metrics have no best, so no rank, and an incomplete roll-up (fewer places reported
# than the metric applies to) is not ranked: a sum or ratio over whichever places reported is
# not comparable with a complete one (API.md amendments). Quintiles come from the rank, not
# ntile(), so that tied places always share a quintile.
# `places_expected`: the member places the metric applies to (a national metric: all of them;
# a local one: those at or below its owner).
_ROLL_UP = text("""
    WITH metric AS (
        SELECT * FROM jsonb_to_recordset(CAST(:metrics AS jsonb))
            AS m(code text, multiplier float8, direction text, aggregation text, scope text,
                 owner text)
    ), place AS (
        SELECT * FROM jsonb_to_recordset(CAST(:places AS jsonb))
            AS a(code text, icb text, region text, nation text, population float8)
    ), pair AS (
        SELECT * FROM jsonb_to_recordset(CAST(:pairs AS jsonb)) AS p(metric_code text, period text)
    ), expected AS (
        SELECT m.code AS metric_code, l.area_code, count(*) AS places_expected
        FROM metric m
        JOIN place a ON m.scope = 'national' OR m.owner IN (a.code, a.icb, a.region, a.nation)
        CROSS JOIN LATERAL (VALUES (a.code), (a.icb), (a.region), (a.nation)) AS l(area_code)
        GROUP BY m.code, l.area_code
    ), rolled AS (
        SELECT o.metric_code, o.period,
               coalesce(o.place_code, a.icb, a.region, a.nation) AS area_code,
               CASE grouping(o.place_code, a.icb, a.region)
                    WHEN 3 THEN 'place' WHEN 5 THEN 'icb' WHEN 6 THEN 'region' ELSE 'nation'
               END AS level,
               CASE WHEN grouping(o.place_code) = 0 THEN min(o.value)
                    WHEN min(m.aggregation) = 'sum' THEN sum(o.value)
                    WHEN min(m.aggregation) = 'ratio_of_sums'
                        THEN sum(o.numerator) / nullif(sum(o.denominator), 0) * min(m.multiplier)
                    ELSE sum(o.value * a.population) / nullif(sum(a.population), 0)
               END AS value,
               sum(o.numerator) AS numerator, sum(o.denominator) AS denominator,
               count(*) AS places_reported, min(m.direction) AS direction
        FROM pair p
        JOIN observation o ON o.metric_code = p.metric_code AND o.period = p.period
                          AND o.superseded_at IS NULL
        JOIN metric m ON m.code = o.metric_code
        JOIN place a ON a.code = o.place_code
        GROUP BY o.metric_code, o.period,
                 GROUPING SETS ((o.place_code), (a.icb), (a.region), (a.nation))
    ), rankable AS (
        SELECT r.*, coalesce(e.places_expected, r.places_reported) AS places_expected,
               direction <> 'neutral' AND value IS NOT NULL AND level <> 'nation'
                   AND r.places_reported >= coalesce(e.places_expected, r.places_reported)
                   AS ranked
        FROM rolled r
        LEFT JOIN expected e ON e.metric_code = r.metric_code AND e.area_code = r.area_code
    ), ranked AS (
        SELECT r.*,
               CASE WHEN ranked THEN rank() OVER (
                   PARTITION BY metric_code, period, level, ranked
                   ORDER BY CASE direction WHEN 'higher_is_better' THEN -value ELSE value END)
               END AS rank,
               CASE WHEN ranked THEN count(*) OVER (PARTITION BY metric_code, period, level,
                                                              ranked)
               END AS rank_of
        FROM rankable r
    )
    SELECT metric_code, period, area_code, level, value, numerator, denominator,
           places_reported, places_expected, rank, rank_of,
           5 * (rank - 1) / rank_of + 1 AS quintile
    FROM ranked
""")

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
_DRAIN_QUEUE = text("""
    DELETE FROM progress_refresh_queue RETURNING place_code, metric_code, periods
""")


@dataclass(frozen=True)
class Refreshed:
    pairs: int  # (metric, period) pairs whose area values were recomputed
    area_values: int
    targets: int
    set_aside: int  # pairs and targets that failed on their data and were left as they were


async def refresh_queued(session: AsyncSession, *, catalogue: Catalogue) -> Refreshed | None:
    """Recompute what the queued change notices touch; None when nothing is queued.

    The queue rows are deleted in the same transaction, so a failed refresh leaves them queued;
    a notice arriving meanwhile waits on the deleted row's lock and is queued afresh after.
    """
    await session.execute(_LOCK)
    queued = (await session.execute(_DRAIN_QUEUE)).all()
    if not queued:
        return None
    pairs = {(row.metric_code, period) for row in queued for period in row.periods}
    return await _refresh(
        session,
        catalogue=catalogue,
        pairs=pairs,
        changed={(row.place_code, row.metric_code) for row in queued},
    )


async def refresh_all(session: AsyncSession, *, catalogue: Catalogue) -> Refreshed:
    """Recompute every area value and every agreed target from the current observations."""
    await session.execute(_LOCK)
    await session.execute(_DRAIN_QUEUE)
    pairs = {(row.metric_code, row.period) for row in await session.execute(_ALL_PAIRS)}
    return await _refresh(session, catalogue=catalogue, pairs=pairs, changed=None)


async def _refresh(
    session: AsyncSession,
    *,
    catalogue: Catalogue,
    pairs: set[tuple[str, str]],
    changed: set[tuple[str, str]] | None,
) -> Refreshed:
    """``changed``: the (place, metric) pairs whose own series changed; None for all."""
    pairs = {(metric, period) for metric, period in pairs if metric in catalogue.metrics}
    started = time.perf_counter()
    if changed is None:
        await session.execute(_DELETE_OTHER_AREA_VALUES, {"pairs": _pairs_json(pairs)})
    area_values, pairs_set_aside = await _write_area_values(
        session, catalogue=catalogue, pairs=pairs
    )
    areas_done = time.perf_counter()
    targets, targets_set_aside = await _write_target_progress(
        session, catalogue=catalogue, changed=changed
    )
    targets_done = time.perf_counter()
    await session.execute(
        _BENCHMARKS,
        {
            "all": changed is None,
            **_columns("pair_metrics", "periods", pairs),
            **_columns("places", "metrics", changed or set()),
        },
    )
    # The reads' ETags and caches are keyed on this; it commits with the figures (issue 13).
    await generation.bump(session)
    log.info(
        "refresh: %d area values in %.3f s, %d targets in %.3f s, benchmarks in %.3f s",
        area_values,
        areas_done - started,
        targets,
        targets_done - areas_done,
        time.perf_counter() - targets_done,
    )
    return Refreshed(
        pairs=len(pairs),
        area_values=area_values,
        targets=targets,
        set_aside=pairs_set_aside + targets_set_aside,
    )


def _pairs_json(pairs: Iterable[tuple[str, str]]) -> str:
    return json.dumps([{"metric_code": m, "period": p} for m, p in sorted(pairs)])


def _columns(first: str, second: str, pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Pairs as two parallel arrays, which is how SQL unnests them into rows."""
    ordered = sorted(pairs)
    return {first: [a for a, _ in ordered], second: [b for _, b in ordered]}


async def _write_area_values(
    session: AsyncSession, *, catalogue: Catalogue, pairs: set[tuple[str, str]]
) -> tuple[int, int]:
    """Area values written, and (metric, period) pairs set aside."""
    if not pairs:
        return 0, 0
    metrics = {m: catalogue.metrics[m] for m in {m for m, _ in pairs}}
    metrics_json = json.dumps(
        [
            {
                "code": m.code,
                "multiplier": m.multiplier,
                "direction": m.direction,
                "aggregation": m.aggregation,
                "scope": m.scope,
                "owner": m.owner_area_code,
            }
            for m in metrics.values()
        ]
    )
    places_json = json.dumps(_place_lineage(catalogue))

    async def write(part: Sequence[tuple[str, str]]) -> int:
        pairs_json = _pairs_json(part)
        rolled = (
            (
                await session.execute(
                    _ROLL_UP,
                    {
                        "metrics": metrics_json,
                        "places": places_json,
                        "pairs": pairs_json,
                    },
                )
            )
            .mappings()
            .all()
        )
        national = {
            (r["metric_code"], r["period"]): r["value"] for r in rolled if r["level"] == "nation"
        }
        rows = [
            _with_interval(
                dict(r), metrics[r["metric_code"]], national.get((r["metric_code"], r["period"]))
            )
            for r in rolled
        ]
        await session.execute(_DELETE_AREA_VALUES, {"pairs": pairs_json})
        # Not a finite number is not a figure: refuse it here rather than store it.
        await session.execute(_INSERT_AREA_VALUES, {"rows": json.dumps(rows, allow_nan=False)})
        return len(rows)

    written, failed = await isolating(session, sorted(pairs), write)
    await store.clear_area_values(session, pairs - {f.item for f in failed})
    await store.record_set_aside(
        session,
        [
            {
                "kind": "area_value",
                "metric_code": f.item[0],
                "period": f.item[1],
                "reason": f.reason,
            }
            for f in failed
        ],
    )
    return written, len(failed)


def _place_lineage(catalogue: Catalogue) -> list[dict[str, Any]]:
    """Each place with its ICB, region and nation, for the roll-up's GROUPING SETS."""
    lineage = []
    for area in catalogue.areas.values():
        chain = catalogue.lineage(area.code)
        if area.level == "place" and len(chain) == 4:
            lineage.append(
                {
                    "code": area.code,
                    "icb": chain[1],
                    "region": chain[2],
                    "nation": chain[3],
                    "population": area.population,
                }
            )
    return lineage


def _with_interval(
    row: dict[str, Any], metric: MetricDef, national: float | None
) -> dict[str, Any]:
    """The row with its 95 % interval (where the kind has one) and comparison with England.

    A population-weighted mean of places' proportions or rates is not a binomial or Poisson
    count, so its roll-ups have no interval (API.md, "Statistical definitions, made precise"):
    the summed counts' interval can exclude the weighted mean itself.
    """
    weighted_roll_up = row["level"] != "place" and metric.aggregation == "population_weighted_mean"
    interval = None if weighted_roll_up else _interval(metric, row["numerator"], row["denominator"])
    row["ci_lower"], row["ci_upper"] = (
        (derived(interval[0]), derived(interval[1])) if interval else (None, None)
    )
    if row["level"] != "place":  # a place's own value is as it was submitted
        row["value"] = derived(row["value"])
    row["comparison"] = (
        "not_compared"
        if row["level"] == "nation"
        else intervals.comparison(interval, national, metric.direction)
    )
    return row


def _interval(
    metric: MetricDef, numerator: float | None, denominator: float | None
) -> tuple[float, float] | None:
    if numerator is None or denominator is None or denominator <= 0 or numerator < 0:
        return None
    multiplier = metric.multiplier or 1
    if metric.kind == "proportion" and numerator <= denominator:
        lower, upper = intervals.wilson_interval(numerator, denominator)
        return lower * multiplier, upper * multiplier
    if metric.kind == "rate":
        return intervals.rate_interval(numerator, denominator, multiplier)
    return None


async def _write_target_progress(
    session: AsyncSession, *, catalogue: Catalogue, changed: set[tuple[str, str]] | None
) -> tuple[int, int]:
    """Recompute the targets whose own series changed (all when ``changed`` is None); their
    benchmarks are filled in afterwards with everyone else's. Targets written, and set aside."""
    scope = {"all": changed is None, **_columns("places", "metrics", changed or set())}
    targets = [
        t
        for t in (await session.execute(_AGREED_TARGETS, scope)).mappings()
        if t["metric_code"] in catalogue.metrics
    ]
    await session.execute(
        _DELETE_OTHER_PROGRESS,
        {
            **scope,
            "plan_ids": [t["plan_id"] for t in targets],
            "target_metrics": [t["metric_code"] for t in targets],
        },
    )
    series = await _series(session, [(t["place_code"], t["metric_code"]) for t in targets])

    async def write(part: Sequence[Any]) -> int:
        rows = [
            target_progress(
                t,
                catalogue.metrics[t["metric_code"]],
                series.get((t["place_code"], t["metric_code"]), []),
            )
            for t in part
        ]
        await session.execute(_UPSERT_PROGRESS, {"rows": json.dumps(rows, allow_nan=False)})
        return len(rows)

    written, failed = await isolating(session, targets, write)
    await store.clear_targets(
        session, scope=scope, failed=((f.item["plan_id"], f.item["metric_code"]) for f in failed)
    )
    await store.record_set_aside(session, [_target_set_aside(f) for f in failed])
    return written, len(failed)


def _target_set_aside(failed: SetAside[Any]) -> dict[str, Any]:
    target = failed.item
    return {
        "kind": "target",
        "metric_code": target["metric_code"],
        "plan_id": target["plan_id"],
        "place_code": target["place_code"],
        "reason": failed.reason,
    }


# (period, value, numerator, denominator) of one observation.
Observed = tuple[str, float, float | None, float | None]


async def _series(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[Observed]]:
    """The current observations of each (place, metric)."""
    found: dict[tuple[str, str], list[Observed]] = defaultdict(list)
    result = await session.execute(_SERIES, _columns("places", "metrics", keys))
    for row in result:
        found[(row.place_code, row.metric_code)].append(
            (row.period, row.value, row.numerator, row.denominator)
        )
    return found


def indexed(
    metric: MetricDef, observations: Iterable[tuple[str, float]]
) -> list[tuple[int, str, float]]:
    """(period index, period, value) in period order; a period in another form (from an earlier
    version of the metric) has no place on this metric's line and is left out."""
    periodicity = periods.Periodicity(metric.periodicity)
    points = [
        (i, code, value)
        for code, value in observations
        if (i := period_index(code, periodicity)) is not None
    ]
    return sorted(points)


# A refresh meets the same few dozen period codes in every place's series.
@cache
def period_index(code: str, periodicity: periods.Periodicity) -> int | None:
    try:
        return periods.index(periods.parse_as(code, periodicity))
    except periods.PeriodError:
        return None


@dataclass(frozen=True)
class TargetLine:
    """A target on its metric's period indexes: what each status is judged against."""

    metric: MetricDef
    baseline_index: int
    baseline_value: float
    target_index: int
    target_value: float
    trajectory: dict[int, float]
    tolerance: float | None

    @classmethod
    def of(cls, target: Any, metric: MetricDef) -> "TargetLine":
        periodicity = periods.Periodicity(metric.periodicity)

        def at(code: str) -> int:
            index = period_index(code, periodicity)
            if index is None:  # plans check their periods against the metric: a bug if seen
                raise ValueError(f"{code} is not a {periodicity} period")
            return index

        return cls(
            metric=metric,
            baseline_index=at(target["baseline_period"]),
            baseline_value=target["baseline_value"],
            target_index=at(target["target_period"]),
            target_value=target["target_value"],
            trajectory={at(step["period"]): step["value"] for step in target["trajectory"]},
            tolerance=target["tolerance"],
        )

    def expected_at(self, index: int | None) -> float | None:
        """None with nothing after the baseline period: no expectation to speak of yet."""
        if index is None or index <= self.baseline_index:
            return None
        return definitions.expected_value(
            latest_index=index,
            baseline_index=self.baseline_index,
            baseline_value=self.baseline_value,
            target_index=self.target_index,
            target_value=self.target_value,
            trajectory=self.trajectory,
        )

    def status_at(self, index: int | None, value: float | None) -> str:
        return definitions.status(
            direction=self.metric.direction,
            latest_value=value,
            latest_index=index,
            baseline_index=self.baseline_index,
            target_index=self.target_index,
            target_value=self.target_value,
            baseline_value=self.baseline_value,
            expected=self.expected_at(index),
            tolerance=self.tolerance,
        )


def target_progress(
    target: Any, metric: MetricDef, observations: Sequence[Observed]
) -> dict[str, Any]:
    """One target's progress by the definitions in API.md; benchmarks are joined in SQL."""
    line = TargetLine.of(target, metric)
    points = indexed(metric, ((period, value) for period, value, _, _ in observations))
    latest_index, latest_period, latest_value = points[-1] if points else (None, None, None)
    status = line.status_at(latest_index, latest_value)
    assessed = status != "no_data"
    off_track_run = 0
    for index, _, value in reversed(points):
        if line.status_at(index, value) != "off_track":
            break
        off_track_run += 1
    chart = (
        spc(
            [v for _, _, v in points],
            improvement_direction=SPC_DIRECTION[metric.direction],
            target=line.target_value,
        )
        if points
        else None
    )
    return {
        "plan_id": target["plan_id"],
        "metric_code": target["metric_code"],
        "place_code": target["place_code"],
        "latest_period": latest_period,
        "latest_value": latest_value,
        "baseline_period": target["baseline_period"],
        "baseline_value": line.baseline_value,
        "target_period": target["target_period"],
        "target_value": line.target_value,
        "expected_value": derived(line.expected_at(latest_index)),
        # Assessed implies a latest value (no value is no_data); the test says so to mypy.
        "progress_pct": derived(
            definitions.progress_pct(latest_value, line.baseline_value, line.target_value)
        )
        if assessed and latest_value is not None
        else None,
        "status": status,
        "consecutive_off_track": off_track_run,
        "variation": chart.variation if chart else None,
        "assurance": chart.assurance if chart else None,
        "forecast_value": derived(
            definitions.forecast([(i, v) for i, _, v in points], at_index=line.target_index)
        ),
        "trend": _trend(metric, observations),
    }


def _trend(metric: MetricDef, observations: Sequence[Observed]) -> str | None:
    """The recent-trend marker of the place's own counts (rates' limits come from them)."""
    periodicity = periods.Periodicity(metric.periodicity)
    return recent_trend(
        [
            TrendPoint(index=i, numerator=numerator, denominator=denominator)
            for code, _, numerator, denominator in observations
            if (i := period_index(code, periodicity)) is not None
        ],
        kind=metric.kind,
        multiplier=metric.multiplier or 1,
    )
