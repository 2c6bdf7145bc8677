"""Who may call what: any valid key reads; writes need the role and, for metrics, the scope."""

from dataclasses import dataclass

import pytest

from services.common.auth import revoke_key
from tests.metrics_api.support import (
    SEEDED_METRIC,
    audit_count,
    key_id,
    local_metric,
    national_metric,
    new_area,
)
from tests.support.areas import (
    BRADFORD,
    ENGLAND,
    LEEDS,
    NORTH_EAST_AND_NORTH_CUMBRIA,
    NORTH_EAST_AND_YORKSHIRE,
    WEST_YORKSHIRE,
)
from tests.support.clients import bearer
from tests.support.database import run_in_transaction
from tests.support.problems import assert_problem

EXISTING_LOCAL = "leeds-existing"


@dataclass(frozen=True)
class Write:
    method: str
    path: str
    body: dict | None
    success: int


WRITES = {
    "create area": Write("POST", "/v1/areas", new_area(), 201),
    "create national metric": Write("POST", "/v1/metrics", national_metric(), 201),
    "create local metric": Write("POST", "/v1/metrics", local_metric("leeds-new"), 201),
    "version national metric": Write(
        "PUT", f"/v1/metrics/{SEEDED_METRIC}", national_metric(SEEDED_METRIC), 200
    ),
    "version local metric": Write(
        "PUT", f"/v1/metrics/{EXISTING_LOCAL}", local_metric(EXISTING_LOCAL, name="Renamed"), 200
    ),
    "retire national metric": Write("POST", f"/v1/metrics/{SEEDED_METRIC}/retire", None, 200),
    "retire local metric": Write("POST", f"/v1/metrics/{EXISTING_LOCAL}/retire", None, 200),
}
NATIONAL = {"create national metric", "version national metric", "retire national metric"}
LOCAL = {"create local metric", "version local metric", "retire local metric"}

# Each kind of key, and the writes it may make; every other write is refused with 403.
CALLERS = {
    "admin": (("admin",), set(WRITES)),
    "steward for England": (("steward", ENGLAND), NATIONAL | LOCAL),
    "steward for Leeds's region": (("steward", NORTH_EAST_AND_YORKSHIRE), LOCAL),
    "steward for Leeds's ICB": (("steward", WEST_YORKSHIRE), LOCAL),
    "steward for Leeds": (("steward", LEEDS), LOCAL),
    "steward for Bradford and Leeds": (("steward", BRADFORD, LEEDS), LOCAL),
    "steward for another ICB": (("steward", NORTH_EAST_AND_NORTH_CUMBRIA), set()),
    "steward for Bradford": (("steward", BRADFORD), set()),
    "viewer": (("viewer",), set()),
    "assessor": (("assessor",), set()),
    "submitter for Leeds": (("submitter", LEEDS), set()),
    "signatory for Leeds": (("signatory", LEEDS), set()),
    "submitter for England": (("submitter", ENGLAND), set()),
}

READS = [
    "/v1/areas",
    f"/v1/areas/{LEEDS}",
    "/v1/areas?level=icb",
    "/v1/metrics",
    f"/v1/metrics/{SEEDED_METRIC}",
    f"/v1/metrics/{SEEDED_METRIC}?version=1",
    f"/v1/metrics/{SEEDED_METRIC}/versions",
]


@pytest.fixture(autouse=True)
async def existing_local_metric(client, as_admin):
    response = await client.post("/v1/metrics", json=local_metric(EXISTING_LOCAL), headers=as_admin)
    assert response.status_code == 201


async def send(client, write: Write, headers: dict[str, str]):
    return await client.request(write.method, write.path, json=write.body, headers=headers)


async def revoked_key(make_key, query) -> str:
    key = await make_key("admin")
    query("UPDATE api_key SET revoked_at = now() WHERE public_id = %s", key.split("_")[1])
    return key


async def credentials(kind: str, make_key, query) -> dict[str, str]:
    """Authorization headers that must all be refused with 401."""
    if kind == "revoked key":
        return bearer(await revoked_key(make_key, query))
    if kind == "wrong secret":
        return bearer((await make_key("admin")).rsplit("_", 1)[0] + "_not-the-secret")
    return {
        "no header": {},
        "empty bearer": {"Authorization": "Bearer "},
        "not bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "malformed key": bearer("not-a-key"),
        "unknown key": bearer("jdu_000000000000_made-up-secret"),
    }[kind]


UNAUTHENTICATED = [
    "no header",
    "empty bearer",
    "not bearer",
    "malformed key",
    "unknown key",
    "wrong secret",
    "revoked key",
]


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("caller", CALLERS)
async def test_write_needs_role_and_scope(client, make_key, query, write, caller):
    role_and_scopes, allowed = CALLERS[caller]
    audited = audit_count(query)
    response = await send(client, WRITES[write], bearer(await make_key(*role_and_scopes)))
    if write in allowed:
        assert response.status_code == WRITES[write].success, response.text
        assert audit_count(query) == audited + 1
    else:
        assert_problem(response, 403)
        assert audit_count(query) == audited


@pytest.mark.parametrize("kind", UNAUTHENTICATED)
async def test_every_write_without_a_valid_key_is_401(client, make_key, query, kind):
    headers = await credentials(kind, make_key, query)
    audited = audit_count(query)
    for write in WRITES.values():
        response = await send(client, write, headers)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert audit_count(query) == audited


@pytest.mark.parametrize("kind", UNAUTHENTICATED)
async def test_every_read_without_a_valid_key_is_401(client, make_key, query, kind):
    headers = await credentials(kind, make_key, query)
    for path in READS:
        response = await client.get(path, headers=headers)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "role_and_scopes",
    [
        ("admin",),
        ("steward", LEEDS),
        ("submitter", LEEDS),
        ("signatory", LEEDS),
        ("assessor",),
        ("viewer",),
    ],
    ids=lambda r: r[0],
)
async def test_a_key_of_any_role_reads_everything(client, make_key, role_and_scopes):
    headers = bearer(await make_key(*role_and_scopes))
    for path in READS:
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.text)


async def test_revoking_a_key_stops_it_working(client, make_key, query, database_url):
    key = await make_key("steward", ENGLAND)
    assert (await client.get("/v1/metrics", headers=bearer(key))).status_code == 200
    await run_in_transaction(
        database_url, lambda session: revoke_key(session, key_id=key_id(query, key))
    )
    assert_problem(await client.get("/v1/metrics", headers=bearer(key)), 401)
    assert_problem(
        await client.post("/v1/metrics", json=national_metric(), headers=bearer(key)), 401
    )


async def test_unauthenticated_write_is_401_even_with_an_invalid_body(client):
    response = await client.post("/v1/metrics", json={"code": "Not Valid"})
    assert_problem(response, 401)


@pytest.mark.parametrize(
    ("scope", "status"),
    [
        (WEST_YORKSHIRE, 200),
        (NORTH_EAST_AND_YORKSHIRE, 200),
        (ENGLAND, 200),
        (LEEDS, 403),
        (NORTH_EAST_AND_NORTH_CUMBRIA, 403),
    ],
)
@pytest.mark.parametrize("change", ["version", "retire"])
async def test_an_icb_metric_is_changed_only_by_keys_covering_the_icb(
    client, make_key, as_admin, scope, status, change
):
    body = local_metric("wy-delayed-discharges", owner=WEST_YORKSHIRE)
    assert (await client.post("/v1/metrics", json=body, headers=as_admin)).status_code == 201
    headers = bearer(await make_key("steward", scope))
    if change == "version":
        response = await client.put(
            "/v1/metrics/wy-delayed-discharges", json=body | {"name": "Renamed"}, headers=headers
        )
    else:
        response = await client.post("/v1/metrics/wy-delayed-discharges/retire", headers=headers)
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        assert_problem(response, 403)


@pytest.mark.parametrize(
    ("scope", "status"),
    [
        (WEST_YORKSHIRE, 201),
        (NORTH_EAST_AND_YORKSHIRE, 201),
        (ENGLAND, 201),
        (LEEDS, 403),
    ],
)
async def test_an_icb_metric_is_created_only_by_keys_covering_the_icb(
    client, make_key, scope, status
):
    response = await client.post(
        "/v1/metrics",
        json=local_metric("wy-new", owner=WEST_YORKSHIRE),
        headers=bearer(await make_key("steward", scope)),
    )
    if status == 201:
        assert response.status_code == 201, response.text
    else:
        assert_problem(response, 403)
