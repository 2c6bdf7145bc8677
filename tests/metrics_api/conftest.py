from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.roles import as_role
from services.metrics_api.main import MetricsApiSettings, create_app
from tests.support.clients import asgi_client, bearer


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """metrics_api over ASGI, on the test's own database, as its own database role."""
    app = create_app(
        MetricsApiSettings(database_url=database_url),
        database_url=as_role(database_url, "metrics_api"),
    )
    async for c in asgi_client(app):
        yield c


@pytest.fixture
async def admin_key(make_key) -> str:
    return await make_key("admin")


@pytest.fixture
def as_admin(admin_key: str) -> dict[str, str]:
    """Headers that authenticate as an admin."""
    return bearer(admin_key)
