"""Timeliness for Prometheus, read from the database at each scrape (so every ingest process
and replica reports the same): when each place last submitted, and which places are overdue
with a metric's latest period."""

from collections.abc import Iterable

from fastapi import FastAPI
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.periods import england_today
from services.ingest.completeness.service import overdue

_LAST_SUBMISSION = text("""
    SELECT place_code, extract(epoch FROM max(received_at)) AS at
    FROM submission, unnest(place_codes) AS place_code
    GROUP BY place_code ORDER BY place_code
""")


async def timeliness_metrics(app: FastAPI, session: AsyncSession) -> Iterable[Metric]:
    last = GaugeMetricFamily("joinedup_ingest_last_submission_timestamp_seconds",
                             "When the place's latest stored submission was received.",
                             labels=["place"])
    for row in await session.execute(_LAST_SUBMISSION):
        last.add_metric([row.place_code], float(row.at))
    late = GaugeMetricFamily(
        "joinedup_completeness_overdue",
        "1 when the metric's latest period past its submission deadline has no data from "
        "the place, else 0.", labels=["place", "metric"])
    catalogue = await app.state.metrics_api.catalogue()
    for place, metric, _period, is_overdue in await overdue(session, catalogue=catalogue,
                                                             today=england_today()):
        late.add_metric([place, metric], int(is_overdue))
    return [last, late]
