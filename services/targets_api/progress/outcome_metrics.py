"""Outcome metrics for Prometheus and Grafana, read from the materialised progress at each scrape
(three indexed reads; nothing is recomputed per scrape).

Labels are codes only (place, metric, icb, region, status), so series are bounded by the
catalogue; names come once each in ``joinedup_area_info`` and ``joinedup_metric_info`` for
dashboards to join on.
"""

from collections.abc import Iterable

from fastapi import FastAPI
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.targets_api.progress.schemas import Status

STATUSES: tuple[Status, ...] = ("achieved", "on_track", "at_risk", "off_track", "no_data",
                                "not_assessed")
OUTCOME_LABELS = ["place", "metric", "icb", "region"]

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
_NATIONAL = text("""
    SELECT DISTINCT ON (metric_code) metric_code, value FROM area_value
    WHERE level = 'nation' AND value IS NOT NULL
    ORDER BY metric_code, period_index(period) DESC
""")


def _gauge(name: str, documentation: str, labels: list[str] = OUTCOME_LABELS
           ) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


async def outcome_metrics(app: FastAPI, session: AsyncSession) -> Iterable[Metric]:
    """Every agreed target's latest value, target, expected value, progress and status."""
    value = _gauge("joinedup_outcome_value", "The target's latest reported value.")
    target = _gauge("joinedup_outcome_target", "The value the target aims for.")
    expected = _gauge("joinedup_outcome_expected",
                      "The trajectory's (or the straight line's) value at the latest period.")
    progress = _gauge("joinedup_outcome_progress_ratio",
                      "(latest - baseline) / (target - baseline): 1 is the whole way.")
    status = _gauge("joinedup_outcome_status", "1 for the target's current progress status.",
                    [*OUTCOME_LABELS, "status"])
    off_track = _gauge("joinedup_outcome_consecutive_off_track_periods",
                       "How many of the latest reported periods in a row were off track.")
    latest_end = _gauge("joinedup_outcome_latest_period_end_timestamp_seconds",
                        "When the latest reported period ended (UTC).")
    for row in await session.execute(_TARGETS):
        labels = [row.place_code, row.metric_code, row.icb, row.region]
        target.add_metric(labels, row.target_value)
        status.add_metric([*labels, row.status], 1)
        off_track.add_metric(labels, row.consecutive_off_track)
        for family, reading in ((value, row.latest_value), (expected, row.expected_value),
                                (latest_end, row.latest_end)):
            if reading is not None:
                family.add_metric(labels, float(reading))
        if row.progress_pct is not None:
            progress.add_metric(labels, row.progress_pct / 100)
    return [value, target, expected, progress, status, off_track, latest_end,
            *await _catalogue_info(session), await _national_values(session)]


async def _catalogue_info(session: AsyncSession) -> list[Metric]:
    areas = _gauge("joinedup_area_info", "1 for each area, with its name, level and parent.",
                   ["area", "name", "level", "parent"])
    for row in await session.execute(_AREAS):
        areas.add_metric(list(row), 1)
    metrics = _gauge("joinedup_metric_info", "1 for each metric at its current version.",
                     ["metric", "name", "kind", "unit", "direction", "periodicity"])
    for row in await session.execute(_METRICS):
        metrics.add_metric(list(row), 1)
    return [areas, metrics]


async def _national_values(session: AsyncSession) -> Metric:
    national = _gauge("joinedup_national_value",
                      "England's value at the latest period with data, by the metric's "
                      "aggregation.", ["metric"])
    for row in await session.execute(_NATIONAL):
        national.add_metric([row.metric_code], row.value)
    return national
