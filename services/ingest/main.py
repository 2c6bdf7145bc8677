"""ingest: periodic submissions from place systems (port 8003)."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
from fastapi import FastAPI

from services.common.app import create_app as create_service_app
from services.common.catalogue import catalogue_client
from services.ingest.completeness.endpoints import router as completeness_router
from services.ingest.config import IngestSettings
from services.ingest.observations.endpoints import router as observations_router
from services.ingest.outbox import outbox_deliverer
from services.ingest.submissions.endpoints import router as submissions_router
from services.ingest.timeliness_metrics import timeliness_metrics


def create_app(
    settings: IngestSettings | None = None,
    database_url: str | None = None,
    metrics_api_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``metrics_api_transport``: see services.common.catalogue.catalogue_client."""
    settings = settings or IngestSettings()
    resources: list[Callable[[FastAPI], AbstractAsyncContextManager[object]]] = [
        catalogue_client(metrics_api_transport)
    ]
    if settings.outbox_enabled:
        resources.append(outbox_deliverer)
    return create_service_app(
        service="ingest",
        title="joinedup ingest",
        description="Submissions of observations from place systems: JSON and CSV, idempotent, "
        "validated row by row, corrections kept as versions.",
        settings=settings,
        routers=[submissions_router, observations_router, completeness_router],
        database_url=database_url,
        resources=resources,
        scrape_collectors=[timeliness_metrics],
    )
