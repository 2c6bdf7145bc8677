"""Reaching a service app in-process: over ASGI with its startup and shutdown run, optionally
with its catalogue read from the real metrics_api app; and the header a key goes in."""

from collections.abc import AsyncIterator, Callable
from datetime import date

import httpx

from services.common import clock
from services.common.roles import as_role
from services.ingest.config import IngestSettings
from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import create_app as create_metrics_api


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def asgi_client(app) -> AsyncIterator[httpx.AsyncClient]:
    """A client for one service app in-process, with its startup and shutdown run."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client,
    ):
        yield client


async def client_reading_catalogue(
    create_app, settings, database_url: str, *, today: Callable[[], date] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A service in-process whose catalogue comes from the real metrics_api app over ASGI on the
    same database, so every check goes through the same HTTP client as in production. Both
    connect as their services' database roles (services/common/roles.py).
    ``today``: the service's clock (services.common.clock.today), for views that depend on it."""
    metrics_api = create_metrics_api(database_url=as_role(database_url, "metrics_api"))
    async with metrics_api.router.lifespan_context(metrics_api):
        app = create_app(
            settings,
            # Each service as its own database role, as in production: services.<name>.main.
            database_url=as_role(database_url, create_app.__module__.split(".")[1]),
            metrics_api_transport=httpx.ASGITransport(app=metrics_api),
        )
        if today is not None:
            app.dependency_overrides[clock.today] = today
        async for client in asgi_client(app):
            yield client


async def ingest_client(database_url: str, service_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """ingest in-process on the database, its catalogue read from metrics_api as above."""
    settings = IngestSettings(
        database_url=database_url, service_key=service_key, metrics_api_url="http://metrics_api"
    )
    async for client in client_reading_catalogue(create_ingest, settings, database_url):
        yield client
