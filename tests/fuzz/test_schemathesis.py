"""Fuzzing every service's OpenAPI schema with schemathesis, authenticated as an admin: no
operation may answer 5xx or anything its schema does not declare (status, content type, body).

Each operation is one test: its service runs in-process over ASGI on the test's own database
(the examples of one operation share it; admin writes change it as they go), with its
background worker off. The internal route targets_api takes ingest's change notices on is
fuzzed too; ``/metrics`` is not in the schemas, so it is not.

CI runs 100 examples per operation. Measured in one process on the 2-core machine with other
work sharing it, the 39 operations took 78 s (39 s of CPU) at 10 examples, 189 s (70 s of CPU)
at 100 and 150 to 250 s (105 s of CPU) at 150: 100 keeps the fuzz's addition to CI well under
three minutes, with room for the suite to grow. Set JOINEDUP_FUZZ_EXAMPLES for a longer run:
150 is the acceptance run (no 5xx on any of the three schemas), 500 a soak.
"""

import asyncio
import os
from collections.abc import Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient, get_client
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.ingest.config import IngestSettings
from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import MetricsApiSettings
from services.metrics_api.main import create_app as create_metrics_api
from services.targets_api.main import TargetsApiSettings
from services.targets_api.main import create_app as create_targets_api
from tests.support.clients import bearer

MAX_EXAMPLES = int(os.environ.get("JOINEDUP_FUZZ_EXAMPLES", "100"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture
def admin(make_key) -> dict[str, str]:
    return bearer(asyncio.run(make_key("admin")))


def reading_catalogue(create_app, service_settings, database_url: str):
    """``create_app`` with its catalogue read from a metrics_api app over ASGI; that app's
    lifespan runs inside the service's, as schemathesis starts only the app it calls."""
    metrics_api = create_metrics_api(database_url=database_url)
    app = create_app(
        service_settings,
        database_url=database_url,
        metrics_api_transport=httpx.ASGITransport(app=metrics_api),
    )
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_):
        async with metrics_api.router.lifespan_context(metrics_api), service_lifespan(app_):
            yield

    app.router.lifespan_context = lifespan
    return app


# The schemas are read from apps built without a database (none is reached to render them);
# each test then calls an app of its own, on its own database.
NO_DATABASE = "postgresql+psycopg://fuzz@127.0.0.1:1/fuzz"
metrics_api = schemathesis.openapi.from_dict(create_metrics_api(database_url=NO_DATABASE).openapi())
targets_api = schemathesis.openapi.from_dict(
    create_targets_api(TargetsApiSettings(database_url=NO_DATABASE), NO_DATABASE).openapi()
)
ingest = schemathesis.openapi.from_dict(
    create_ingest(IngestSettings(database_url=NO_DATABASE), NO_DATABASE).openapi()
)


def in_process(app) -> Iterator[ASGIClient]:
    """A client calling ``app`` over ASGI; schemathesis ends the app's lifespan after the test."""
    with get_client(app) as client:
        yield client


@pytest.fixture
def metrics_api_client(database_url: str) -> Iterator[ASGIClient]:
    yield from in_process(
        create_metrics_api(MetricsApiSettings(database_url=database_url), database_url=database_url)
    )


@pytest.fixture
def targets_api_client(database_url: str, make_key) -> Iterator[ASGIClient]:
    service_settings = TargetsApiSettings(
        database_url=database_url,
        metrics_api_url="http://metrics_api",
        service_key=asyncio.run(make_key("service", name="targets_api")),
    )
    yield from in_process(reading_catalogue(create_targets_api, service_settings, database_url))


@pytest.fixture
def ingest_client(database_url: str, make_key) -> Iterator[ASGIClient]:
    service_settings = IngestSettings(
        database_url=database_url,
        metrics_api_url="http://metrics_api",
        service_key=asyncio.run(make_key("service", name="ingest")),
    )
    yield from in_process(reading_catalogue(create_ingest, service_settings, database_url))


def call_and_check(case: schemathesis.Case, client: ASGIClient, admin: dict[str, str]) -> None:
    case.call_and_validate(session=client, base_url=client.base_url, headers=admin, checks=CHECKS)


@metrics_api.parametrize()
@FUZZ_SETTINGS
def test_metrics_api(case, metrics_api_client, admin):
    call_and_check(case, metrics_api_client, admin)


@targets_api.parametrize()
@FUZZ_SETTINGS
def test_targets_api(case, targets_api_client, admin):
    call_and_check(case, targets_api_client, admin)


@ingest.parametrize()
@FUZZ_SETTINGS
def test_ingest(case, ingest_client, admin):
    call_and_check(case, ingest_client, admin)
