"""The catalogue client against a real metrics_api process on the test's database."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from pydantic import ValidationError

from services.common import catalogue as metrics_api_client
from services.common.catalogue import MetricsApiClient
from services.common.errors import ServiceUnavailable
from services.common.http import PeerAuthRejected, PeerRejected, PeerUnavailable
from services.metrics_api.metrics.schemas import MetricDefinitionIn
from tests.support.areas import LEEDS
from tests.support.clients import bearer
from tests.support.clock import ManualClock
from tests.support.prometheus import counted
from tests.support.services import ServiceProcess, free_port

FALLS = "bcf-falls-65plus"
# Every wait on a client is bounded, so a hang fails the test instead of stalling the run.
BOUND_S = 60.0


class Seen:
    """What a client actually sent and got back, recorded by httpx event hooks."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.responses: list[tuple[str, int]] = []

    async def _request(self, request: httpx.Request) -> None:
        self.requests.append(request.url.path)

    async def _response(self, response: httpx.Response) -> None:
        self.responses.append((response.request.url.path, response.status_code))

    @property
    def hooks(self) -> dict:
        return {"request": [self._request], "response": [self._response]}


ClientFactory = Callable[..., tuple[MetricsApiClient, Seen]]


@pytest.fixture
def metrics_api(database_url: str) -> Iterator[ServiceProcess]:
    with ServiceProcess.for_service("metrics_api", database_url) as service:
        yield service


@pytest.fixture
async def service_key(make_key) -> str:
    return await make_key("viewer", name="ingest")


@pytest.fixture
async def make_client(service_key: str) -> AsyncIterator[ClientFactory]:
    """``make_client(url, **options)``: a client with the service key, closed after the test."""
    clients: list[MetricsApiClient] = []

    def make(
        url: str, *, key: str | None = service_key, **options
    ) -> tuple[MetricsApiClient, Seen]:
        seen = Seen()
        clients.append(MetricsApiClient(url, key, event_hooks=seen.hooks, **options))
        return clients[-1], seen

    yield make
    for client in clients:
        await client.aclose()


async def catalogue_of(client: MetricsApiClient, **options):
    return await asyncio.wait_for(client.catalogue(**options), BOUND_S)


def answered(service: ServiceProcess, route: str, status: int) -> float:
    """How many requests to ``route`` the service answered with ``status``, from /metrics."""
    text = httpx.get(f"{service.url}/metrics", timeout=5.0).text
    return counted(text, "joinedup_http_requests_total", route=route, status=str(status))


async def test_the_catalogue_has_every_area_and_metric_typed(metrics_api, make_client):
    client, _ = make_client(metrics_api.url)
    catalogue = await catalogue_of(client)

    assert (len(catalogue.areas), len(catalogue.metrics)) == (203, 13)
    assert catalogue.lineage(LEEDS) == [LEEDS, "E54000054", "E40000012", "E92000001"]
    assert catalogue.lineage("E92000001") == ["E92000001"]
    assert catalogue.lineage("E99999999") == []
    leeds = catalogue.area(LEEDS)
    assert leeds is not None
    assert (leeds.name, leeds.level, leeds.parent_code, leeds.population) == (
        "Leeds",
        "place",
        "E54000054",
        829413,
    )
    falls = catalogue.metric(FALLS)
    assert falls is not None
    assert (
        falls.version,
        falls.status,
        falls.scope,
        falls.kind,
        falls.multiplier,
        falls.direction,
        falls.periodicity,
        falls.mandatory,
    ) == (1, "active", "national", "rate", 100000, "lower_is_better", "quarterly", True)
    assert catalogue.metric("no-such-metric") is None and catalogue.area("E99999999") is None
    assert not catalogue.stale
    with pytest.raises(ValidationError):
        leeds.name = "Changed"  # type: ignore[misc]


async def test_every_page_is_walked(metrics_api, make_client, monkeypatch):
    # Smaller pages than metrics_api's maximum, so 203 areas span five of them.
    monkeypatch.setattr(metrics_api_client, "PAGE_SIZE", 50)
    client, seen = make_client(metrics_api.url)

    catalogue = await catalogue_of(client)

    assert len(catalogue.areas) == 203 and len(catalogue.metrics) == 13
    assert seen.requests == ["/v1/areas"] * 5 + ["/v1/metrics"]


async def test_within_the_fresh_window_no_request_is_made(metrics_api, make_client):
    clock = ManualClock()
    client, seen = make_client(metrics_api.url, fresh_s=5, clock=clock)
    first = await catalogue_of(client)
    clock.advance(4.9)
    second = await catalogue_of(client)

    assert seen.responses == [("/v1/areas", 200), ("/v1/metrics", 200)]
    assert second.areas == first.areas and second.metrics == first.metrics

    # Asking to revalidate skips the window, and nothing having changed, gets 304s.
    await catalogue_of(client, revalidate=True)
    assert seen.responses[2:] == [("/v1/areas", 304), ("/v1/metrics", 304)]

    # The revalidation confirmed the copy: a new window starts from it, and ends 5 s later.
    clock.advance(4.9)
    await catalogue_of(client)
    assert len(seen.responses) == 4
    clock.advance(0.1)
    await catalogue_of(client)
    assert seen.responses[4:] == [("/v1/areas", 304), ("/v1/metrics", 304)]


async def test_a_copy_is_confirmed_only_when_it_lacks_a_code(metrics_api, make_client):
    client, seen = make_client(metrics_api.url, fresh_s=3600)
    catalogue = await catalogue_of(client)
    assert catalogue.area(LEEDS) and catalogue.metric(FALLS)

    same = await client.knowing(catalogue, areas=[LEEDS], metrics=[FALLS])
    assert same is catalogue and len(seen.responses) == 2  # everything known: no request

    # An unknown code may have been added since: metrics_api is asked (a 304 here).
    await client.knowing(catalogue, areas=["E99999999"])
    assert seen.responses[2:] == [("/v1/areas", 304), ("/v1/metrics", 304)]


async def test_after_the_fresh_window_a_revalidation_gets_304(metrics_api, make_client):
    client, seen = make_client(metrics_api.url, fresh_s=0)
    first = await catalogue_of(client)
    before = answered(metrics_api, "/v1/areas", 304)

    second = await catalogue_of(client)

    assert answered(metrics_api, "/v1/areas", 304) == before + 1
    assert seen.responses[2:] == [("/v1/areas", 304), ("/v1/metrics", 304)]
    assert second.areas == first.areas and not second.stale


async def test_a_new_metric_version_shows_after_revalidation(metrics_api, make_client, make_key):
    revalidating, _ = make_client(metrics_api.url, fresh_s=0)
    caching, _ = make_client(metrics_api.url, fresh_s=3600)
    for client in (revalidating, caching):
        assert (await catalogue_of(client)).metric(FALLS).version == 1

    admin = bearer(await make_key("admin"))
    async with httpx.AsyncClient(base_url=metrics_api.url, timeout=10.0) as http:
        current = (await http.get(f"/v1/metrics/{FALLS}", headers=admin)).json()
        definition = {name: current[name] for name in MetricDefinitionIn.model_fields}
        changed = await http.put(
            f"/v1/metrics/{FALLS}", headers=admin, json={**definition, "valid_max": 5000.0}
        )
    assert changed.status_code == 200 and changed.json()["version"] == 2

    falls = (await catalogue_of(revalidating)).metric(FALLS)
    assert (falls.version, falls.valid_max) == (2, 5000.0)
    # Within its fresh window a client keeps its copy until it is told to revalidate.
    assert (await catalogue_of(caching)).metric(FALLS).version == 1
    assert (await catalogue_of(caching, revalidate=True)).metric(FALLS).version == 2


async def test_while_metrics_api_is_down_the_cache_serves_within_the_window(
    metrics_api, make_client
):
    clock = ManualClock()
    client, seen = make_client(metrics_api.url, fresh_s=5, retries=1, max_stale_s=60, clock=clock)
    warm = await catalogue_of(client)

    metrics_api.kill()
    clock.advance(10)  # past the fresh window: metrics_api is asked, and is not there
    stale = await catalogue_of(client)
    assert stale.stale and stale.age_s == 10
    assert stale.metrics == warm.metrics and stale.lineage(LEEDS) == warm.lineage(LEEDS)
    assert seen.responses == [("/v1/areas", 200), ("/v1/metrics", 200)]

    clock.advance(49)  # asked again, still not there; the copy is 59 s old
    assert (await catalogue_of(client)).age_s == 59
    clock.advance(1)  # 60 s since metrics_api last confirmed it: too old to serve
    with pytest.raises(PeerUnavailable) as refused:
        await catalogue_of(client)
    assert isinstance(refused.value, ServiceUnavailable) and refused.value.status == 503
    assert refused.value.headers["Retry-After"] == str(refused.value.retry_after_s)

    metrics_api.start()
    clock.advance(5)  # the failed round is left alone for the fresh window
    back = await catalogue_of(client)
    assert not back.stale and back.age_s == 0
    assert seen.responses[2:] == [("/v1/areas", 304), ("/v1/metrics", 304)]


async def test_with_no_cache_an_unreachable_peer_is_retried_then_unavailable(make_client):
    nobody = f"http://127.0.0.1:{free_port()}"
    clock = ManualClock()
    client, seen = make_client(nobody, retries=2, fresh_s=5, clock=clock)

    # Many callers at once share one round of attempts instead of each hammering the peer.
    results = await asyncio.wait_for(
        asyncio.gather(*(client.catalogue() for _ in range(10)), return_exceptions=True), BOUND_S
    )

    assert all(isinstance(result, PeerUnavailable) for result in results)
    assert results[0].peer == "metrics_api" and results[0].retry_after_s > 0
    assert seen.requests == ["/v1/areas"] * 3
    # Just after a failed round the peer is left alone for the fresh window; then tried again.
    clock.advance(4.9)
    with pytest.raises(PeerUnavailable):
        await catalogue_of(client)
    assert len(seen.requests) == 3
    clock.advance(0.1)
    with pytest.raises(PeerUnavailable):
        await catalogue_of(client)
    assert seen.requests == ["/v1/areas"] * 6


async def test_concurrent_reads_make_one_request_per_page(metrics_api, make_client):
    client, seen = make_client(metrics_api.url)

    catalogues = await asyncio.wait_for(
        asyncio.gather(*(client.catalogue() for _ in range(20))), BOUND_S
    )

    assert seen.requests == ["/v1/areas", "/v1/metrics"]
    assert all(len(c.areas) == 203 and len(c.metrics) == 13 for c in catalogues)


@pytest.mark.parametrize(
    "key, problem",
    [("jdu_000000000000_not-a-key", "invalid, revoked"), (None, "is not configured")],
)
async def test_a_bad_service_key_is_an_operator_error(metrics_api, make_client, key, problem):
    client, seen = make_client(metrics_api.url, key=key)

    with pytest.raises(PeerAuthRejected, match=f"Operator error.*{problem}") as refused:
        await catalogue_of(client)

    assert refused.value.status == 401 and not isinstance(refused.value, ServiceUnavailable)
    assert seen.requests == ["/v1/areas"]  # a refusal is not retried


async def test_a_revoked_key_is_refused_even_with_a_cached_catalogue(
    metrics_api, make_client, service_key, query
):
    client, _ = make_client(metrics_api.url, fresh_s=0)
    await catalogue_of(client)

    public_id = service_key.split("_")[1]
    query("UPDATE api_key SET revoked_at = now() WHERE public_id = %s", public_id)

    with pytest.raises(PeerRejected, match="Operator error"):
        await catalogue_of(client)
