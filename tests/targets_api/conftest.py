"""targets_api in-process, reading its catalogue from the real metrics_api app over ASGI (same
test database), so every check goes through the same HTTP client as in production."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date

import httpx
import pytest

from services.common.periods import england_today
from services.common.vocabulary import WorkerJob
from services.metrics_api.main import create_app as create_metrics_api
from services.targets_api.main import TargetsApiSettings
from services.targets_api.main import create_app as create_targets_api
from services.worker.main import WorkerSettings
from services.worker.main import create_app as create_worker
from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.clients import asgi_client, bearer, client_reading_catalogue
from tests.targets_api.plan_support import Plans


@pytest.fixture
async def metrics_api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """metrics_api in-process on the same database, e.g. to version or retire a metric."""
    async for c in asgi_client(create_metrics_api(database_url=database_url)):
        yield c


@dataclass
class Clock:
    """targets_api's today in the ``client`` fixture: England's real today unless a test sets
    ``clock.today`` (a test whose expectations depend on which periods are closed sets it)."""

    today: date = field(default_factory=england_today)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(database_url: str, make_key, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    # As in production, targets_api refreshes nothing by itself: progress tests refresh when
    # they choose, or run the worker beside it (``refreshing``).
    settings = TargetsApiSettings(
        database_url=database_url,
        service_key=await make_key("service", name="targets_api"),
        metrics_api_url="http://metrics_api",
    )
    async for c in client_reading_catalogue(
        create_targets_api, settings, database_url, today=lambda: clock.today
    ):
        yield c


@pytest.fixture
async def service_key(make_key) -> str:
    return await make_key("service", name="targets_api")


@pytest.fixture
async def worker(database_url, service_key) -> AsyncIterator[httpx.AsyncClient]:
    """The worker app in-process running only the progress refresher, polling every 50 ms;
    the client reaches its /metrics."""
    settings = WorkerSettings(
        database_url=database_url,
        service_key=service_key,
        metrics_api_url="http://metrics_api",
        worker_only=WorkerJob.progress,
        progress_poll_s=0.05,
    )
    async for client in client_reading_catalogue(create_worker, settings, database_url):
        yield client


@pytest.fixture
def refreshing(client, worker) -> httpx.AsyncClient:
    """targets_api (``client``) with the worker refreshing progress beside it."""
    return client


@pytest.fixture
async def steward(make_key) -> dict[str, str]:
    """A steward for West Yorkshire ICB: Leeds and Bradford are in scope, Cornwall is not."""
    return bearer(await make_key("steward", WEST_YORKSHIRE))


@pytest.fixture
def fresh_catalogue(monkeypatch):
    """targets_api asks metrics_api on every read, so a metric made in the test is seen at once.
    Request it before ``client``, which reads its settings from the environment when made."""
    monkeypatch.setenv("JOINEDUP_CATALOGUE_FRESH_S", "0")


@pytest.fixture
async def admin(make_key) -> dict[str, str]:
    return bearer(await make_key("admin"))


@pytest.fixture
async def viewer(make_key) -> dict[str, str]:
    return bearer(await make_key("viewer"))


@pytest.fixture
async def plans(client, steward, make_key) -> Plans:
    return Plans(
        client,
        steward,
        bearer(await make_key("signatory", LEEDS)),
        bearer(await make_key("signatory", WEST_YORKSHIRE)),
    )
