"""The resources behind a plan: each partner's contribution in each financial year of the plan's
period (pooled or aligned, in GBP) and the planned spend by scheme type, set as a whole while
the plan is a draft and frozen with it once submitted; and the planned spend against the
place's actual spend to date, read from its current observations of the spend metrics. Changes
are audited under the plan (entity_type "plan"), beside its targets and approvals."""

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal, require_scope
from services.common.catalogue import Catalogue
from services.common.errors import Unprocessable, field_error
from services.common.models import Plan, PlanContribution, PlanSpend
from services.common.periods import Periodicity, containing, periods_between
from services.common.vocabulary import SPEND_METRICS
from services.targets_api.governance import store as governance
from services.targets_api.plans import store as plans
from services.targets_api.plans import workflow
from services.targets_api.plans.schemas import PlanStatus
from services.targets_api.plans.workflow import Action
from services.targets_api.resources import store
from services.targets_api.resources.comparison import (
    Key,
    SpendToDate,
    spend_against_plan,
    year_totals,
)
from services.targets_api.resources.schemas import (
    ContributionPublic,
    PlannedSpendPublic,
    ResourcesPublic,
    ResourcesUpdate,
)

ENTITY = "plan"
_PENCE = Decimal("0.01")
_METRIC_SCHEMES = {code: scheme for scheme, code in SPEND_METRICS.items()}
# What makes a row the one row of its kind.
_CONTRIBUTION_KEY = ("financial_year", "organisation", "kind")
_SPEND_KEY = ("financial_year", "scheme")


def financial_years(plan: Plan) -> list[str]:
    """The financial years the plan's period runs in, first to last."""
    first, last = (
        containing(Periodicity.financial_year, day) for day in (plan.starts_on, plan.ends_on)
    )
    return [period.code for period in periods_between(first, last)]


async def partners(session: AsyncSession, catalogue: Catalogue, place_code: str) -> list[str]:
    """Who may contribute to a place's plan: the place (its local authority) by code, its ICB
    by code, and the members of the place's current governance arrangement by name."""
    place = catalogue.areas[place_code]
    current = (await governance.current_versions(session, [place_code])).get(place_code)
    members = [m["organisation"] for m in current.members] if current else []
    return [place_code, *([place.parent_code] if place.parent_code else []), *members]


def _row_errors(
    section: str,
    rows: list[dict[str, Any]],
    key: tuple[str, ...],
    years: list[str],
) -> list[dict[str, Any]]:
    """A row whose year is outside the plan's, or that repeats an earlier row's ``key``."""
    errors, seen = [], set()
    for i, row in enumerate(rows):
        if row["financial_year"] not in years:
            errors.append(
                field_error(
                    [section, i, "financial_year"],
                    f"{row['financial_year']} is not a financial year of the plan's period "
                    f"({', '.join(years)})",
                )
            )
        identity = tuple(row[name] for name in key)
        if identity in seen:
            errors.append(field_error([section, i], f"repeats an earlier row's {', '.join(key)}"))
        seen.add(identity)
    return errors


def _check(body: ResourcesUpdate, *, years: list[str], partners: list[str]) -> None:
    contributions = [c.model_dump() for c in body.contributions]
    errors = [
        *_row_errors("contributions", contributions, _CONTRIBUTION_KEY, years),
        *_row_errors(
            "planned_spend", [s.model_dump() for s in body.planned_spend], _SPEND_KEY, years
        ),
        *(
            field_error(
                ["contributions", i, "organisation"],
                f"{row['organisation']!r} is not a partner of the place: use the place's code "
                f"({partners[0]}), its ICB's ({partners[1] if len(partners) > 1 else 'none'}) "
                "or the name of a member of its governance arrangement",
            )
            for i, row in enumerate(contributions)
            if row["organisation"] not in partners
        ),
    ]
    if errors:
        raise Unprocessable(
            f"The plan's resources are not valid: {len(errors)} row"
            f"{'s' if len(errors) > 1 else ''} to correct.",
            errors=errors,
        )


def _as_stored(rows: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows as the database holds them (to the penny), in ``key`` order, for comparing and for
    the audit log."""
    stored = [
        {**row, "amount_gbp": str(Decimal(row["amount_gbp"]).quantize(_PENCE))} for row in rows
    ]
    return sorted(stored, key=lambda row: tuple(row[name] for name in key))


async def _snapshot(session: AsyncSession, plan_id: int) -> dict[str, list[dict[str, Any]]]:
    contributions = await store.contributions(session, plan_id)
    spend = await store.planned_spend(session, plan_id)
    return {
        "contributions": _as_stored(
            [c.model_dump(include=set(_CONTRIBUTION_KEY) | {"amount_gbp"}) for c in contributions],
            _CONTRIBUTION_KEY,
        ),
        "planned_spend": _as_stored(
            [s.model_dump(include=set(_SPEND_KEY) | {"amount_gbp"}) for s in spend], _SPEND_KEY
        ),
    }


async def resources_public(session: AsyncSession, plan: Plan) -> ResourcesPublic:
    """The plan's resources and its planned spend against the place's actual spend."""
    assert plan.id is not None
    years = financial_years(plan)
    contributions = await store.contributions(session, plan.id)
    spend_rows = await store.planned_spend(session, plan.id)
    actual: dict[Key, SpendToDate] = {
        (row["financial_year"], _METRIC_SCHEMES[row["metric_code"]]): SpendToDate(
            row["period"], row["value"]
        )
        for row in await store.actual_spend(
            session, place_code=plan.place_code, metric_codes=list(SPEND_METRICS.values())
        )
    }
    planned = {(s.financial_year, s.scheme): s.amount_gbp for s in spend_rows}
    against = spend_against_plan(years, planned, actual)
    return ResourcesPublic(
        plan_id=plan.id,
        place_code=plan.place_code,
        financial_years=years,
        frozen=plan.status != PlanStatus.draft,
        contributions=[ContributionPublic.model_validate(c.model_dump()) for c in contributions],
        planned_spend=[PlannedSpendPublic.model_validate(s.model_dump()) for s in spend_rows],
        totals=year_totals(
            years,
            ((c.financial_year, c.kind, c.amount_gbp) for c in contributions),
            planned,
            against,
        ),
        spend=against,
    )


async def get_resources(session: AsyncSession, *, plan_id: int) -> ResourcesPublic:
    plan = await workflow.find(session, plan_id)
    return await resources_public(session, plan)


async def put_resources(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    plan_id: int,
    body: ResourcesUpdate,
) -> ResourcesPublic:
    """Replace a draft plan's resources whole (the same resources sent again are a retry:
    nothing is written or audited)."""
    plan = await workflow.lock(session, plan_id)
    require_scope(principal, plan.place_code, catalogue.lineage(plan.place_code))
    workflow.require(plan, Action.edit_resources)
    _check(
        body,
        years=financial_years(plan),
        partners=await partners(session, catalogue, plan.place_code),
    )
    before = await _snapshot(session, plan_id)
    after = {
        "contributions": _as_stored(
            [c.model_dump() for c in body.contributions], _CONTRIBUTION_KEY
        ),
        "planned_spend": _as_stored([s.model_dump() for s in body.planned_spend], _SPEND_KEY),
    }
    if before != after:
        await store.replace(session, plan_id, PlanContribution, after["contributions"])
        await store.replace(session, plan_id, PlanSpend, after["planned_spend"])
        await plans.update_plan(session, plan)
        await audit.record(
            session,
            actor=principal,
            action="plan.resources.put",
            entity_type=ENTITY,
            entity_id=str(plan_id),
            before=before,
            after=after,
        )
    return await resources_public(session, plan)


async def copy_to_revision(
    session: AsyncSession, *, from_plan: int, to_plan: int
) -> dict[str, Any]:
    """Give a new revision the resources of the plan it revises; returns them as audited."""
    await store.copy(session, from_plan=from_plan, to_plan=to_plan)
    return await _snapshot(session, to_plan)
