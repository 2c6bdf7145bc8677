"""ingest: periodic submissions from place systems (port 8003)."""

from fastapi import FastAPI

from services.common.app import create_app as create_service_app
from services.common.config import CommonSettings


class IngestSettings(CommonSettings):
    pass


def create_app(settings: IngestSettings | None = None, database_url: str | None = None
               ) -> FastAPI:
    return create_service_app(
        service="ingest",
        title="joinedup ingest",
        description="Submissions of observations from place systems: JSON and CSV, idempotent, "
                    "validated row by row, corrections kept as versions.",
        settings=settings or IngestSettings(),
        routers=[],
        database_url=database_url,
    )
