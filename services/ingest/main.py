"""ingest: periodic submissions from place systems (port 8003)."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
from fastapi import FastAPI

from services.common.app import create_app as create_service_app
from services.ingest.clients.metrics_api import MetricsApiClient
from services.ingest.completeness.endpoints import router as completeness_router
from services.ingest.config import IngestSettings
from services.ingest.observations.endpoints import router as observations_router
from services.ingest.outbox import outbox_deliverer
from services.ingest.submissions.endpoints import router as submissions_router


def _metrics_api_client(transport: httpx.AsyncBaseTransport | None
                        ) -> Callable[[FastAPI], AbstractAsyncContextManager[MetricsApiClient]]:
    @asynccontextmanager
    async def open_client(app: FastAPI) -> AsyncIterator[MetricsApiClient]:
        settings: IngestSettings = app.state.settings
        async with MetricsApiClient(
            settings.metrics_api_url, settings.service_key,
            timeout_s=settings.catalogue_timeout_s, retries=settings.catalogue_retries,
            fresh_s=settings.catalogue_fresh_s, max_stale_s=settings.catalogue_max_stale_s,
            transport=transport,
        ) as client:
            app.state.metrics_api = client
            yield client

    return open_client


def create_app(settings: IngestSettings | None = None, database_url: str | None = None,
               metrics_api_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """``metrics_api_transport`` reaches metrics_api without the network (tests run the real
    metrics_api app in-process); by default it is found at JOINEDUP_METRICS_API_URL."""
    settings = settings or IngestSettings()
    resources = [_metrics_api_client(metrics_api_transport)]
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
    )
