"""The kernel every service shares: health, readiness, metrics, problems, request ids, limits."""

import httpx
import pytest

from services.common.config import CommonSettings
from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import create_app as create_metrics
from services.targets_api.main import create_app as create_targets
from tests.conftest import asgi_client, bearer

FACTORIES = {"metrics_api": create_metrics, "targets_api": create_targets,
             "ingest": create_ingest}


@pytest.fixture(params=sorted(FACTORIES))
async def any_client(request, database_url):
    app = FACTORIES[request.param](database_url=database_url)
    async for client in asgi_client(app):
        yield client


async def test_health_readiness_and_docs_need_no_key(any_client):
    assert (await any_client.get("/healthz")).json() == {"status": "ok"}
    ready = await any_client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["schema_revision"] == ready.json()["expected_revision"]
    assert (await any_client.get("/openapi.json")).status_code == 200
    assert (await any_client.get("/docs")).status_code == 200


async def test_readyz_is_503_when_schema_is_behind(database_url, query):
    query("UPDATE alembic_version SET version_num = 'something-older'")
    async for client in asgi_client(create_metrics(database_url=database_url)):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["schema_revision"] == "something-older"


async def test_readyz_is_503_when_database_is_unreachable():
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    app = create_metrics(CommonSettings(database_url=url), database_url=url)
    async for client in asgi_client(app):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["database"] == "unreachable"


async def test_metrics_count_requests_by_route_template(any_client):
    await any_client.get("/healthz")
    await any_client.get("/v1/no-such-thing/12345")
    text = (await any_client.get("/metrics")).text
    assert 'joinedup_http_requests_total{' in text
    assert 'route="/healthz",service="' in text
    assert 'route="unmatched"' in text and "12345" not in text
    assert "joinedup_http_request_duration_seconds_bucket{" in text


async def test_errors_are_problem_json_with_request_id(any_client):
    response = await any_client.get("/v1/nowhere", headers={"X-Request-ID": "trace-me-1"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "trace-me-1"
    body = response.json()
    assert body["status"] == 404 and body["type"].startswith("urn:joinedup:problem:")
    assert "/v1/nowhere" in body["detail"]


async def test_unsafe_request_ids_are_replaced(any_client):
    response = await any_client.get("/healthz", headers={"X-Request-ID": "bad id\r\nx"})
    assert response.headers["x-request-id"] != "bad id\r\nx"
    assert len(response.headers["x-request-id"]) == 32


async def test_method_not_allowed_is_problem(any_client):
    response = await any_client.delete("/healthz")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"


async def test_unexpected_error_is_500_that_leaks_nothing(database_url):
    app = create_metrics(database_url=database_url)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret connection string postgresql://user:pw@host")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom")
    await app.state.engine.dispose()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text and "pw" not in response.text
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_oversize_body_is_413_by_content_length_and_by_stream(database_url, make_key):
    key = await make_key("admin")
    app = create_metrics(CommonSettings(database_url=database_url, max_body_bytes=1000),
                         database_url=database_url)
    async for client in asgi_client(app):
        big = b'{"code": "' + b"x" * 2000 + b'"}'
        declared = await client.post("/v1/metrics", content=big, headers={
            **bearer(key), "content-type": "application/json"})
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"

        async def chunks():
            for _ in range(20):
                yield b" " * 100

        streamed = await client.post("/v1/metrics", content=chunks(), headers={
            **bearer(key), "content-type": "application/json"})
        assert streamed.status_code == 413
