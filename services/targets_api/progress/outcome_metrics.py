"""Outcome metrics for Prometheus and Grafana, read from the materialised progress at each scrape
(four reads; nothing is recomputed per scrape).

Labels are codes only (place, metric, icb, region, status), so series are bounded by the
catalogue; names come once each in ``joinedup_area_info`` and ``joinedup_metric_info`` for
dashboards to join on.
"""

from collections.abc import Iterable

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.telemetry import GaugeFamily, label_text

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


async def outcome_metrics(app: FastAPI, session: AsyncSession) -> Iterable[GaugeFamily]:
    """Every agreed target's latest value, target, expected value, progress and status."""
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
    for row in await session.execute(_TARGETS):
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
        *await _catalogue_info(session),
        await _national_values(session),
    ]


async def _catalogue_info(session: AsyncSession) -> list[GaugeFamily]:
    areas = GaugeFamily("joinedup_area_info", "1 for each area, with its name, level and parent.")
    for code, name, level, parent in await session.execute(_AREAS):
        areas.add(label_text(area=code, name=name, level=level, parent=parent), 1)
    metrics = GaugeFamily("joinedup_metric_info", "1 for each metric at its current version.")
    for code, name, kind, unit, direction, periodicity in await session.execute(_METRICS):
        metrics.add(
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
    return [areas, metrics]


async def _national_values(session: AsyncSession) -> GaugeFamily:
    national = GaugeFamily(
        "joinedup_national_value",
        "England's value at the latest closed period with data, by the metric's aggregation.",
    )
    for row in await session.execute(_NATIONAL):
        national.add(label_text(metric=row.metric_code), row.value)
    return national
