"""Escalations: a place's obstacle put to the level above it, up the chain of command.

A place's steward or signatory raises one by hand, or a rule raises it after a progress refresh
(a target off track N consecutive periods; a national metric's value missing D days after its
deadline). It is addressed to the place's ICB; the ICB's stewards and signatories acknowledge,
resolve or escalate it; escalating (by hand, or by itself when an ICB has not acknowledged it
within E days) leaves the row ``escalated`` and opens the same matter at the region, and from
there at England (the national support team), which cannot escalate further:

    open --acknowledge--> acknowledged --resolve--> resolved
      |                        |
      +------escalate----------+--> escalated (and a new open row one level up)
      +------resolve-------------> resolved

Every step, by hand or by rule, goes through ``record_steps``: the history row, the audit
entry and the webhooks' deliveries (services/targets_api/webhooks), set-based, in the
transaction of the change. A rule's escalation resolves itself, with a note, when its cause
goes away.
"""

from datetime import date
from typing import Any, Literal

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal, require_scope
from services.common.catalogue import Catalogue
from services.common.errors import Conflict, NotFound, Unprocessable, field_error
from services.common.models import Escalation
from services.common.vocabulary import EscalationAction, EscalationState
from services.targets_api.escalations import store
from services.targets_api.escalations.rules import EscalationRules, acknowledge_by, due_periods
from services.targets_api.escalations.schemas import (
    EscalationCreate,
    EscalationDetail,
    EscalationPublic,
    StepCreate,
    StepPublic,
)
from services.targets_api.lookups import place_of
from services.targets_api.webhooks import service as webhooks
from services.targets_api.webhooks.service import Announcement

# Who the rules' steps are by, in the history and the audit log.
RULES_ACTOR = "rule:escalations"
Answer = Literal["acknowledge", "resolve", "escalate"]
# What each answer may follow, and the state it leaves.
_ALLOWED: dict[Answer, tuple[tuple[EscalationState, ...], EscalationState]] = {
    "acknowledge": (("open",), "acknowledged"),
    "resolve": (("open", "acknowledged"), "resolved"),
    "escalate": (("open", "acknowledged"), "escalated"),
}
_STEP_OF: dict[Answer, EscalationAction] = {
    "acknowledge": "acknowledged",
    "resolve": "resolved",
    "escalate": "escalated",
}


def _public(row: RowMapping, rules: EscalationRules) -> EscalationPublic:
    waiting = row["state"] == "open" and row["level"] == "icb"
    return EscalationPublic.model_validate(
        {
            **row,
            "acknowledge_by": acknowledge_by(row["created_on"], rules) if waiting else None,
        }
    )


def _actor_label(actor: ApiPrincipal | str) -> str:
    return audit.entry(actor=actor, action="", entity_type="", entity_id="").actor


async def record_steps(
    session: AsyncSession, *, actor: ApiPrincipal | str, steps: list[dict[str, Any]]
) -> None:
    """Every step of every escalation, by hand or by rule, is recorded here: in its history
    (escalation_step) and in the audit log, in the caller's transaction. Each step: ``id`` (of
    the escalation), ``step`` (EscalationAction), ``note``, ``from_area``, ``to_area`` and
    ``before`` (the state it left, as JSON text, or None for a new escalation)."""
    entry = audit.entry(actor=actor, action="", entity_type="escalation", entity_id="")
    recorded = await store.record_steps(session, steps, audit_entry=entry)
    # Told to the subscribers of the place and of the area it is addressed to (an escalation
    # moved up is opened, and so told, at the level above), in the same transaction.
    await webhooks.publish_all(
        session,
        [
            Announcement(
                area_codes=sorted({e.after["place_code"], e.after["addressed_to"]}),
                event=e.action,  # "escalation.<step>": the audit's action is the event's name
                payload=e.after,
            )
            for e in recorded
        ],
    )


def _step(
    escalation_id: int,
    step: EscalationAction,
    *,
    to_area: str,
    from_area: str | None = None,
    note: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    state = None if before is None else f'{{"state": "{before}"}}'
    return {
        "id": escalation_id,
        "step": step,
        "note": note,
        "from_area": from_area,
        "to_area": to_area,
        "before": state,
    }


async def raise_escalation(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    code: str,
    body: EscalationCreate,
    rules: EscalationRules,
) -> tuple[EscalationPublic, bool]:
    """A place's escalation to its ICB; returns it and whether it is new. The same title (and
    metric) again while the first is still at the ICB and live is a retry: nothing is added."""
    place = place_of(catalogue, code)
    require_scope(principal, code, catalogue.lineage(code))
    if body.metric_code is not None and catalogue.metric(body.metric_code) is None:
        raise Unprocessable(
            f"No metric {body.metric_code!r}.",
            errors=[field_error(["metric_code"], "must be a metric of the catalogue")],
        )
    icb = place.parent_code
    if icb is None:  # a place the catalogue has outside any ICB: no one to ask
        raise Conflict(f"{place.name} ({code}) has no ICB to escalate to.")
    existing = await store.live_manual(
        session, place_code=code, title=body.title, metric_code=body.metric_code
    )
    if existing is not None:
        return _public(existing, rules), False
    actor = _actor_label(principal)
    row = await store.insert(
        session,
        Escalation(
            place_code=code,
            reason="manual",
            addressed_to=icb,
            level="icb",
            created_by=actor,
            updated_by=actor,
            **body.model_dump(),
        ),
    )
    assert row.id is not None
    await record_steps(
        session, actor=principal, steps=[_step(row.id, "opened", to_area=icb, from_area=code)]
    )
    found = await store.get(session, row.id)
    assert found is not None
    return _public(found, rules), True


async def answer(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    escalation_id: int,
    action: Answer,
    body: StepCreate,
    rules: EscalationRules,
) -> tuple[EscalationPublic, bool]:
    """The addressee's acknowledgement, resolution or escalation; returns the escalation as it
    now stands (for ``escalate``, the one opened above) and whether anything changed.

    The same answer again is a retry: the escalation as it stands, unchanged. Any other answer
    to an escalation no longer in a state that allows it is 409."""
    row = await store.lock(session, escalation_id)
    if row is None:
        raise NotFound(f"No escalation {escalation_id}.")
    area = row["addressed_to"]
    require_scope(principal, area, catalogue.lineage(area))
    allowed, after = _ALLOWED[action]
    if row["state"] == after:
        if action == "escalate" and row["escalated_to_id"] is not None:
            above = await store.get(session, row["escalated_to_id"])
            assert above is not None
            return _public(above, rules), False
        return _public(row, rules), False
    if row["state"] not in allowed:
        raise Conflict(
            f"Escalation {escalation_id} is {row['state']}; it can be {action}d only when "
            f"{' or '.join(allowed)}.",
            state=row["state"],
        )
    if action == "escalate" and row["level"] == "nation":
        raise Conflict(
            f"Escalation {escalation_id} is with England's national support team, the top of "
            f"the chain: it cannot be escalated further; resolve it instead.",
            state=row["state"],
            level=row["level"],
        )
    actor = _actor_label(principal)
    await store.set_state(session, escalation_id, state=after, actor=actor)
    if action != "escalate":
        await record_steps(
            session,
            actor=principal,
            steps=[
                _step(
                    escalation_id,
                    _STEP_OF[action],
                    to_area=area,
                    note=body.note,
                    before=row["state"],
                )
            ],
        )
        found = await store.get(session, escalation_id)
        assert found is not None
        return _public(found, rules), True
    opened = await store.open_above(session, [escalation_id], actor=actor)
    if not opened:  # the catalogue has no area above the addressee: nowhere to go
        raise Conflict(f"{area} has no area above it to escalate to.", state=row["state"])
    [above] = opened
    await record_steps(
        session,
        actor=principal,
        steps=_escalation_steps(
            [{**above, "from_area": area}], note=body.note, before=row["state"]
        ),
    )
    found = await store.get(session, above["id"])
    assert found is not None
    return _public(found, rules), True


def _escalation_steps(
    opened: list[dict[str, Any]], *, note: str | None, before: str
) -> list[dict[str, Any]]:
    """For each escalation moved up: ``escalated`` in the history of the row left below and
    ``opened`` in the history of the row above."""
    steps = []
    for row in opened:
        move = {"from_area": row["from_area"], "to_area": row["addressed_to"], "note": note}
        steps.append(_step(row["escalated_from_id"], "escalated", **move, before=before))
        steps.append(_step(row["id"], "opened", **move))
    return steps


async def get_escalation(
    session: AsyncSession, *, escalation_id: int, rules: EscalationRules
) -> EscalationDetail:
    row = await store.get(session, escalation_id)
    if row is None:
        raise NotFound(f"No escalation {escalation_id}.")
    steps = [StepPublic.model_validate(s) for s in await store.steps_of(session, escalation_id)]
    return EscalationDetail(**_public(row, rules).model_dump(), steps=steps)


async def list_escalations(
    session: AsyncSession,
    *,
    by: Literal["place_code", "addressed_to"],
    code: str,
    state: EscalationState | None,
    limit: int | None,
    offset: int,
    rules: EscalationRules,
) -> tuple[list[EscalationPublic], int]:
    rows, count = await store.page(
        session, column=by, code=code, state=state, limit=limit, offset=offset
    )
    return [_public(row, rules) for row in rows], count


async def evaluate_rules(
    session: AsyncSession, *, catalogue: Catalogue, rules: EscalationRules, today: date
) -> dict[str, int]:
    """The rules, after a progress refresh and in its transaction: open what is newly off track
    or missing, resolve what no longer is, and move to the region what an ICB has not
    acknowledged in time. Each is one statement over every place (store.py); the partial unique
    index makes a concurrent evaluation open nothing twice. Counts of each, for the log."""
    due = due_periods(catalogue, today=today, grace_days=rules.data_missing_days)
    steps: list[dict[str, Any]] = []
    opened = [
        *await store.open_off_track(session, periods=rules.off_track_periods, actor=RULES_ACTOR),
        *await store.open_data_missing(session, due=due, actor=RULES_ACTOR),
    ]
    steps += [_step(r["id"], "opened", to_area=r["addressed_to"]) for r in opened]
    resolved = await store.resolve_gone(session, due=due, actor=RULES_ACTOR)
    notes = {
        "off_track": "Resolved by itself: the target is no longer off track.",
        "data_missing": "Resolved by itself: the missing value has been submitted.",
    }
    steps += [
        _step(
            r["id"],
            "resolved",
            to_area=r["addressed_to"],
            note=notes.get(r["reason"]),
            before=r["before"],
        )
        for r in resolved
    ]
    moved = await store.escalate_overdue(
        session, days=rules.acknowledge_days, today=today, actor=RULES_ACTOR
    )
    below = {r["id"]: r["addressed_to"] for r in moved}
    above = await store.open_above(session, list(below), actor=RULES_ACTOR)
    steps += _escalation_steps(
        [{**r, "from_area": below[r["escalated_from_id"]]} for r in above],
        note=f"Escalated by itself: not acknowledged within {rules.acknowledge_days} days.",
        before="open",
    )
    await record_steps(session, actor=RULES_ACTOR, steps=steps)
    return {"opened": len(opened), "resolved": len(resolved), "escalated": len(moved)}
