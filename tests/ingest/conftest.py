"""ingest in-process, reading its catalogue from the real metrics_api app (see
client_reading_catalogue in tests/support/clients.py). Bodies to submit are in
tests/support/submissions.py."""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.ingest.config import IngestSettings
from services.ingest.main import create_app as create_ingest
from tests.support.areas import WEST_YORKSHIRE
from tests.support.clients import bearer, client_reading_catalogue


@pytest.fixture
async def client(database_url: str, make_key) -> AsyncIterator[httpx.AsyncClient]:
    settings = IngestSettings(
        database_url=database_url,
        service_key=await make_key("service", name="ingest"),
        metrics_api_url="http://metrics_api",
    )
    async for c in client_reading_catalogue(create_ingest, settings, database_url):
        yield c


@pytest.fixture
async def submitter(make_key) -> dict[str, str]:
    """A submitter for West Yorkshire ICB: Leeds and Bradford are in scope, Cornwall is not."""
    return bearer(await make_key("submitter", WEST_YORKSHIRE))
