"""Every path and query parameter a client controls, swept with what no column or schema can
hold, as an admin: each answer is a success or a problem+json 4xx that names the parameter,
never a 5xx. The parameters are read from each app's own OpenAPI document, so a route added
later is swept without being listed here."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.common.fhir import FHIR_MEDIA_TYPE, is_fhir_path
from services.ingest.config import IngestSettings
from services.ingest.main import create_app as create_ingest
from services.metrics_api.main import create_app as create_metrics_api
from services.targets_api.main import TargetsApiSettings
from services.targets_api.main import create_app as create_targets_api
from tests.support.areas import LEEDS
from tests.support.clients import bearer

# Beyond PostgreSQL's integer (2**31) and bigint (2**63, -2**63 - 1), far beyond both, and
# below every id and count.
BEYOND_COLUMNS = (2**31, 2**63, -(2**63) - 1, 10**30, -1)
METRIC = "bcf-discharge-usual-residence"  # a seeded national metric

NO_DATABASE = "postgresql+psycopg://sweep@127.0.0.1:1/sweep"
SCHEMAS = {
    "metrics_api": create_metrics_api(database_url=NO_DATABASE).openapi(),
    "targets_api": create_targets_api(
        TargetsApiSettings(database_url=NO_DATABASE), NO_DATABASE
    ).openapi(),
    "ingest": create_ingest(IngestSettings(database_url=NO_DATABASE), NO_DATABASE).openapi(),
}


@dataclass(frozen=True)
class Parameter:
    service: str
    method: str
    path: str
    location: str  # "path" or "query"
    name: str
    schema: dict[str, Any]
    required: bool

    def has_type(self, json_type: str, json_format: str | None = None) -> bool:
        return any(
            s.get("type") == json_type and s.get("format") == json_format
            for s in [self.schema, *self.schema.get("anyOf", [])]
        )


def parameters(service: str) -> Iterator[Parameter]:
    for path, operations in SCHEMAS[service]["paths"].items():
        for method, operation in operations.items():
            for p in operation.get("parameters", []):
                if p["in"] in ("path", "query"):
                    yield Parameter(
                        service,
                        method,
                        path,
                        p["in"],
                        p["name"],
                        p["schema"],
                        p.get("required", False),
                    )


def filler(parameter: Parameter) -> str:
    """A value that gets a request past this parameter, so that the one swept is reached."""
    if parameter.has_type("integer"):
        return "1"
    if parameter.name == "code":
        return METRIC if parameter.path.startswith("/v1/metrics") else LEEDS
    return {"metric_code": METRIC, "submission_id": str(uuid.uuid4()), "period": "2025-07"}.get(
        parameter.name, "x"
    )


def request_for(
    swept: Parameter, value: object, *, repeated: bool = False
) -> tuple[str, str, list[tuple[str, str]]]:
    """Method, URL and query for a request that sends ``value`` as ``swept`` (twice when
    ``repeated``) and a filler for every other parameter that the operation requires."""
    path, query = swept.path, []
    for p in parameters(swept.service):
        if (p.method, p.path) != (swept.method, swept.path):
            continue
        text = str(value) if p == swept else filler(p)
        if p.location == "path":
            path = path.replace("{" + p.name + "}", text)
        elif p == swept:
            query += [(p.name, text)] * (2 if repeated else 1)
        elif p.required:
            query.append((p.name, text))
    return swept.method.upper(), path, query


async def send(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    swept: Parameter,
    value: object,
    *,
    repeated: bool = False,
) -> httpx.Response:
    method, path, query = request_for(swept, value, repeated=repeated)
    body = {} if method in ("POST", "PUT") else None
    return await client.request(method, path, params=query, json=body, headers=admin)


def error_media_type(response: httpx.Response) -> str:
    """problem+json, or on a FHIR route an OperationOutcome (issue 20)."""
    fhir = is_fhir_path(response.request.url.path)
    return FHIR_MEDIA_TYPE if fhir else "application/problem+json"


def error_locs(response: httpx.Response) -> list[list[str]]:
    """Where the errors are: a problem's ``loc``s, an OperationOutcome's expressions."""
    body = response.json()
    if body.get("resourceType") == "OperationOutcome":
        return [
            expression.split(".", 1)
            for issue in body["issue"]
            for expression in issue.get("expression") or []
        ]
    return [e["loc"] for e in body.get("errors") or []]


def problem_naming(response: httpx.Response, parameter: Parameter) -> str | None:
    """What is wrong with ``response`` as a 422 refusing ``parameter``, or None if nothing."""
    if response.status_code != 422:
        return f"{response.status_code} {response.text[:200]}"
    if response.headers.get("content-type") != error_media_type(response):
        return f"422 as {response.headers.get('content-type')}"
    locs = error_locs(response)
    if [parameter.location, parameter.name] not in locs:
        return f"422 naming {locs}, not {parameter.location}.{parameter.name}"
    return None


def no_server_error(response: httpx.Response) -> str | None:
    if response.status_code >= 500:
        return f"{response.status_code} {response.text[:200]}"
    if response.status_code >= 400 and (
        response.headers.get("content-type") != error_media_type(response)
    ):
        return f"{response.status_code} as {response.headers.get('content-type')}"
    return None


@pytest.fixture
async def admin(make_key) -> dict[str, str]:
    return bearer(await make_key("admin"))


@pytest.mark.parametrize("service", sorted(SCHEMAS))
async def test_integers_beyond_their_columns_are_refused_never_5xx(open_service, admin, service):
    integers = [p for p in parameters(service) if p.has_type("integer")]
    assert integers, "every service pages its lists"
    failures = []
    async with open_service(service) as client:
        for parameter in integers:
            for value in BEYOND_COLUMNS:
                response = await send(client, admin, parameter, value)
                if problem := no_server_error(response):
                    failures.append(
                        (parameter.method, parameter.path, parameter.name, value, problem)
                    )
    assert failures == []


async def test_a_metric_version_beyond_the_column_is_422_naming_it(open_service, admin):
    async with open_service("metrics_api") as client:
        response = await client.get(
            f"/v1/metrics/{METRIC}", params={"version": 2**31}, headers=admin
        )
    version = Parameter("metrics_api", "get", "/v1/metrics/{code}", "query", "version", {}, False)
    assert problem_naming(response, version) is None


@pytest.mark.parametrize("service", sorted(SCHEMAS))
async def test_a_repeated_query_parameter_is_422_naming_it(open_service, admin, service):
    single_valued = [
        p for p in parameters(service) if p.location == "query" and not p.has_type("array")
    ]
    failures = []
    async with open_service(service) as client:
        for parameter in single_valued:
            response = await send(client, admin, parameter, filler(parameter), repeated=True)
            if problem := problem_naming(response, parameter):
                failures.append((parameter.method, parameter.path, parameter.name, problem))
    assert failures == []


# Values lax parsing would take: numbers as booleans or as Unix timestamps, words as booleans.
NOT_BOOLEANS = ("0", "1", "yes", "off", "0.5")
NOT_TIMESTAMPS = ("0.5", "0", "1700000000", "true")


@pytest.mark.parametrize("service", sorted(SCHEMAS))
async def test_query_booleans_and_timestamps_take_only_their_own_form(open_service, admin, service):
    strict = [
        (p, NOT_BOOLEANS, ("true", "false")) for p in parameters(service) if p.has_type("boolean")
    ]
    strict += [
        (p, NOT_TIMESTAMPS, ("2025-07-01T00:00:00Z",))
        for p in parameters(service)
        if p.has_type("string", "date-time")
    ]
    failures = []
    async with open_service(service) as client:
        for parameter, refused, accepted in strict:
            for value in refused:
                response = await send(client, admin, parameter, value)
                if problem := problem_naming(response, parameter):
                    failures.append((parameter.path, parameter.name, value, problem))
            for value in accepted:
                response = await send(client, admin, parameter, value)
                if not problem_naming(response, parameter):
                    failures.append((parameter.path, parameter.name, value, "refused"))
    assert failures == []


def resolved(service: str, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[service]["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@dataclass(frozen=True)
class BodyField:
    method: str
    path: str
    name: str
    kind: str  # "boolean", "date" or "date-time"


def body_fields(service: str) -> Iterator[BodyField]:
    """The boolean, date and date-time fields at the top of every JSON request body."""
    for path, operations in SCHEMAS[service]["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            body = resolved(service, content["application/json"]["schema"])
            for name, field in body.get("properties", {}).items():
                for choice in [field, *field.get("anyOf", [])]:
                    choice = resolved(service, choice)
                    kind = choice.get("format") or choice.get("type")
                    if kind in ("boolean", "date", "date-time"):
                        yield BodyField(method, path, name, kind)


# JSON values lax parsing would take as the field's kind.
NOT_OF_KIND = {
    "boolean": (0, 1, "true", "false", "yes"),
    "date": (0, 1.5, 1700000000, "0.5", True),
    "date-time": (0, 1.5, 1700000000, "0.5", True),
}
SAMPLE_PATH = {"code": LEEDS, "plan_id": "1", "metric_code": METRIC}


@pytest.mark.parametrize("service", sorted(SCHEMAS))
async def test_body_booleans_and_dates_take_only_their_own_form(open_service, admin, service):
    fields = list(body_fields(service))
    if service != "ingest":
        assert fields, "metrics and plans have booleans and dates"
    failures = []
    async with open_service(service) as client:
        for field in fields:
            path = field.path.format(**SAMPLE_PATH)
            for value in NOT_OF_KIND[field.kind]:
                response = await client.request(
                    field.method.upper(), path, json={field.name: value}, headers=admin
                )
                locs = [e["loc"] for e in response.json().get("errors") or []]
                if response.status_code != 422 or [field.name] not in locs:
                    failures.append((field.path, field.name, value, response.status_code, locs))
    assert failures == []
