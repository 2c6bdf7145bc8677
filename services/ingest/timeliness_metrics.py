"""Timeliness for Prometheus, read from the database at each scrape (so every ingest process
and replica reports the same): when each place last submitted, and which places are overdue
with a metric's latest period."""

from collections.abc import Iterable

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.periods import england_today
from services.common.telemetry import GaugeFamily, label_text
from services.ingest.completeness.service import overdue

_LAST_SUBMISSION = text("""
    SELECT place_code, extract(epoch FROM max(received_at)) AS at
    FROM submission, unnest(place_codes) AS place_code
    GROUP BY place_code ORDER BY place_code
""")


async def timeliness_metrics(app: FastAPI, session: AsyncSession) -> Iterable[GaugeFamily]:
    last = GaugeFamily(
        "joinedup_ingest_last_submission_timestamp_seconds",
        "When the place's latest stored submission was received.",
    )
    for row in await session.execute(_LAST_SUBMISSION):
        last.add(label_text(place=row.place_code), row.at)
    late = GaugeFamily(
        "joinedup_completeness_overdue",
        "1 when the metric's latest period past its submission deadline has no "
        "data from the place, else 0.",
    )
    catalogue = await app.state.metrics_api.catalogue()
    for place, metric, _period, is_overdue in await overdue(
        session, catalogue=catalogue, today=england_today()
    ):
        late.add(label_text(place=place, metric=metric), int(is_overdue))
    return [last, late]
