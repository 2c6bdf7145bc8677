"""ingest in-process, reading its catalogue from the real metrics_api app (see
ingest_client in tests/support/clients.py). Bodies to submit are in
tests/support/submissions.py."""

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.areas import WEST_YORKSHIRE
from tests.support.clients import bearer, ingest_client


@pytest.fixture
async def client(database_url: str, make_key) -> AsyncIterator[httpx.AsyncClient]:
    async for c in ingest_client(database_url, await make_key("service", name="ingest")):
        yield c


@pytest.fixture
async def submitter(make_key) -> dict[str, str]:
    """A submitter for West Yorkshire ICB: Leeds and Bradford are in scope, Cornwall is not."""
    return bearer(await make_key("submitter", WEST_YORKSHIRE))
