"""Every change is in the append-only audit log, written in the same transaction as the change."""

import httpx
import psycopg
import pytest

from services.metrics_api.main import MetricsApiSettings, create_app
from tests.metrics_api.support import (
    SEEDED_METRIC,
    audit_count,
    definition_of,
    key_id,
    local_metric,
    national_metric,
    new_area,
)
from tests.support.areas import ENGLAND, LEEDS
from tests.support.clients import bearer
from tests.support.problems import assert_problem

AUDIT_COLUMNS = (
    "service, actor_key_id, actor, action, entity_type, entity_id, before, after, request_id"
)


def new_audit_rows(query, after_id: int) -> list[dict]:
    rows = query(f"SELECT {AUDIT_COLUMNS} FROM audit_log WHERE id > %s ORDER BY id", after_id)
    return [dict(zip(AUDIT_COLUMNS.split(", "), row, strict=True)) for row in rows]


def last_audit_id(query) -> int:
    return query("SELECT coalesce(max(id), 0) FROM audit_log")[0][0]


async def seeded_metric(client, headers) -> dict:
    return (await client.get(f"/v1/metrics/{SEEDED_METRIC}", headers=headers)).json()


@pytest.mark.parametrize(
    "write", ["area.create", "metric.create", "metric.version", "metric.retire"]
)
async def test_a_successful_write_records_one_audit_entry(client, make_key, query, write):
    key = await make_key("admin", name="catalogue admin")
    headers = bearer(key)
    before = None
    if write in ("metric.version", "metric.retire"):
        before = await seeded_metric(client, headers)
    since = last_audit_id(query)
    response = await {
        "area.create": lambda: client.post("/v1/areas", json=new_area(), headers=headers),
        "metric.create": lambda: client.post(
            "/v1/metrics", json=national_metric(), headers=headers
        ),
        "metric.version": lambda: client.put(
            f"/v1/metrics/{SEEDED_METRIC}",
            json=definition_of(before, name="Renamed"),
            headers=headers,
        ),
        "metric.retire": lambda: client.post(
            f"/v1/metrics/{SEEDED_METRIC}/retire", headers=headers
        ),
    }[write]()
    assert response.is_success, response.text
    after = response.json()
    entity_type = write.split(".")[0]
    assert new_audit_rows(query, since) == [
        {
            "service": "metrics_api",
            "actor_key_id": key_id(query, key),
            "actor": f"key:{key_id(query, key)}:catalogue admin",
            "action": write,
            "entity_type": entity_type,
            "entity_id": after["code"],
            "before": before,
            "after": after,
            "request_id": response.headers["x-request-id"],
        }
    ]


async def test_audit_entries_of_a_version_show_both_definitions(client, as_admin, query):
    current = await seeded_metric(client, as_admin)
    since = last_audit_id(query)
    versioned = await client.put(
        f"/v1/metrics/{SEEDED_METRIC}",
        json=definition_of(current, unit="per 1,000", multiplier=1000),
        headers=as_admin,
    )
    assert versioned.status_code == 200, versioned.text
    [entry] = new_audit_rows(query, since)
    assert (entry["before"]["version"], entry["before"]["multiplier"]) == (1, 100000)
    assert (entry["after"]["version"], entry["after"]["multiplier"]) == (2, 1000)


async def test_retiring_is_audited_with_the_status_change(client, as_admin, query):
    since = last_audit_id(query)
    retired = await client.post(f"/v1/metrics/{SEEDED_METRIC}/retire", headers=as_admin)
    assert retired.status_code == 200, retired.text
    [entry] = new_audit_rows(query, since)
    assert (entry["before"]["status"], entry["before"]["retired_at"]) == ("active", None)
    assert entry["after"]["status"] == "retired" and entry["after"]["retired_at"]


async def test_writes_that_change_nothing_record_nothing(client, make_key, as_admin, query):
    current = await seeded_metric(client, as_admin)
    viewer = bearer(await make_key("viewer"))
    leeds_steward = bearer(await make_key("steward", LEEDS))
    seeded = f"/v1/metrics/{SEEDED_METRIC}"
    assert (
        await client.post(f"/v1/metrics/{SEEDED_METRIC}/retire", headers=as_admin)
    ).status_code == 200
    audited = audit_count(query)
    failures = [
        (await client.post("/v1/areas", json=new_area(LEEDS), headers=as_admin), 409),
        (await client.post("/v1/areas", json=new_area(population=-5), headers=as_admin), 422),
        (await client.post("/v1/areas", json=new_area(), headers=viewer), 403),
        (
            await client.post("/v1/metrics", json=national_metric(SEEDED_METRIC), headers=as_admin),
            409,
        ),
        (await client.post("/v1/metrics", json=local_metric(kind="rate"), headers=as_admin), 422),
        (await client.post("/v1/metrics", json=national_metric(), headers=leeds_steward), 403),
        (await client.post("/v1/metrics", json=local_metric(owner=ENGLAND), headers=as_admin), 422),
        (await client.put(seeded, json=definition_of(current, name="New"), headers=as_admin), 409),
        (await client.post(f"{seeded}/retire", headers=as_admin), 409),
        (await client.post("/v1/metrics", json=national_metric()), 401),
    ]
    for response, status in failures:
        assert_problem(response, status)
    assert audit_count(query) == audited


async def test_stale_if_match_and_unchanged_put_record_nothing(client, as_admin, query):
    current = await seeded_metric(client, as_admin)
    path = f"/v1/metrics/{SEEDED_METRIC}"
    stale = (await client.get(path, headers=as_admin)).headers["etag"]
    renamed = await client.put(path, json=definition_of(current, name="Renamed"), headers=as_admin)
    assert renamed.status_code == 200, renamed.text
    audited = audit_count(query)
    response = await client.put(
        path, json=definition_of(current, name="Mine"), headers=as_admin | {"If-Match": stale}
    )
    assert_problem(response, 412)
    unchanged = await client.put(
        path, json=definition_of(current, name="Renamed"), headers=as_admin
    )
    assert (unchanged.status_code, unchanged.json()["version"]) == (200, 2), unchanged.text
    assert audit_count(query) == audited


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
def test_the_audit_log_refuses_changes(query, statement):
    audited = audit_count(query)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        query(statement)
    assert audit_count(query) == audited


@pytest.fixture
async def client_without_audit(database_url, query):
    """metrics_api on a database whose audit log refuses every insert; 500s come back as such."""
    query("""
        CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
        CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION refuse_audit();
    """)
    app = create_app(MetricsApiSettings(database_url=database_url), database_url=database_url)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.engine.dispose()


async def test_a_change_that_cannot_be_audited_is_not_made(client_without_audit, as_admin, query):
    client = client_without_audit
    response = await client.post("/v1/metrics", json=local_metric("unaudited"), headers=as_admin)
    assert_problem(response, 500)
    assert query("SELECT count(*) FROM metric WHERE code = 'unaudited'") == [(0,)]
    assert query("SELECT count(*) FROM metric_version WHERE metric_code = 'unaudited'") == [(0,)]
    response = await client.post("/v1/areas", json=new_area(), headers=as_admin)
    assert_problem(response, 500)
    assert query("SELECT count(*) FROM area WHERE code = %s", new_area()["code"]) == [(0,)]
    response = await client.put(
        f"/v1/metrics/{SEEDED_METRIC}", json=national_metric(SEEDED_METRIC), headers=as_admin
    )
    assert_problem(response, 500)
    response = await client.post(f"/v1/metrics/{SEEDED_METRIC}/retire", headers=as_admin)
    assert_problem(response, 500)
    assert query("SELECT status, current_version FROM metric WHERE code = %s", SEEDED_METRIC) == [
        ("active", 1)
    ]
    assert query("SELECT count(*) FROM metric_version WHERE metric_code = %s", SEEDED_METRIC) == [
        (1,)
    ]
