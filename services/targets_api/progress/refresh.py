"""Materialised progress: recompute what changed, in one transaction, so reads are plain selects.

A refresh has two steps, both for a set of (metric, period) pairs and the metrics they touch:

1. ``area_value``: each place's current value and the roll-ups of its ICB, region and England by
   the metric's aggregation, with ranks, quintiles, each row's 95 % interval and comparison
   with England: the observations of all the pairs read in one binary COPY, computed over
   arrays (``areas``), written back in one DELETE and one COPY.
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

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalogue import Catalogue
from services.common.periods import england_today
from services.targets_api.escalations import rules as escalation_rules
from services.targets_api.escalations import service as escalations
from services.targets_api.progress import areas, engine, generation, store
from services.targets_api.progress.isolation import isolating

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Refreshed:
    pairs: int  # (metric, period) pairs whose area values were recomputed
    area_values: int
    targets: int
    set_aside: int  # pairs and targets that failed on their data and were left as they were


async def refresh_queued(
    session: AsyncSession, *, catalogue: Catalogue, today: date | None = None
) -> Refreshed | None:
    """Recompute what the queued change notices touch; None when nothing is queued.

    The queue rows are deleted in the same transaction, so a failed refresh leaves them queued;
    a notice arriving meanwhile is a new row (the queue is appended to), left for the next one.
    """
    await store.lock(session)
    queued = await store.drain_queue(session)
    if not queued:
        return None
    # A notice delivered twice, or a range corrected again, is looked up once.
    ranges = {
        (row.place_code, row.metric_code, row.period_from, row.period_to)
        for row in queued
        if row.period_from is not None
    }
    return await _refresh(
        session,
        catalogue=catalogue,
        pairs=await store.pairs_in_ranges(session, ranges),
        changed={(row.place_code, row.metric_code) for row in queued},
        today=today,
    )


async def refresh_all(
    session: AsyncSession, *, catalogue: Catalogue, today: date | None = None
) -> Refreshed:
    """Recompute every area value and every agreed target from the current observations."""
    await store.lock(session)
    await store.drain_queue(session)
    pairs = await store.all_pairs(session)
    return await _refresh(session, catalogue=catalogue, pairs=pairs, changed=None, today=today)


async def _refresh(
    session: AsyncSession,
    *,
    catalogue: Catalogue,
    pairs: set[tuple[str, str]],
    changed: set[tuple[str, str]] | None,
    today: date | None,
) -> Refreshed:
    """``changed``: the (place, metric) pairs whose own series changed; None for all.
    ``today``: the day the escalation rules judge by (England's today unless a test moves it)."""
    pairs = {(metric, period) for metric, period in pairs if metric in catalogue.metrics}
    started = time.perf_counter()
    if changed is None:
        await store.delete_other_area_values(session, pairs)
    area_values, pairs_set_aside = await _write_area_values(
        session, catalogue=catalogue, pairs=pairs
    )
    areas_done = time.perf_counter()
    targets, targets_set_aside = await _write_target_progress(
        session, catalogue=catalogue, changed=changed
    )
    targets_done = time.perf_counter()
    await store.update_benchmarks(session, pairs=pairs, changed=changed)
    # The escalation rules read what was just written, in the same transaction: a reader never
    # sees a target off track without its escalation, nor one resolved before its figures.
    # They run over every place (a handful of statements), so targets set aside keep theirs.
    raised = await escalations.evaluate_rules(
        session,
        catalogue=catalogue,
        rules=escalation_rules.configured(),
        today=today or england_today(),
    )
    # The reads' ETags and caches are keyed on this; it commits with the figures.
    await generation.bump(session)
    log.info(
        "refresh: %d area values in %.3f s, %d targets in %.3f s, benchmarks and escalation "
        "rules in %.3f s (escalations %s)",
        area_values,
        areas_done - started,
        targets,
        targets_done - areas_done,
        time.perf_counter() - targets_done,
        raised,
    )
    return Refreshed(
        pairs=len(pairs),
        area_values=area_values,
        targets=targets,
        set_aside=pairs_set_aside + targets_set_aside,
    )


async def _write_area_values(
    session: AsyncSession, *, catalogue: Catalogue, pairs: set[tuple[str, str]]
) -> tuple[int, int]:
    """Area values written, and (metric, period) pairs set aside."""
    if not pairs:
        return 0, 0
    ordered = sorted(pairs)
    codes = sorted({m for m, _ in ordered})
    geography = areas.Geography.of(catalogue)
    metrics = areas.Metrics.of([catalogue.metrics[m] for m in codes], geography)
    observed = await store.current_observations(session, ordered, geography.places)
    pair_metric = np.searchsorted(codes, [m for m, _ in ordered]).astype(np.int64)
    computed = areas.area_values(observed, pair_metric, metrics, geography)

    async def write(part: Sequence[int]) -> int:
        values = computed.values.of_pairs(part)
        await store.replace_area_values(session, [ordered[i] for i in part], values, geography)
        return len(values)

    # The figures were computed together; the database may still refuse a pair's rows, and
    # then the write is bisected to that pair.
    written, refused = await isolating(session, computed.kept, write)
    failed = [(ordered[i], areas.OUT_OF_RANGE) for i in computed.set_aside] + [
        (ordered[f.item], f.reason) for f in refused
    ]
    await store.clear_area_values(session, pairs - {pair for pair, _ in failed})
    await store.record_set_aside(
        session,
        [
            {"kind": "area_value", "metric_code": metric, "period": period, "reason": reason}
            for (metric, period), reason in failed
        ],
    )
    return written, len(failed)


async def _write_target_progress(
    session: AsyncSession, *, catalogue: Catalogue, changed: set[tuple[str, str]] | None
) -> tuple[int, int]:
    """Recompute the targets whose own series changed (all when ``changed`` is None), all at
    once (engine.compute); their benchmarks are filled in afterwards with everyone else's.
    Targets written, and set aside: those the engine could not compute, and those the database
    refuses (one statement for all, halved by ``isolating`` only when it fails)."""
    scope = store.target_scope(changed)
    targets, observations = await store.target_series(session, scope, sorted(catalogue.metrics))
    await store.delete_other_progress(session, scope, targets)
    computed = engine.compute(targets, observations, catalogue.metrics)

    async def write(part: Sequence[int]) -> int:
        # ``isolating`` halves the range of row numbers, so each part is a run of them.
        start, stop = part[0], part[0] + len(part)
        await store.upsert_progress(
            session, {name: values[start:stop] for name, values in computed.columns.items()}
        )
        return len(part)

    written, refused = await isolating(session, range(len(computed.positions)), write)
    failed = computed.failed + [(int(computed.positions[f.item]), f.reason) for f in refused]
    await store.clear_targets(
        session,
        scope=scope,
        failed=((int(targets.plan_id[p]), str(targets.metric_code[p])) for p, _ in failed),
    )
    await store.record_set_aside(
        session,
        [
            {
                "kind": "target",
                "metric_code": targets.metric_code[position],
                "plan_id": int(targets.plan_id[position]),
                "place_code": targets.place_code[position],
                "reason": reason,
            }
            for position, reason in failed
        ],
    )
    return written, len(failed)
