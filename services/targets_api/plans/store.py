"""The SQL of plans: the plan rows and their locks, their targets, their approvals and the
audit entries that are their history."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import insert_row
from services.common.models import AuditLog, Plan, PlanApproval, PlanTarget
from services.targets_api.plans.schemas import PlanStatus

_AGREEMENT_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")


# --- plans -----------------------------------------------------------------------------------


async def plan(session: AsyncSession, plan_id: int) -> Plan | None:
    return await session.get(Plan, plan_id)


def _locked(query: Select[Plan]) -> Select[Plan]:
    """The plans' rows locked FOR NO KEY UPDATE until the transaction ends (plans/workflow.py
    says why that strength), read afresh rather than from the session's copies."""
    return query.with_for_update(key_share=True).execution_options(populate_existing=True)


async def locked_plan(session: AsyncSession, plan_id: int) -> Plan | None:
    return (await session.execute(_locked(select(Plan).where(col(Plan.id) == plan_id)))).scalar()


async def lock_agreements(session: AsyncSession, place_code: str) -> None:
    """Serialise agreements within one place until the transaction ends.

    Two different proposed plans of a place could otherwise be agreed at the same moment: each
    would supersede the same earlier plan, neither would see the other, and the second would
    break the one-agreed-plan-per-place index. The row lock on each plan cannot prevent that.
    """
    await session.execute(_AGREEMENT_LOCK, {"key": f"joinedup.plan.agreement:{place_code}"})


async def locked_agreed_plans(session: AsyncSession, place_code: str) -> list[Plan]:
    """The place's agreed plan (the index allows one at most), locked."""
    query = select(Plan).where(
        col(Plan.place_code) == place_code, col(Plan.status) == PlanStatus.agreed
    )
    return list((await session.execute(_locked(query))).scalars())


async def open_revision(session: AsyncSession, plan_id: int) -> Plan | None:
    """A draft or proposed revision of the plan, if it has one."""
    query = select(Plan).where(
        col(Plan.revises_plan_id) == plan_id,
        col(Plan.status).in_([PlanStatus.draft, PlanStatus.proposed]),
    )
    return (await session.execute(query)).scalars().first()


def _places_plans(place_codes: Sequence[str], status: PlanStatus | None) -> Select[Plan]:
    query = select(Plan).where(col(Plan.place_code).in_(place_codes))
    if status is not None:
        query = query.where(col(Plan.status) == status)
    return query


async def plan_count(
    session: AsyncSession, place_codes: Sequence[str], *, status: PlanStatus | None
) -> int:
    """How many plans the places have in ``status`` (None: in any)."""
    query = select(func.count()).select_from(_places_plans(place_codes, status).subquery())
    return await session.scalar(query) or 0


async def plans_page(
    session: AsyncSession,
    place_codes: Sequence[str],
    *,
    status: PlanStatus | None,
    limit: int | None,
    offset: int,
) -> list[Plan]:
    """The places' plans in ``status`` (None: in any), newest first; ``limit`` None for all."""
    query = _places_plans(place_codes, status).order_by(col(Plan.id).desc())
    return list((await session.execute(query.limit(limit).offset(offset))).scalars())


async def insert_plan(session: AsyncSession, row: Plan) -> Plan:
    """The plan as stored, with its id."""
    return await insert_row(session, row)


async def _update(
    session: AsyncSession, row: Plan | PlanTarget, values: dict[str, Any], stamped: Iterable[str]
) -> None:
    now = dict.fromkeys([*stamped, "updated_at"], func.now())
    for name, value in {**values, **now}.items():
        setattr(row, name, value)
    await session.flush()
    await session.refresh(row)


async def update_plan(
    session: AsyncSession, row: Plan, *, stamped: Iterable[str] = (), **values: Any
) -> None:
    """Set columns of a locked plan, the ``stamped`` ones and ``updated_at`` to the time of the
    transaction, and reload it."""
    await _update(session, row, values, stamped)


# --- targets ---------------------------------------------------------------------------------


async def plan_targets(session: AsyncSession, plan_id: int) -> list[PlanTarget]:
    """The plan's targets in metric code order."""
    query = (
        select(PlanTarget)
        .where(col(PlanTarget.plan_id) == plan_id)
        .order_by(col(PlanTarget.metric_code))
    )
    return list((await session.execute(query)).scalars())


async def target_versions(
    session: AsyncSession, plan_ids: list[int]
) -> dict[int, list[tuple[str, int]]]:
    """Per plan that has targets, their (metric code, metric version): one query for every
    plan."""
    versions: dict[int, list[tuple[str, int]]] = defaultdict(list)
    rows = await session.execute(
        select(
            col(PlanTarget.plan_id), col(PlanTarget.metric_code), col(PlanTarget.metric_version)
        ).where(col(PlanTarget.plan_id).in_(plan_ids))
    )
    for plan_id, code, version in rows:
        versions[plan_id].append((code, version))
    return dict(versions)


async def plan_target(session: AsyncSession, plan_id: int, metric_code: str) -> PlanTarget | None:
    return await session.get(PlanTarget, (plan_id, metric_code))


async def insert_target(session: AsyncSession, row: PlanTarget) -> PlanTarget:
    """The target as stored."""
    return await insert_row(session, row)


async def update_target(session: AsyncSession, row: PlanTarget, **values: Any) -> None:
    """Set columns of the target and its ``updated_at``, and reload it."""
    await _update(session, row, values, ())


async def delete_target(session: AsyncSession, row: PlanTarget) -> None:
    await session.delete(row)
    await session.flush()


# The columns a revision copies from the plan it revises, target by target.
_CARRIED_OVER = (
    "metric_code",
    "metric_version",
    "baseline_period",
    "baseline_value",
    "target_period",
    "target_value",
    "trajectory",
    "tolerance",
)


async def copy_targets(session: AsyncSession, *, from_plan: int, to_plan: int) -> None:
    """Give ``to_plan`` the targets of ``from_plan``, in one statement."""
    columns = [getattr(PlanTarget, name) for name in _CARRIED_OVER]
    await session.execute(
        insert(PlanTarget).from_select(
            ["plan_id", *_CARRIED_OVER],
            select(literal(to_plan), *columns).where(col(PlanTarget.plan_id) == from_plan),
        )
    )


# --- approvals -------------------------------------------------------------------------------


async def plan_approvals(session: AsyncSession, plan_id: int) -> list[PlanApproval]:
    """Every decision on the plan, in every round, in the order they were made."""
    query = (
        select(PlanApproval)
        .where(col(PlanApproval.plan_id) == plan_id)
        .order_by(col(PlanApproval.id))
    )
    return list((await session.execute(query)).scalars())


async def round_decisions(
    session: AsyncSession, plan_id: int, approval_round: int
) -> dict[str, tuple[str, int]]:
    """Each organisation that has decided in the round: (its decision, the key's id)."""
    rows = await session.execute(
        select(
            col(PlanApproval.organisation_code),
            col(PlanApproval.decision),
            col(PlanApproval.key_id),
        ).where(
            col(PlanApproval.plan_id) == plan_id,
            col(PlanApproval.approval_round) == approval_round,
        )
    )
    return {code: (decision, key_id) for code, decision, key_id in rows}


async def insert_approval(session: AsyncSession, row: PlanApproval) -> PlanApproval:
    """The decision as stored, with its id and time."""
    return await insert_row(session, row)


# --- history ---------------------------------------------------------------------------------


def _history(entity_type: str, entity_id: str) -> Select[AuditLog]:
    return select(AuditLog).where(
        col(AuditLog.entity_type) == entity_type, col(AuditLog.entity_id) == entity_id
    )


async def history_count(session: AsyncSession, *, entity_type: str, entity_id: str) -> int:
    query = select(func.count()).select_from(_history(entity_type, entity_id).subquery())
    return await session.scalar(query) or 0


async def history_page(
    session: AsyncSession, *, entity_type: str, entity_id: str, limit: int, offset: int
) -> list[AuditLog]:
    """The entity's audit entries, oldest first."""
    # By id rather than time: occurred_at is when each transaction began, and a transaction
    # that waited for the plan's lock began before the one it waited for made its change.
    query = _history(entity_type, entity_id).order_by(col(AuditLog.id))
    return list((await session.execute(query.limit(limit).offset(offset))).scalars())
