"""Who may do what to plans: stewards of the place make and change them, signatories decide
for the organisations in their scope, assessors read the history, and any valid key reads.
A refused call changes nothing and leaves nothing in the audit log."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import bearer
from tests.targets_api.conftest import BRADFORD, CORNWALL, LEEDS, WEST_YORKSHIRE
from tests.targets_api.plan_support import FALLS, PLAN, Plans, assert_problem, target

pytest_plugins = ["tests.targets_api.plan_fixtures"]

ENGLAND = "E92000001"
NORTH_EAST_AND_YORKSHIRE = "E40000012"  # Leeds's region


@dataclass(frozen=True)
class Write:
    state: str | None  # the state of the Leeds plan the write acts on; None: no plan needed
    send: Callable[[httpx.AsyncClient, int | None, dict[str, str]], Awaitable[httpx.Response]]
    success: int


STEWARD_WRITES = {
    "create a plan": Write(None, lambda c, _, h: c.post(f"/v1/places/{LEEDS}/plans", json=PLAN,
                                                        headers=h), 201),
    "put a target": Write("draft", lambda c, i, h: c.put(f"/v1/plans/{i}/targets/{FALLS}",
                                                         json=target(FALLS), headers=h), 200),
    "delete a target": Write("draft", lambda c, i, h: c.delete(
        f"/v1/plans/{i}/targets/{FALLS}", headers=h), 204),
    "submit": Write("draft", lambda c, i, h: c.post(f"/v1/plans/{i}/submit", headers=h), 200),
    "revise": Write("agreed", lambda c, i, h: c.post(f"/v1/plans/{i}/revise", headers=h), 201),
}

# Each kind of key, and whether it may make the stewards' writes to a Leeds plan (else 403).
STEWARD_CALLERS = {
    "admin": (("admin",), True),
    "steward for England": (("steward", ENGLAND), True),
    "steward for Leeds's region": (("steward", NORTH_EAST_AND_YORKSHIRE), True),
    "steward for Leeds's ICB": (("steward", WEST_YORKSHIRE), True),
    "steward for Leeds": (("steward", LEEDS), True),
    "steward for Bradford and Leeds": (("steward", BRADFORD, LEEDS), True),
    "steward for Bradford": (("steward", BRADFORD), False),
    "steward for Cornwall": (("steward", CORNWALL), False),
    "signatory for Leeds": (("signatory", LEEDS), False),
    "submitter for Leeds": (("submitter", LEEDS), False),
    "assessor": (("assessor",), False),
    "viewer": (("viewer",), False),
    "service": (("service",), False),
}

# A decision on a proposed Leeds plan, for the place or its ICB, by each kind of key.
DECISIONS = {
    "Leeds's signatory for Leeds": (("signatory", LEEDS), LEEDS, 201),
    "the ICB's signatory for the ICB": (("signatory", WEST_YORKSHIRE), WEST_YORKSHIRE, 201),
    "the ICB's signatory for Leeds, within its scope": (("signatory", WEST_YORKSHIRE), LEEDS,
                                                        201),
    "the region's signatory for the ICB": (("signatory", NORTH_EAST_AND_YORKSHIRE),
                                           WEST_YORKSHIRE, 201),
    "admin for the ICB": (("admin",), WEST_YORKSHIRE, 201),
    "Leeds's signatory as the ICB": (("signatory", LEEDS), WEST_YORKSHIRE, 403),
    "Cornwall's signatory for Leeds": (("signatory", CORNWALL), LEEDS, 403),
    "Bradford's signatory for Leeds": (("signatory", BRADFORD), LEEDS, 403),
    "the ICB's steward for the ICB": (("steward", WEST_YORKSHIRE), WEST_YORKSHIRE, 403),
    "a viewer for Leeds": (("viewer",), LEEDS, 403),
    "an assessor for Leeds": (("assessor",), LEEDS, 403),
}

UNAUTHENTICATED = {
    "no key": {},
    "not a bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    "malformed key": bearer("not-a-key"),
    "unknown key": bearer("jdu_000000000000_made-up-secret"),
}


async def plan_in(plans: Plans, state: str | None) -> dict | None:
    return None if state is None else await plans.in_state(state)


def snapshot(query) -> tuple[list[tuple], list[tuple], list[tuple], int]:
    """Everything a write could change."""
    return (query("SELECT id, status, updated_at FROM plan ORDER BY id"),
            query("SELECT plan_id, metric_code, updated_at FROM plan_target ORDER BY 1, 2"),
            query("SELECT id FROM plan_approval ORDER BY id"),
            query("SELECT count(*) FROM audit_log")[0][0])


@pytest.mark.parametrize("write", STEWARD_WRITES)
@pytest.mark.parametrize("caller", STEWARD_CALLERS)
async def test_stewards_of_the_place_make_and_change_its_plans(plans, client, make_key, query,
                                                              write, caller):
    role_and_scopes, allowed = STEWARD_CALLERS[caller]
    plan = await plan_in(plans, STEWARD_WRITES[write].state)
    before = snapshot(query)

    response = await STEWARD_WRITES[write].send(client, plan and plan["id"],
                                                bearer(await make_key(*role_and_scopes)))

    if allowed:
        assert response.status_code == STEWARD_WRITES[write].success, response.text
        assert snapshot(query)[3] > before[3]
    else:
        assert_problem(response, 403)
        assert snapshot(query) == before


@pytest.mark.parametrize("caller", DECISIONS)
async def test_signatories_decide_for_the_organisations_in_their_scope(plans, make_key, query,
                                                                      caller):
    role_and_scopes, organisation, status_code = DECISIONS[caller]
    plan = await plans.in_state("proposed")
    before = snapshot(query)

    response = await plans.decide(plan["id"], organisation,
                                  headers=bearer(await make_key(*role_and_scopes)))

    if status_code == 201:
        assert response.status_code == 201, response.text
        assert [a["organisation_code"] for a in response.json()["approvals"]] == [organisation]
    else:
        problem = assert_problem(response, 403)
        assert organisation in problem["detail"] or "role" in problem["detail"]
        assert snapshot(query) == before


ALL_WRITES = {**STEWARD_WRITES, "decide": Write("proposed", lambda c, i, h: c.post(
    f"/v1/plans/{i}/approvals", headers=h, json={
        "organisation_code": LEEDS, "decision": "approve", "signatory": "A. Signatory"}), 201)}


@pytest.mark.parametrize("write", ALL_WRITES)
@pytest.mark.parametrize("credentials", UNAUTHENTICATED)
async def test_every_write_needs_a_valid_key(plans, client, query, write, credentials):
    plan = await plan_in(plans, ALL_WRITES[write].state)
    before = snapshot(query)

    response = await ALL_WRITES[write].send(client, plan and plan["id"],
                                            UNAUTHENTICATED[credentials])

    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
    assert snapshot(query) == before


async def test_a_revoked_key_writes_nothing(plans, client, make_key, query):
    plan = await plans.in_state("draft")
    key = await make_key("admin")
    query("UPDATE api_key SET revoked_at = now() WHERE public_id = %s", key.split("_")[1])

    assert_problem(await client.post(f"/v1/plans/{plan['id']}/submit", headers=bearer(key)), 401)
    assert (await plans.get(plan["id"]))["status"] == "draft"


READERS = ["viewer", "assessor", "submitter", "signatory", "steward", "admin"]
SCOPED_ROLES = {"submitter", "signatory", "steward"}


async def key_for(make_key, role: str, area: str) -> dict[str, str]:
    """Headers for a key with ``role``, scoped to ``area`` if the role needs a scope."""
    return bearer(await make_key(role, *([area] if role in SCOPED_ROLES else [])))


@pytest.mark.parametrize("role", READERS)
async def test_any_valid_key_reads_plans(plans, client, make_key, role):
    plan = await plans.in_state("agreed")
    # Scoped keys read plans outside their scope too: plans are open to every key holder.
    headers = await key_for(make_key, role, CORNWALL)

    assert (await client.get(f"/v1/plans/{plan['id']}", headers=headers)).json() == plan
    listed = await client.get(f"/v1/places/{LEEDS}/plans", headers=headers)
    assert [p["id"] for p in listed.json()["data"]] == [plan["id"]]


@pytest.mark.parametrize("path", ["/v1/plans/{id}", "/v1/places/" + LEEDS + "/plans",
                                  "/v1/plans/{id}/history"])
async def test_reads_need_a_key(plans, client, path):
    plan = await plans.in_state("draft")
    assert_problem(await client.get(path.format(id=plan["id"])), 401)


@pytest.mark.parametrize(("role", "allowed"), [
    ("assessor", True), ("admin", True), ("viewer", False), ("steward", False),
    ("signatory", False), ("submitter", False)])
async def test_only_assessors_and_admins_read_a_plan_s_history(plans, client, make_key, role,
                                                              allowed):
    plan = await plans.in_state("draft")
    headers = await key_for(make_key, role, WEST_YORKSHIRE)

    response = await client.get(f"/v1/plans/{plan['id']}/history", headers=headers)

    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()["data"][0]["action"] == "plan.create"
    else:
        assert_problem(response, 403)
