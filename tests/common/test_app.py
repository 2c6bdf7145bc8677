"""The kernel every service shares: health, readiness, metrics, problems, request ids, limits."""

import httpx
import pytest
from sqlalchemy import text

from services.common.config import CommonSettings
from services.common.fhir import FHIR_MEDIA_TYPE, is_fhir_path
from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import create_app as create_metrics
from services.targets_api.main import create_app as create_targets
from tests.support.clients import asgi_client, bearer

FACTORIES = {"metrics_api": create_metrics, "targets_api": create_targets, "ingest": create_ingest}


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
    assert (await any_client.get("/healthz")).status_code == 200
    assert (await any_client.get("/v1/no-such-thing/12345")).status_code == 404
    text = (await any_client.get("/metrics")).text
    assert "joinedup_http_requests_total{" in text
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
    app = create_metrics(
        CommonSettings(database_url=database_url, max_body_bytes=1000), database_url=database_url
    )
    async for client in asgi_client(app):
        big = b'{"code": "' + b"x" * 2000 + b'"}'
        declared = await client.post(
            "/v1/metrics", content=big, headers={**bearer(key), "content-type": "application/json"}
        )
        assert declared.status_code == 413
        assert declared.headers["content-type"] == "application/problem+json"

        async def chunks():
            for _ in range(20):
                yield b" " * 100

        streamed = await client.post(
            "/v1/metrics",
            content=chunks(),
            headers={**bearer(key), "content-type": "application/json"},
        )
        assert streamed.status_code == 413


NO_DATABASE = "postgresql+psycopg://schema@127.0.0.1:1/schema"


def references(node, where=()):
    """Every ``$ref`` in a document, with where it is."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield where, value
            else:
                yield from references(value, (*where, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from references(value, (*where, i))


def pointed_at(document: dict, ref: str):
    """What a JSON pointer from the document's root names (RFC 6901), or KeyError."""
    assert ref.startswith("#/"), f"{ref} is not a pointer into this document"
    node = document
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_every_ref_of_the_openapi_document_resolves_from_its_root(service):
    document = FACTORIES[service](database_url=NO_DATABASE).openapi()
    refs = list(references(document))
    assert refs
    unresolved = []
    for where, ref in refs:
        try:
            pointed_at(document, ref)
        except (KeyError, IndexError, AssertionError):
            unresolved.append(("/".join(map(str, where)), ref))
    assert unresolved == []
    assert "$defs" not in str(document)


def concrete(path_template: str) -> str:
    return path_template.replace("{plan_id}", "1").replace("{", "").replace("}", "")


async def test_options_and_405_name_every_method_of_each_path(any_client):
    paths = (await any_client.get("/openapi.json")).json()["paths"]
    assert len(paths) > 2
    for template, operations in paths.items():
        declared = {method.upper() for method in operations} | {"OPTIONS"}
        options = await any_client.options(concrete(template))
        assert options.status_code == 204, (template, options.text)
        assert set(options.headers["allow"].split(", ")) == declared, template
        refused = await any_client.request("PATCH", concrete(template))
        assert refused.status_code == 405, template
        # On a FHIR route every error is an OperationOutcome (issue 20), a 405 too.
        expected = FHIR_MEDIA_TYPE if is_fhir_path(template) else "application/problem+json"
        assert refused.headers["content-type"] == expected, template
        assert set(refused.headers["allow"].split(", ")) == declared, template


async def test_a_database_error_answers_500_with_one_request_id(database_url):
    app = create_metrics(database_url=database_url)

    @app.get("/divide-by-zero")
    async def divide_by_zero() -> None:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1 / 0"))

    async for client in asgi_client(app):
        response = await client.get("/divide-by-zero", headers={"X-Request-ID": "trace-me-2"})
        assert response.status_code == 500
        assert response.headers.get_list("x-request-id") == ["trace-me-2"]
        assert response.json()["request_id"] == "trace-me-2"


async def test_an_unexpected_error_is_answered_and_ends_there(database_url):
    # An exception that escapes the app makes uvicorn close the connection after the 500, and
    # the client's next request on it fails; so the default transport, which re-raises an
    # escaped exception, must see only the answer.
    app = create_metrics(database_url=database_url)

    @app.get("/boom")
    async def boom() -> None:
        raise OverflowError("math range error")

    async for client in asgi_client(app):
        response = await client.get("/boom", headers={"X-Request-ID": "trace-me-3"})
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers.get_list("x-request-id") == ["trace-me-3"]
        assert "math range" not in response.text
        assert (await client.get("/healthz")).status_code == 200
