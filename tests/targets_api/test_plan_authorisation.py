"""Who may do what to plans: stewards of the place make and change them, signatories decide
for the organisations in their scope, assessors read the history, and any valid key reads.
A refused call changes nothing and leaves nothing in the audit log."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.support.areas import (
    BRADFORD,
    CORNWALL,
    ENGLAND,
    LEEDS,
    NORTH_EAST_AND_YORKSHIRE,
    WEST_YORKSHIRE,
)
from tests.support.clients import bearer
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import FALLS, PLAN, Plans, target


@dataclass(frozen=True)
class Write:
    state: str | None  # the state of the Leeds plan the write acts on; None: no plan needed
    send: Callable[[httpx.AsyncClient, int | None, dict[str, str]], Awaitable[httpx.Response]]
    success: int


STEWARD_WRITES = {
    "create a plan": Write(
        None, lambda c, _, h: c.post(f"/v1/places/{LEEDS}/plans", json=PLAN, headers=h), 201
    ),
    "put a target": Write(
        "draft",
        lambda c, i, h: c.put(f"/v1/plans/{i}/targets/{FALLS}", json=target(FALLS), headers=h),
        200,
    ),
    "delete a target": Write(
        "draft", lambda c, i, h: c.delete(f"/v1/plans/{i}/targets/{FALLS}", headers=h), 204
    ),
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

# A decision on a proposed Leeds plan, for the place or its ICB, by each kind of key. A key
# speaks only for an organisation it is scoped to itself: a scope above it covers it for
# reading, but one body may not sign for another.
DECISIONS = {
    "Leeds's signatory for Leeds": (("signatory", LEEDS), LEEDS, 201),
    "the ICB's signatory for the ICB": (("signatory", WEST_YORKSHIRE), WEST_YORKSHIRE, 201),
    "a signatory for Bradford and Leeds for Leeds": (("signatory", BRADFORD, LEEDS), LEEDS, 201),
    "admin for the ICB": (("admin",), WEST_YORKSHIRE, 201),
    "admin for Leeds": (("admin",), LEEDS, 201),
    "the ICB's signatory for Leeds, within its scope": (("signatory", WEST_YORKSHIRE), LEEDS, 403),
    "the region's signatory for the ICB": (
        ("signatory", NORTH_EAST_AND_YORKSHIRE),
        WEST_YORKSHIRE,
        403,
    ),
    "England's signatory for Leeds": (("signatory", ENGLAND), LEEDS, 403),
    "England's signatory for the ICB": (("signatory", ENGLAND), WEST_YORKSHIRE, 403),
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
    return (
        query("SELECT id, status, updated_at FROM plan ORDER BY id"),
        query("SELECT plan_id, metric_code, updated_at FROM plan_target ORDER BY 1, 2"),
        query("SELECT id FROM plan_approval ORDER BY id"),
        query("SELECT count(*) FROM audit_log")[0][0],
    )


@pytest.mark.parametrize("write", STEWARD_WRITES)
@pytest.mark.parametrize("caller", STEWARD_CALLERS)
async def test_stewards_of_the_place_make_and_change_its_plans(
    plans, client, make_key, query, write, caller
):
    role_and_scopes, allowed = STEWARD_CALLERS[caller]
    plan = await plan_in(plans, STEWARD_WRITES[write].state)
    before = snapshot(query)

    response = await STEWARD_WRITES[write].send(
        client, plan and plan["id"], bearer(await make_key(*role_and_scopes))
    )

    if allowed:
        assert response.status_code == STEWARD_WRITES[write].success, response.text
        assert snapshot(query)[3] > before[3]
    else:
        assert_problem(response, 403)
        assert snapshot(query) == before


@pytest.mark.parametrize("caller", DECISIONS)
async def test_signatories_decide_for_the_organisations_in_their_scope(
    plans, make_key, query, caller
):
    role_and_scopes, organisation, status_code = DECISIONS[caller]
    plan = await plans.in_state("proposed")
    before = snapshot(query)

    response = await plans.decide(
        plan["id"], organisation, headers=bearer(await make_key(*role_and_scopes))
    )

    if status_code == 201:
        assert response.status_code == 201, response.text
        assert [a["organisation_code"] for a in response.json()["approvals"]] == [organisation]
    else:
        problem = assert_problem(response, 403)
        assert organisation in problem["detail"] or "role" in problem["detail"]
        assert snapshot(query) == before


# --- two bodies, two keys ----------------------------------------------------------------------


def refused_as_one_key(response: httpx.Response, decided_for: str, deciding_for: str) -> None:
    problem = assert_problem(response, 403)
    assert decided_for in problem["detail"] and deciding_for in problem["detail"]
    assert "another key" in problem["detail"]


async def test_the_icb_s_signatory_cannot_cast_the_place_s_approval_too(plans, query):
    """The break: a signatory key scoped to the ICB covers its places, and so once gave both
    approvals and agreed the plan alone."""
    plan = await plans.in_state("proposed")

    for_icb = await plans.decide(plan["id"], WEST_YORKSHIRE, headers=plans.icb_signatory)
    for_place = await plans.decide(plan["id"], LEEDS, headers=plans.icb_signatory)

    assert for_icb.status_code == 201, for_icb.text
    problem = assert_problem(for_place, 403)
    assert LEEDS in problem["detail"] and "scoped to" in problem["detail"]
    stored = await plans.get(plan["id"])
    assert stored["status"] == "proposed"
    assert [a["organisation_code"] for a in stored["approvals"]] == [WEST_YORKSHIRE]
    assert query("SELECT count(*) FROM plan_approval") == [(1,)]


@pytest.mark.parametrize("second_decision", ["approve", "reject"])
@pytest.mark.parametrize("first", [LEEDS, WEST_YORKSHIRE])
async def test_one_key_scoped_to_both_bodies_speaks_for_one_of_them(
    plans, make_key, query, first, second_decision
):
    plan = await plans.in_state("proposed")
    both = bearer(await make_key("signatory", LEEDS, WEST_YORKSHIRE))
    second = WEST_YORKSHIRE if first == LEEDS else LEEDS
    assert (await plans.decide(plan["id"], first, headers=both)).status_code == 201
    before = snapshot(query)

    refused_as_one_key(
        await plans.decide(plan["id"], second, second_decision, comment="Not yet", headers=both),
        first,
        second,
    )

    assert snapshot(query) == before
    assert (await plans.get(plan["id"]))["status"] == "proposed"
    # The other body's own key completes the agreement.
    other = plans.icb_signatory if second == WEST_YORKSHIRE else plans.place_signatory
    agreed = await plans.decide(plan["id"], second, headers=other)
    assert (agreed.status_code, agreed.json()["status"]) == (201, "agreed")


async def test_an_admin_key_speaks_for_either_body_but_not_for_both(plans, make_key):
    plan = await plans.in_state("proposed")
    admin, another_admin = [bearer(await make_key("admin")) for _ in range(2)]
    assert (await plans.decide(plan["id"], LEEDS, headers=admin)).status_code == 201

    refused_as_one_key(
        await plans.decide(plan["id"], WEST_YORKSHIRE, headers=admin), LEEDS, WEST_YORKSHIRE
    )

    agreed = await plans.decide(plan["id"], WEST_YORKSHIRE, headers=another_admin)
    assert (agreed.status_code, agreed.json()["status"]) == (201, "agreed")


async def test_two_proper_keys_agree_the_plan(plans):
    plan = await plans.in_state("proposed")

    agreed = await plans.agree(plan["id"])

    assert len({a["key_id"] for a in agreed["approvals"]}) == 2


async def test_the_two_keys_rule_holds_within_one_approval_round(plans, make_key):
    """A rejection ends the round; in the next one the key answers for a body afresh."""
    plan = await plans.in_state("proposed")
    both = bearer(await make_key("signatory", LEEDS, WEST_YORKSHIRE))
    assert (await plans.decide(plan["id"], LEEDS, headers=both)).status_code == 201
    assert (
        await plans.decide(plan["id"], WEST_YORKSHIRE, "reject", comment="Too timid")
    ).status_code == 201
    await plans.propose(plan["id"])

    assert (await plans.decide(plan["id"], WEST_YORKSHIRE, headers=both)).status_code == 201
    refused_as_one_key(await plans.decide(plan["id"], LEEDS, headers=both), WEST_YORKSHIRE, LEEDS)
    agreed = await plans.decide(plan["id"], LEEDS)
    assert (agreed.status_code, agreed.json()["status"]) == (201, "agreed")


async def test_one_key_sending_both_approvals_at_once_gives_only_one(plans, make_key, query):
    """The plan's lock orders the two: the second sees the first's approval and is refused."""
    plan = await plans.in_state("proposed")
    both = bearer(await make_key("signatory", LEEDS, WEST_YORKSHIRE))

    answers = await asyncio.gather(
        plans.decide(plan["id"], LEEDS, headers=both),
        plans.decide(plan["id"], WEST_YORKSHIRE, headers=both),
    )

    assert sorted(a.status_code for a in answers) == [201, 403], [a.text for a in answers]
    assert (await plans.get(plan["id"]))["status"] == "proposed"
    assert query("SELECT count(*) FROM plan_approval") == [(1,)]


ALL_WRITES = {
    **STEWARD_WRITES,
    "decide": Write(
        "proposed",
        lambda c, i, h: c.post(
            f"/v1/plans/{i}/approvals",
            headers=h,
            json={"organisation_code": LEEDS, "decision": "approve", "signatory": "A. Signatory"},
        ),
        201,
    ),
}


@pytest.mark.parametrize("write", ALL_WRITES)
@pytest.mark.parametrize("credentials", UNAUTHENTICATED)
async def test_every_write_needs_a_valid_key(plans, client, query, write, credentials):
    plan = await plan_in(plans, ALL_WRITES[write].state)
    before = snapshot(query)

    response = await ALL_WRITES[write].send(
        client, plan and plan["id"], UNAUTHENTICATED[credentials]
    )

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


@pytest.mark.parametrize(
    "path", ["/v1/plans/{id}", "/v1/places/" + LEEDS + "/plans", "/v1/plans/{id}/history"]
)
async def test_reads_need_a_key(plans, client, path):
    plan = await plans.in_state("draft")
    assert_problem(await client.get(path.format(id=plan["id"])), 401)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("assessor", True),
        ("admin", True),
        ("viewer", False),
        ("steward", False),
        ("signatory", False),
        ("submitter", False),
    ],
)
async def test_only_assessors_and_admins_read_a_plan_s_history(
    plans, client, make_key, role, allowed
):
    plan = await plans.in_state("draft")
    headers = await key_for(make_key, role, WEST_YORKSHIRE)

    response = await client.get(f"/v1/plans/{plan['id']}/history", headers=headers)

    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()["data"][0]["action"] == "plan.create"
    else:
        assert_problem(response, 403)
