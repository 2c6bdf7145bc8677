"""metrics_api: the catalogue of areas and metric definitions (port 8001)."""

from fastapi import FastAPI

from services.common.app import create_app as create_service_app
from services.common.config import CommonSettings
from services.metrics_api.areas.endpoints import router as areas_router
from services.metrics_api.fhir.endpoints import router as fhir_router
from services.metrics_api.metrics.endpoints import router as metrics_router


class MetricsApiSettings(CommonSettings):
    pass


def create_app(
    settings: MetricsApiSettings | None = None, database_url: str | None = None
) -> FastAPI:
    return create_service_app(
        service="metrics_api",
        title="joinedup metrics_api",
        description="The area hierarchy (England > regions > ICBs > places) and the versioned "
        "national and local metric definitions.",
        settings=settings or MetricsApiSettings(),
        routers=[areas_router, metrics_router, fhir_router],
        database_url=database_url,
    )
