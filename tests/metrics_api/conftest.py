from collections.abc import AsyncIterator

import httpx
import pytest

from services.metrics_api.main import MetricsApiSettings, create_app
from tests.conftest import asgi_client


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """metrics_api over ASGI, on the test's own database."""
    app = create_app(MetricsApiSettings(database_url=database_url), database_url=database_url)
    async for c in asgi_client(app):
        yield c
