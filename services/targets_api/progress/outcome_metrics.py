"""Outcome metrics for Prometheus and Grafana, read from the materialised progress (nothing is
recomputed per scrape).

A scrape costs one query while nothing it shows has changed: the exposition built last is kept
with what it was built from (the refresh generation, the areas and metrics, the agreed plans and
England's today), and built again only when one of those moves. The build (50,000 samples at
national scale) runs in a thread, so the event loop goes on answering requests meanwhile.

Labels are codes only (place, metric, icb, region, status), so series are bounded by the
catalogue; names come once each in ``joinedup_area_info`` and ``joinedup_metric_info`` for
dashboards to join on.
"""

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.telemetry import GaugeFamily, label_text
from services.targets_api.progress import store


async def outcome_metrics(app: FastAPI, session: AsyncSession) -> list[GaugeFamily]:
    """Every agreed target's latest value, target, expected value, progress and status, the
    areas' and metrics' names, and England's values."""
    state = await store.scrape_state(session)
    kept: tuple[tuple[Any, ...], list[GaugeFamily]] | None = getattr(
        app.state, "outcome_exposition", None
    )
    if kept is not None and kept[0] == state:
        return kept[1]
    # Read after the state (READ COMMITTED): these figures are of that state or a newer one,
    # so what is kept under it is never older than it.
    targets, areas, metrics, national = await store.scrape_rows(session)
    families = await asyncio.to_thread(_families, targets, areas, metrics, national)
    app.state.outcome_exposition = (state, families)
    return families


def _families(
    targets: Sequence[Any],
    areas: Sequence[Any],
    metrics: Sequence[Any],
    national: Sequence[Any],
) -> list[GaugeFamily]:
    value = GaugeFamily("joinedup_outcome_value", "The target's latest reported value.")
    target = GaugeFamily("joinedup_outcome_target", "The value the target aims for.")
    expected = GaugeFamily(
        "joinedup_outcome_expected",
        "The trajectory's (or the straight line's) value at the latest period.",
    )
    progress = GaugeFamily(
        "joinedup_outcome_progress_ratio",
        "(latest - baseline) / (target - baseline): 1 is the whole way.",
    )
    status = GaugeFamily("joinedup_outcome_status", "1 for the target's current progress status.")
    off_track = GaugeFamily(
        "joinedup_outcome_consecutive_off_track_periods",
        "How many of the latest reported periods in a row were off track.",
    )
    latest_end = GaugeFamily(
        "joinedup_outcome_latest_period_end_timestamp_seconds",
        "When the latest reported period ended (UTC).",
    )
    for row in targets:
        labels = label_text(
            place=row.place_code, metric=row.metric_code, icb=row.icb, region=row.region
        )
        target.add(labels, row.target_value)
        status.add(f'{labels},status="{row.status}"', 1)
        off_track.add(labels, row.consecutive_off_track)
        for family, reading in (
            (value, row.latest_value),
            (expected, row.expected_value),
            (latest_end, row.latest_end),
        ):
            if reading is not None:
                family.add(labels, reading)
        if row.progress_pct is not None:
            progress.add(labels, row.progress_pct / 100)
    return [
        value,
        target,
        expected,
        progress,
        status,
        off_track,
        latest_end,
        *_catalogue_info(areas, metrics),
        _national_values(national),
    ]


def _catalogue_info(areas: Sequence[Any], metrics: Sequence[Any]) -> list[GaugeFamily]:
    area_info = GaugeFamily(
        "joinedup_area_info", "1 for each area, with its name, level and parent."
    )
    for code, name, level, parent in areas:
        area_info.add(label_text(area=code, name=name, level=level, parent=parent), 1)
    metric_info = GaugeFamily("joinedup_metric_info", "1 for each metric at its current version.")
    for code, name, kind, unit, direction, periodicity in metrics:
        metric_info.add(
            label_text(
                metric=code,
                name=name,
                kind=kind,
                unit=unit,
                direction=direction,
                periodicity=periodicity,
            ),
            1,
        )
    return [area_info, metric_info]


def _national_values(rows: Sequence[Any]) -> GaugeFamily:
    national = GaugeFamily(
        "joinedup_national_value",
        "England's value at the latest closed period with data, by the metric's aggregation.",
    )
    for row in rows:
        national.add(label_text(metric=row.metric_code), row.value)
    return national


async def set_aside_metrics(app: FastAPI, session: AsyncSession) -> Iterable[GaugeFamily]:
    """How many items the refresh has set aside, by kind (read at each scrape; 0 is healthy)."""
    gauge = GaugeFamily(
        "joinedup_progress_set_aside",
        "(metric, period) pairs and targets whose progress could not be "
        "computed from their data, so their figures are stale.",
    )
    for kind, count in (await store.set_aside_counts(session)).items():
        gauge.add(label_text(kind=kind), count)
    return [gauge]
