"""ingest: periodic submissions from place systems (port 8003)."""

import httpx
from fastapi import FastAPI

from services.common.app import create_app as create_service_app
from services.common.catalogue import catalogue_client
from services.ingest.completeness.endpoints import router as completeness_router
from services.ingest.config import IngestSettings
from services.ingest.dhis2.endpoints import router as dhis2_router
from services.ingest.fhir.endpoints import router as fhir_router
from services.ingest.observations.endpoints import router as observations_router
from services.ingest.submissions.admission import admission_gate
from services.ingest.submissions.endpoints import router as submissions_router
from services.ingest.timeliness_metrics import timeliness_metrics


def create_app(
    settings: IngestSettings | None = None,
    database_url: str | None = None,
    metrics_api_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``metrics_api_transport``: see services.common.catalogue.catalogue_client. Its outbox
    is delivered by the worker process (services/worker), not from here."""
    settings = settings or IngestSettings()
    return create_service_app(
        service="ingest",
        title="joinedup ingest",
        description="Submissions of observations from place systems: JSON and CSV, idempotent, "
        "validated row by row, corrections kept as versions; DHIS2 dataValueSets and FHIR "
        "MeasureReports too.",
        settings=settings,
        routers=[
            submissions_router,
            observations_router,
            completeness_router,
            dhis2_router,
            fhir_router,
        ],
        database_url=database_url,
        resources=[catalogue_client(metrics_api_transport), admission_gate(settings.db_pool_size)],
        scrape_collectors=[timeliness_metrics],
    )
