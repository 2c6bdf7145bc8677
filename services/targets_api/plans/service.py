"""A place's shared plans: created and filled with targets while draft, then submitted, decided
by the place (its local authority) and its ICB, agreed, and revised. Every change is audited
under the plan it belongs to (entity_type "plan"), so one query reads a plan's whole history."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import (
    ApiPrincipal,
    require_scope,
    require_second_party,
    require_speaks_for,
)
from services.common.catalogue import Catalogue
from services.common.errors import Conflict, NotFound, Unprocessable, field_error
from services.common.models import AuditLog, Plan, PlanApproval, PlanTarget
from services.targets_api.changes import store as changes
from services.targets_api.lookups import place_of
from services.targets_api.plans import store, workflow
from services.targets_api.plans.schemas import (
    ApprovalCreate,
    ApprovalPublic,
    Decision,
    MetricVersionChange,
    PlanCreate,
    PlanPublic,
    PlanStatus,
    PlanSummary,
    TargetPublic,
    TargetUpdate,
)
from services.targets_api.plans.targets import check_target, usable_metric
from services.targets_api.plans.workflow import Action
from services.targets_api.resources import service as resources

ENTITY = "plan"


# --- places and who may act for them -------------------------------------------------------


def _authorise(principal: ApiPrincipal, catalogue: Catalogue, area_code: str) -> None:
    require_scope(principal, area_code, catalogue.lineage(area_code))


def required_organisations(catalogue: Catalogue, place_code: str) -> list[str]:
    """Who must approve a place's plan: the place itself (its local authority) and its ICB."""
    place = place_of(catalogue, place_code)
    return [place.code, *([place.parent_code] if place.parent_code else [])]


# --- reading ---------------------------------------------------------------------------------


def _id(plan: Plan) -> int:
    """A stored plan's id: one read from the database, or flushed to it, has been given one."""
    assert plan.id is not None
    return plan.id


def _version_change(
    catalogue: Catalogue, metric_code: str, version: int
) -> MetricVersionChange | None:
    current = catalogue.metric(metric_code)
    if current is None or current.version == version:
        return None
    return MetricVersionChange(
        metric_code=metric_code, metric_version=version, current_metric_version=current.version
    )


def _summary_fields(
    plan: Plan, catalogue: Catalogue, versions: Iterable[tuple[str, int]]
) -> dict[str, Any]:
    """The plan's own fields and whether any target's metric has moved on since it was set."""
    changes = [
        change
        for code, version in versions
        if (change := _version_change(catalogue, code, version))
    ]
    return {
        **plan.model_dump(),
        "metric_version_changed": bool(changes),
        "metric_version_changes": changes,
    }


def target_public(target: PlanTarget, catalogue: Catalogue) -> TargetPublic:
    current = catalogue.metric(target.metric_code)
    return TargetPublic(
        **target.model_dump(exclude={"plan_id"}),
        current_metric_version=current.version if current else None,
        metric_version_changed=_version_change(catalogue, target.metric_code, target.metric_version)
        is not None,
    )


async def plan_public(session: AsyncSession, plan: Plan, *, catalogue: Catalogue) -> PlanPublic:
    targets = await store.plan_targets(session, _id(plan))
    approvals = await store.plan_approvals(session, _id(plan))
    return PlanPublic(
        **_summary_fields(plan, catalogue, ((t.metric_code, t.metric_version) for t in targets)),
        targets=[target_public(t, catalogue) for t in targets],
        approvals=[ApprovalPublic.model_validate(a) for a in approvals],
        resources=await resources.resources_public(session, plan),
    )


async def get_plan(session: AsyncSession, *, catalogue: Catalogue, plan_id: int) -> PlanPublic:
    return await plan_public(session, await workflow.find(session, plan_id), catalogue=catalogue)


async def list_plans(
    session: AsyncSession,
    *,
    catalogue: Catalogue,
    place_code: str,
    status: PlanStatus | None,
    limit: int | None,
    offset: int,
) -> tuple[list[PlanSummary], int]:
    """A place's plans, newest first; ``limit`` None for all of them."""
    place_of(catalogue, place_code)
    return await _summaries(
        session, catalogue, [place_code], status=status, limit=limit, offset=offset
    )


async def list_area_plans(
    session: AsyncSession,
    *,
    catalogue: Catalogue,
    area_code: str,
    status: PlanStatus | None,
    limit: int | None,
    offset: int,
) -> tuple[list[PlanSummary], int]:
    """The plans of every place under the area (England, a region, an ICB or a place itself),
    newest first; ``limit`` None for all of them."""
    if catalogue.area(area_code) is None:
        raise NotFound(f"No area with code {area_code}.")
    places = list(catalogue.places_in(area_code))
    return await _summaries(session, catalogue, places, status=status, limit=limit, offset=offset)


async def _summaries(
    session: AsyncSession,
    catalogue: Catalogue,
    place_codes: list[str],
    *,
    status: PlanStatus | None,
    limit: int | None,
    offset: int,
) -> tuple[list[PlanSummary], int]:
    count = await store.plan_count(session, place_codes, status=status)
    plans = await store.plans_page(session, place_codes, status=status, limit=limit, offset=offset)
    versions = await store.target_versions(session, [_id(p) for p in plans])
    summaries = [
        PlanSummary(**_summary_fields(p, catalogue, versions.get(_id(p), []))) for p in plans
    ]
    return summaries, count


async def plan_history(
    session: AsyncSession, *, plan_id: int, limit: int, offset: int
) -> tuple[list[AuditLog], int]:
    """Every audited change of the plan, its targets and its approvals, oldest first."""
    await workflow.find(session, plan_id)
    count = await store.history_count(session, entity_type=ENTITY, entity_id=str(plan_id))
    page = await store.history_page(
        session, entity_type=ENTITY, entity_id=str(plan_id), limit=limit, offset=offset
    )
    return page, count


# --- changing --------------------------------------------------------------------------------


async def _record(
    session: AsyncSession,
    principal: ApiPrincipal,
    plan_id: int,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor=principal,
        action=action,
        entity_type=ENTITY,
        entity_id=str(plan_id),
        before=before,
        after=after,
    )


async def _lock_for(
    session: AsyncSession,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    plan_id: int,
    action: Action,
) -> Plan:
    """Lock the plan a steward wants to change, once the key covers its place and its state
    allows ``action``."""
    plan = await workflow.lock(session, plan_id)
    _authorise(principal, catalogue, plan.place_code)
    workflow.require(plan, action)
    return plan


async def create_plan(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    place_code: str,
    body: PlanCreate,
) -> PlanPublic:
    place = place_of(catalogue, place_code)
    _authorise(principal, catalogue, place.code)
    plan = await store.insert_plan(
        session,
        Plan(
            place_code=place.code,
            title=body.title,
            starts_on=body.starts_on,
            ends_on=body.ends_on,
            revision=1,
        ),
    )
    await _record(session, principal, _id(plan), "plan.create", after=workflow.snapshot(plan))
    return await plan_public(session, plan, catalogue=catalogue)


def _target_snapshot(target: PlanTarget | None) -> dict[str, Any] | None:
    return target.model_dump(mode="json") if target else None


async def put_target(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    plan_id: int,
    metric_code: str,
    body: TargetUpdate,
) -> TargetPublic:
    """Set or replace the plan's target for a metric, against the metric's current version."""
    plan = await _lock_for(session, principal, catalogue, plan_id, Action.edit_targets)
    metric = usable_metric(catalogue, metric_code=metric_code, place_code=plan.place_code)
    check_target(body, metric=metric, plan=plan)
    values = {**body.model_dump(mode="json"), "metric_version": metric.version}
    target = await store.plan_target(session, plan_id, metric_code)
    before = _target_snapshot(target)
    if target is None:
        target = await store.insert_target(
            session, PlanTarget(plan_id=plan_id, metric_code=metric_code, **values)
        )
    else:
        await store.update_target(session, target, **values)
    await store.update_plan(session, plan)
    await _record(
        session,
        principal,
        plan_id,
        "plan.target.put",
        before=before,
        after=_target_snapshot(target),
    )
    return target_public(target, catalogue)


async def delete_target(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    plan_id: int,
    metric_code: str,
) -> None:
    plan = await _lock_for(session, principal, catalogue, plan_id, Action.edit_targets)
    target = await store.plan_target(session, plan_id, metric_code)
    if target is None:
        raise NotFound(f"Plan {plan_id} has no target for {metric_code}.")
    before = _target_snapshot(target)
    await store.delete_target(session, target)
    await store.update_plan(session, plan)
    await _record(session, principal, plan_id, "plan.target.delete", before=before)


def missing_mandatory(catalogue: Catalogue, have: Iterable[str]) -> list[str]:
    """The active mandatory national metrics a plan has no target for."""
    present = set(have)
    return sorted(
        m.code
        for m in catalogue.metrics.values()
        if m.scope == "national" and m.mandatory and m.status == "active" and m.code not in present
    )


async def submit_plan(
    session: AsyncSession, *, principal: ApiPrincipal, catalogue: Catalogue, plan_id: int
) -> PlanPublic:
    """Propose a complete draft for approval, opening a new approval round."""
    plan = await _lock_for(session, principal, catalogue, plan_id, Action.submit)
    missing = missing_mandatory(
        catalogue, (t.metric_code for t in await store.plan_targets(session, plan_id))
    )
    if missing:
        raise Unprocessable(
            f"Plan {plan_id} cannot be submitted: it has no target for the mandatory national "
            f"metric{'s' if len(missing) > 1 else ''} {', '.join(missing)}.",
            errors=[
                field_error(["targets", code], "a mandatory national metric needs a target")
                for code in missing
            ],
            missing_metric_codes=missing,
        )
    # A fresh round: decisions from an earlier, rejected round no longer count, and the reason
    # for that rejection stays in the history and the approvals rather than on the plan.
    await workflow.transition(
        session,
        plan,
        PlanStatus.proposed,
        actor=principal,
        approval_round=plan.approval_round + 1,
        rejection_reason=None,
    )
    return await plan_public(session, plan, catalogue=catalogue)


async def _supersede_agreed(
    session: AsyncSession, *, principal: ApiPrincipal, place_code: str
) -> None:
    """The place's agreed plan, if it has one, gives way to the one being agreed."""
    await store.lock_agreements(session, place_code)
    for previous in await store.locked_agreed_plans(session, place_code):
        await workflow.transition(session, previous, PlanStatus.superseded, actor=principal)


async def decide(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    plan_id: int,
    body: ApprovalCreate,
) -> PlanPublic:
    """One organisation's decision on a proposed plan, by a key scoped to that organisation and
    not the key that decided for the other one this round: a rejection returns it to draft;
    the last of the required approvals agrees it."""
    plan = await workflow.lock(session, plan_id)
    require_speaks_for(principal, body.organisation_code)
    workflow.require(plan, Action.decide)
    required = required_organisations(catalogue, plan.place_code)
    if body.organisation_code not in required:
        msg = (
            f"plan {plan_id} is decided by its place {required[0]} and its ICB "
            f"{required[-1]}, not by {body.organisation_code}"
        )
        raise Unprocessable(
            f"The approval is not valid: {msg}.", errors=[field_error(["organisation_code"], msg)]
        )
    round_ = await store.round_decisions(session, plan_id, plan.approval_round)
    if earlier := round_.get(body.organisation_code):
        raise Conflict(
            f"{body.organisation_code} has already decided plan {plan_id} in "
            f"approval round {plan.approval_round} ({earlier[0]}); the plan is "
            f"{plan.status}.",
            current_status=plan.status,
        )
    require_second_party(
        principal,
        body.organisation_code,
        {code: key_id for code, (_, key_id) in round_.items()},
        subject=f"plan {plan_id} in approval round {plan.approval_round}",
    )
    decided = {code: decision for code, (decision, _) in round_.items()}
    approval = await store.insert_approval(
        session,
        PlanApproval(
            plan_id=plan_id,
            approval_round=plan.approval_round,
            organisation_code=body.organisation_code,
            decision=body.decision,
            signatory=body.signatory,
            comment=body.comment,
            key_id=principal.key_id,
        ),
    )
    await _record(
        session,
        principal,
        plan_id,
        f"plan.approval.{body.decision}",
        after=ApprovalPublic.model_validate(approval).model_dump(mode="json"),
    )
    decided[body.organisation_code] = body.decision
    if body.decision is Decision.reject:
        await workflow.transition(
            session, plan, PlanStatus.draft, actor=principal, rejection_reason=body.comment
        )
    elif all(decided.get(code) == Decision.approve for code in required):
        await _supersede_agreed(session, principal=principal, place_code=plan.place_code)
        await workflow.transition(session, plan, PlanStatus.agreed, actor=principal)
        await changes.queue_place_targets(session, place_code=plan.place_code)
    return await plan_public(session, plan, catalogue=catalogue)


async def revise_plan(
    session: AsyncSession, *, principal: ApiPrincipal, catalogue: Catalogue, plan_id: int
) -> PlanPublic:
    """A new draft revision of the agreed plan, with its title, period, targets and resources;
    the agreed plan stays in force until the revision is agreed."""
    plan = await _lock_for(session, principal, catalogue, plan_id, Action.revise)
    open_revision = await store.open_revision(session, plan_id)
    if open_revision is not None:
        # Two open revisions of one plan would compete to replace it; change the open one.
        raise workflow.illegal(
            plan,
            Action.revise,
            detail=(
                f"Plan {plan_id} is agreed and already has an open revision, plan "
                f"{open_revision.id} ({open_revision.status}); change or submit that one."
            ),
            open_revision_id=open_revision.id,
        )
    revision = await store.insert_plan(
        session,
        Plan(
            place_code=plan.place_code,
            title=plan.title,
            starts_on=plan.starts_on,
            ends_on=plan.ends_on,
            revision=plan.revision + 1,
            revises_plan_id=plan_id,
        ),
    )
    await store.copy_targets(session, from_plan=plan_id, to_plan=_id(revision))
    carried = await store.plan_targets(session, _id(revision))
    carried_resources = await resources.copy_to_revision(
        session, from_plan=plan_id, to_plan=_id(revision)
    )
    await _record(
        session,
        principal,
        _id(revision),
        "plan.revise",
        after={
            **workflow.snapshot(revision),
            "targets": [_target_snapshot(t) for t in carried],
            "resources": carried_resources,
        },
    )
    return await plan_public(session, revision, catalogue=catalogue)
