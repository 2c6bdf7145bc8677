"""The three services in-process on the test's database, with settings a security test needs
(a small body limit, a rate limit); targets_api and ingest read their catalogue from the real
metrics_api app over ASGI, as in their own test packages."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, aclosing, asynccontextmanager
from typing import Any

import httpx
import pytest

from services.ingest.config import IngestSettings
from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import MetricsApiSettings
from services.metrics_api.main import create_app as create_metrics_api
from services.targets_api.main import TargetsApiSettings
from services.targets_api.main import create_app as create_targets_api
from tests.support.clients import asgi_client, client_reading_catalogue

OpenService = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def open_service(database_url: str, make_key) -> OpenService:
    default_url = database_url
    """``async with open_service("ingest", max_body_bytes=100) as client``: one service with
    some settings changed, torn down when the block ends; ``url`` another address of the test's
    database (one with a password, say)."""

    @asynccontextmanager
    async def open_(
        service: str, *, url: str | None = None, **settings: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        database_url = url or default_url
        if service == "metrics_api":
            app = create_metrics_api(
                MetricsApiSettings(database_url=database_url, **settings), database_url=database_url
            )
            clients = asgi_client(app)
        elif service == "targets_api":
            clients = client_reading_catalogue(
                create_targets_api,
                TargetsApiSettings(
                    database_url=database_url,
                    metrics_api_url="http://metrics_api",
                    service_key=await make_key("service", name="targets_api"),
                    **settings,
                ),
                database_url,
            )
        else:
            clients = client_reading_catalogue(
                create_ingest,
                IngestSettings(
                    database_url=database_url,
                    metrics_api_url="http://metrics_api",
                    service_key=await make_key("service", name="ingest"),
                    **settings,
                ),
                database_url,
            )
        async with aclosing(clients):
            yield await anext(clients)

    return open_
