"""The plan's state machine: which actions each state allows, and the transitions between states.

    draft --submit--> proposed --both approve--> agreed --a newer plan agreed--> superseded
      ^                  |
      +----a reject------+                 agreed --revise--> a new draft revision

Every change starts by locking the plan's row (SELECT ... FOR NO KEY UPDATE), so the state it
checks is the state it changes: of two approvals arriving together, the second waits for the
first to commit and then sees its decision, which makes exactly one of them the agreeing one.
NO KEY UPDATE, not UPDATE: it excludes other changes to the plan but not the foreign-key checks
of rows that refer to it, so a progress refresh writing a target's progress never waits for a
plan change (docs/architecture.md, "Lock order").
"""

from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal
from services.common.errors import Conflict, NotFound
from services.common.models import Plan
from services.targets_api.plans import store
from services.targets_api.plans.schemas import PlanStatus


class Action(StrEnum):
    """What a caller asks to do with a plan, and so which states allow it."""

    edit_targets = "edit_targets"
    edit_resources = "edit_resources"
    submit = "submit"
    decide = "decide"
    revise = "revise"


ALLOWED: dict[Action, PlanStatus] = {
    Action.edit_targets: PlanStatus.draft,
    Action.edit_resources: PlanStatus.draft,
    Action.submit: PlanStatus.draft,
    Action.decide: PlanStatus.proposed,
    Action.revise: PlanStatus.agreed,
}

_REFUSALS = {
    Action.edit_targets: "its targets can be changed only while it is a draft",
    Action.edit_resources: "its resources can be changed only while it is a draft",
    Action.submit: "only a draft can be submitted",
    Action.decide: "only a proposed plan can be approved or rejected",
    Action.revise: "only the agreed plan can be revised",
}

# What the caller can do instead, from each state.
_ADVICE = {
    PlanStatus.draft: "Submit it to ask for approval.",
    PlanStatus.proposed: "Wait for the place's and the ICB's decisions; a rejection returns it "
    "to draft.",
    PlanStatus.agreed: "An agreed plan is frozen: revise it to propose changes.",
    PlanStatus.superseded: "A superseded plan is frozen and a newer plan is agreed: revise that "
    "one instead.",
}

# Transitions, each with the audit action that records it.
TRANSITIONS: dict[tuple[PlanStatus, PlanStatus], str] = {
    (PlanStatus.draft, PlanStatus.proposed): "plan.submit",
    (PlanStatus.proposed, PlanStatus.agreed): "plan.agree",
    (PlanStatus.proposed, PlanStatus.draft): "plan.return_to_draft",
    (PlanStatus.agreed, PlanStatus.superseded): "plan.supersede",
}

# Stamped when a plan enters the state.
_ENTERED_AT = {
    PlanStatus.proposed: "submitted_at",
    PlanStatus.agreed: "agreed_at",
    PlanStatus.superseded: "superseded_at",
}


def illegal(plan: Plan, action: Action, detail: str | None = None, **extensions: Any) -> Conflict:
    """The 409 for an action the plan's state does not allow; it names the state twice over,
    in words and as ``current_status``, so clients can branch on it."""
    status = PlanStatus(plan.status)
    return Conflict(
        detail or f"Plan {plan.id} is {status}: {_REFUSALS[action]}. {_ADVICE[status]}",
        current_status=status.value,
        **extensions,
    )


def require(plan: Plan, action: Action) -> None:
    if plan.status != ALLOWED[action]:
        raise illegal(plan, action)


async def find(session: AsyncSession, plan_id: int) -> Plan:
    """The plan, unlocked, to read; 404 if there is none."""
    plan = await store.plan(session, plan_id)
    if plan is None:
        raise NotFound(f"No plan with id {plan_id}.")
    return plan


async def lock(session: AsyncSession, plan_id: int) -> Plan:
    """The plan, its row locked until the transaction ends; 404 if there is none."""
    plan = await store.locked_plan(session, plan_id)
    if plan is None:
        raise NotFound(f"No plan with id {plan_id}.")
    return plan


def snapshot(plan: Plan) -> dict[str, Any]:
    """The plan row as the audit log keeps it."""
    return plan.model_dump(mode="json")


async def transition(
    session: AsyncSession, plan: Plan, to: PlanStatus, *, actor: ApiPrincipal, **values: Any
) -> None:
    """Move a locked plan to ``to`` (setting ``values`` too) and audit it."""
    action = TRANSITIONS[(PlanStatus(plan.status), to)]  # a KeyError here is a bug, not a 409
    before = snapshot(plan)
    stamped = [_ENTERED_AT[to]] if to in _ENTERED_AT else []
    await store.update_plan(session, plan, stamped=stamped, status=to.value, **values)
    await audit.record(
        session,
        actor=actor,
        action=action,
        entity_type="plan",
        entity_id=str(plan.id),
        before=before,
        after=snapshot(plan),
    )
