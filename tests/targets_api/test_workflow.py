"""The agreement workflow: every action in every state, what each legal transition does, and
approvals that arrive at the same moment."""

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from tests.support.areas import BRADFORD, CORNWALL, LEEDS, NORTH_EAST_AND_YORKSHIRE, WEST_YORKSHIRE
from tests.support.clients import bearer
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import FALLS, STATES, TARGETS, Plans, assert_illegal, target

RACES = 20  # rounds of each race: one round alone could pass by luck of timing

Action = Callable[[Plans, int], Awaitable[httpx.Response]]
ACTIONS: dict[str, Action] = {
    "put a target": lambda plans, plan_id: plans.put_target(
        plan_id, FALLS, target(FALLS, target_value=550.0)
    ),
    "delete a target": lambda plans, plan_id: plans.delete_target(plan_id, FALLS),
    "submit": lambda plans, plan_id: plans.submit(plan_id),
    "approve": lambda plans, plan_id: plans.decide(plan_id, LEEDS),
    "reject": lambda plans, plan_id: plans.decide(plan_id, LEEDS, "reject", comment="No."),
    "revise": lambda plans, plan_id: plans.revise(plan_id),
}
# The only (state, action) pairs allowed: the answer, and the state the plan is left in (an
# approval is the first of two; a revision is a new plan while this one stays in force).
LEGAL = {
    ("draft", "put a target"): (200, "draft"),
    ("draft", "delete a target"): (204, "draft"),
    ("draft", "submit"): (200, "proposed"),
    ("proposed", "approve"): (201, "proposed"),
    ("proposed", "reject"): (201, "draft"),
    ("agreed", "revise"): (201, "agreed"),
}


def audit_actions(query, plan_id: int) -> list[str]:
    return [
        action
        for (action,) in query(
            "SELECT action FROM audit_log WHERE entity_type = 'plan' AND entity_id = %s "
            "ORDER BY id",
            str(plan_id),
        )
    ]


def statuses(query, place: str = LEEDS) -> dict[int, str]:
    return dict(query("SELECT id, status FROM plan WHERE place_code = %s", place))


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("state", STATES)
async def test_each_action_is_allowed_in_one_state_and_409_in_the_others(
    plans, query, state, action
):
    plan = await plans.in_state(state)
    history = audit_actions(query, plan["id"])

    response = await ACTIONS[action](plans, plan["id"])

    if (state, action) in LEGAL:
        status_code, after = LEGAL[(state, action)]
        assert response.status_code == status_code, response.text
        assert (await plans.get(plan["id"]))["status"] == after
    else:
        assert_illegal(response, state)
        assert await plans.get(plan["id"]) == plan
        assert audit_actions(query, plan["id"]) == history


async def test_submitting_opens_an_approval_round(plans):
    plan = await plans.draft()
    proposed = await plans.propose(plan["id"])
    assert (proposed["status"], proposed["approval_round"]) == ("proposed", 1)
    assert proposed["submitted_at"] and proposed["updated_at"] > plan["updated_at"]
    assert proposed["targets"] == plan["targets"]


@pytest.mark.parametrize("order", [(LEEDS, WEST_YORKSHIRE), (WEST_YORKSHIRE, LEEDS)])
async def test_the_plan_is_agreed_when_the_place_and_its_icb_have_both_approved(plans, order):
    plan = await plans.in_state("proposed")

    first = await plans.decide(plan["id"], order[0], comment="Content")
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["agreed_at"]) == ("proposed", None)
    second = await plans.decide(plan["id"], order[1])

    assert second.status_code == 201, second.text
    agreed = second.json()
    assert agreed["status"] == "agreed" and agreed["agreed_at"]
    assert [
        (a["organisation_code"], a["decision"], a["approval_round"], a["comment"])
        for a in agreed["approvals"]
    ] == [(order[0], "approve", 1, "Content"), (order[1], "approve", 1, None)]
    assert all(a["signatory"] == "A. Signatory" and a["key_id"] for a in agreed["approvals"])
    assert agreed == await plans.get(plan["id"])


async def test_a_rejection_returns_the_plan_to_draft_and_starts_approval_again(plans):
    plan = await plans.in_state("proposed")
    assert (await plans.decide(plan["id"], LEEDS)).status_code == 201

    rejected = await plans.decide(
        plan["id"], WEST_YORKSHIRE, "reject", comment="The falls trajectory is too flat."
    )

    assert rejected.status_code == 201, rejected.text
    assert (rejected.json()["status"], rejected.json()["rejection_reason"]) == (
        "draft",
        "The falls trajectory is too flat.",
    )
    # The draft can be changed and submitted again, as a new round in which the place's
    # approval of the rejected version no longer counts.
    assert (
        await plans.put_target(plan["id"], FALLS, target(FALLS, target_value=520.0))
    ).status_code == 200
    resubmitted = await plans.propose(plan["id"])
    assert (resubmitted["approval_round"], resubmitted["rejection_reason"]) == (2, None)
    after_icb = await plans.decide(plan["id"], WEST_YORKSHIRE)
    assert (after_icb.status_code, after_icb.json()["status"]) == (201, "proposed")
    after_place = await plans.decide(plan["id"], LEEDS)
    assert (after_place.status_code, after_place.json()["status"]) == (201, "agreed")
    assert [
        (a["approval_round"], a["organisation_code"], a["decision"])
        for a in after_place.json()["approvals"]
    ] == [
        (1, LEEDS, "approve"),
        (1, WEST_YORKSHIRE, "reject"),
        (2, WEST_YORKSHIRE, "approve"),
        (2, LEEDS, "approve"),
    ]


@pytest.mark.parametrize("comment", [None, "", "   "])
async def test_a_rejection_needs_a_comment(plans, comment):
    plan = await plans.in_state("proposed")
    assert_problem(
        await plans.decide(plan["id"], LEEDS, "reject", comment=comment), 422, ("comment",)
    )
    assert (await plans.get(plan["id"]))["status"] == "proposed"


@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_an_organisation_decides_once_in_a_round(plans, query, decision):
    plan = await plans.in_state("proposed")
    assert (await plans.decide(plan["id"], WEST_YORKSHIRE)).status_code == 201

    again = await plans.decide(plan["id"], WEST_YORKSHIRE, decision, comment="Changed my mind")

    assert WEST_YORKSHIRE in assert_illegal(again, "proposed")["detail"]
    assert query("SELECT count(*) FROM plan_approval") == [(1,)]


@pytest.mark.parametrize(
    "organisation", [BRADFORD, CORNWALL, NORTH_EAST_AND_YORKSHIRE, "E92000001", "E99999999"]
)
async def test_only_the_place_and_its_icb_decide(plans, make_key, query, organisation):
    plan = await plans.in_state("proposed")
    admin = bearer(await make_key("admin"))

    problem = assert_problem(
        await plans.decide(plan["id"], organisation, headers=admin), 422, ("organisation_code",)
    )

    assert LEEDS in problem["detail"] and WEST_YORKSHIRE in problem["detail"]
    assert query("SELECT count(*) FROM plan_approval") == [(0,)]


async def test_an_agreed_plan_supersedes_the_place_s_previous_one(plans, make_key, query):
    previous = await plans.in_state("agreed")
    bradford = await plans.draft(BRADFORD)
    await plans.propose(bradford["id"])
    for organisation, headers in (
        (BRADFORD, bearer(await make_key("signatory", BRADFORD))),
        (WEST_YORKSHIRE, plans.icb_signatory),
    ):
        assert (
            await plans.decide(bradford["id"], organisation, headers=headers)
        ).status_code == 201
    newer = await plans.draft()  # a new plan, not a revision, replaces the agreed one too
    await plans.propose(newer["id"])

    await plans.agree(newer["id"])

    superseded = await plans.get(previous["id"])
    assert (superseded["status"], superseded["agreed_at"]) == ("superseded", previous["agreed_at"])
    assert superseded["superseded_at"]
    assert statuses(query) == {previous["id"]: "superseded", newer["id"]: "agreed"}
    assert statuses(query, BRADFORD) == {bradford["id"]: "agreed"}


async def test_a_revision_is_a_new_draft_carrying_the_agreed_plan_over(plans):
    agreed = await plans.in_state("agreed")

    revision = await plans.open_revision(agreed["id"])

    assert {
        k: revision[k]
        for k in (
            "place_code",
            "title",
            "starts_on",
            "ends_on",
            "revision",
            "revises_plan_id",
            "status",
            "approval_round",
            "approvals",
        )
    } == {
        **{k: agreed[k] for k in ("place_code", "title", "starts_on", "ends_on")},
        "revision": 2,
        "revises_plan_id": agreed["id"],
        "status": "draft",
        "approval_round": 0,
        "approvals": [],
    }
    assert revision["id"] != agreed["id"]

    def without_times(targets: list[dict]) -> list[dict]:
        return [{k: v for k, v in t.items() if not k.endswith("_at")} for t in targets]

    assert without_times(revision["targets"]) == without_times(agreed["targets"])
    assert len(revision["targets"]) == len(TARGETS)
    # The agreed plan stays in force, unchanged, until the revision is agreed.
    assert await plans.get(agreed["id"]) == agreed
    assert (
        await plans.put_target(revision["id"], FALLS, target(FALLS, target_value=500.0))
    ).status_code == 200
    assert await plans.get(agreed["id"]) == agreed
    await plans.propose(revision["id"])
    await plans.agree(revision["id"])
    assert (await plans.get(agreed["id"]))["status"] == "superseded"
    third = await plans.open_revision(revision["id"])
    assert (third["revision"], third["revises_plan_id"]) == (3, revision["id"])


@pytest.mark.parametrize("revision_state", ["draft", "proposed", "draft after a rejection"])
async def test_an_agreed_plan_has_one_open_revision_at_a_time(plans, revision_state):
    agreed = await plans.in_state("agreed")
    revision = await plans.open_revision(agreed["id"])
    if revision_state != "draft":
        await plans.propose(revision["id"])
    if revision_state == "draft after a rejection":
        rejected = await plans.decide(revision["id"], LEEDS, "reject", comment="Not yet")
        assert rejected.status_code == 201, rejected.text

    problem = assert_illegal(await plans.revise(agreed["id"]), "agreed")

    assert problem["open_revision_id"] == revision["id"]
    assert str(revision["id"]) in problem["detail"]


# --- races -----------------------------------------------------------------------------------


async def test_simultaneous_approvals_agree_the_plan_exactly_once(plans, query):
    previous = await plans.in_state("agreed")
    for _ in range(RACES):
        plan = await plans.open_revision(previous["id"])
        await plans.propose(plan["id"])

        answers = await asyncio.gather(
            plans.decide(plan["id"], LEEDS), plans.decide(plan["id"], WEST_YORKSHIRE)
        )

        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        # The one that waited for the other's lock saw its approval and agreed the plan.
        assert sorted(a.json()["status"] for a in answers) == ["agreed", "proposed"]
        assert audit_actions(query, plan["id"]).count("plan.agree") == 1
        assert audit_actions(query, previous["id"]).count("plan.supersede") == 1
        assert statuses(query)[previous["id"]] == "superseded"
        assert [i for i, s in statuses(query).items() if s == "agreed"] == [plan["id"]]
        previous = plan


async def test_two_plans_agreed_at_the_same_moment_leave_one_agreed(plans, query):
    """Two proposed plans of one place, each lacking only the ICB's approval: both approvals
    succeed, one plan after the other, and the later supersedes the earlier."""
    previous = await plans.in_state("agreed")
    for _ in range(RACES // 4):
        rivals = [(await plans.draft())["id"] for _ in range(2)]
        for plan_id in rivals:
            await plans.propose(plan_id)
            assert (await plans.decide(plan_id, LEEDS)).status_code == 201

        answers = await asyncio.gather(*(plans.decide(i, WEST_YORKSHIRE) for i in rivals))

        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        now = statuses(query)
        assert sorted(now[i] for i in rivals) == ["agreed", "superseded"]
        [agreed] = [i for i, status in now.items() if status == "agreed"]
        assert now[previous["id"]] == "superseded"
        assert audit_actions(query, previous["id"]).count("plan.supersede") == 1
        assert sum(audit_actions(query, i).count("plan.agree") for i in rivals) == 2
        previous = {"id": agreed}
