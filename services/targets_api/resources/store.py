"""The SQL of the resources behind plans: a plan's contributions and planned spend, replaced
whole and copied to a revision, and the place's actual spend from its current observations."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import RowMapping, delete, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.models import PlanContribution, PlanSpend

# The latest current observation of each spend metric in each financial year (the spend to
# date at the last quarter reported), with the financial year the quarter falls in: the year
# that starts in April (services/common/periods.py, _index_of).
_ACTUAL_SPEND = text("""
    SELECT DISTINCT ON (o.metric_code, fy.code)
           o.metric_code, fy.code AS financial_year, o.period, o.value
    FROM observation o
    CROSS JOIN LATERAL (SELECT public.period_start(o.period) AS start) s
    CROSS JOIN LATERAL (
        SELECT extract(year FROM s.start)::int
               - CASE WHEN extract(month FROM s.start) < 4 THEN 1 ELSE 0 END AS year
    ) y
    CROSS JOIN LATERAL (
        SELECT 'FY' || y.year || '-' || lpad(((y.year + 1) % 100)::text, 2, '0') AS code
    ) fy
    WHERE o.place_code = :place AND o.metric_code = ANY(:metrics) AND o.superseded_at IS NULL
    ORDER BY o.metric_code, fy.code, s.start DESC
""")

Resource = PlanContribution | PlanSpend
_CARRIED_OVER: dict[type[Resource], tuple[str, ...]] = {
    PlanContribution: ("financial_year", "organisation", "kind", "amount_gbp"),
    PlanSpend: ("financial_year", "scheme", "amount_gbp"),
}


async def contributions(session: AsyncSession, plan_id: int) -> list[PlanContribution]:
    """The plan's contributions by year, organisation and kind."""
    query = (
        select(PlanContribution)
        .where(col(PlanContribution.plan_id) == plan_id)
        .order_by(
            col(PlanContribution.financial_year),
            col(PlanContribution.organisation),
            col(PlanContribution.kind),
        )
    )
    return list((await session.execute(query)).scalars())


async def planned_spend(session: AsyncSession, plan_id: int) -> list[PlanSpend]:
    """The plan's planned spend by year and scheme (in the database's order of the names)."""
    query = (
        select(PlanSpend)
        .where(col(PlanSpend.plan_id) == plan_id)
        .order_by(col(PlanSpend.financial_year), col(PlanSpend.scheme))
    )
    return list((await session.execute(query)).scalars())


async def replace(
    session: AsyncSession,
    plan_id: int,
    table: type[Resource],
    rows: Sequence[dict[str, Any]],
) -> None:
    """The plan's rows of ``table`` become ``rows``: one DELETE, one multi-row INSERT."""
    await session.execute(delete(table).where(col(table.plan_id) == plan_id))
    if rows:
        await session.execute(insert(table).values([{**row, "plan_id": plan_id} for row in rows]))


async def copy(session: AsyncSession, *, from_plan: int, to_plan: int) -> None:
    """Give ``to_plan`` the contributions and planned spend of ``from_plan``, a statement each."""
    for table, names in _CARRIED_OVER.items():
        columns = [getattr(table, name) for name in names]
        await session.execute(
            insert(table).from_select(
                ["plan_id", *names],
                select(literal(to_plan), *columns).where(col(table.plan_id) == from_plan),
            )
        )


async def actual_spend(
    session: AsyncSession, *, place_code: str, metric_codes: Sequence[str]
) -> list[RowMapping]:
    """``metric_code``, ``financial_year``, ``period`` and ``value``: the place's latest
    current value of each metric in each financial year."""
    found = await session.execute(
        _ACTUAL_SPEND, {"place": place_code, "metrics": list(metric_codes)}
    )
    return list(found.mappings())
