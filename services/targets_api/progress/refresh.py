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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalogue import Catalogue
from services.targets_api.progress import engine, generation, store
from services.targets_api.progress.isolation import isolating
from services.targets_api.progress.reference import with_interval

log = logging.getLogger(__name__)


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
    await store.lock(session)
    queued = await store.drain_queue(session)
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
    await store.lock(session)
    await store.drain_queue(session)
    pairs = await store.all_pairs(session)
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
    # The reads' ETags and caches are keyed on this; it commits with the figures.
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
        rolled = await store.roll_up(
            session, metrics_json=metrics_json, places_json=places_json, pairs=part
        )
        national = {
            (r["metric_code"], r["period"]): r["value"] for r in rolled if r["level"] == "nation"
        }
        rows = [
            with_interval(
                dict(r), metrics[r["metric_code"]], national.get((r["metric_code"], r["period"]))
            )
            for r in rolled
        ]
        await store.replace_area_values(session, part, rows)
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
