"""The SQL of a place's profile: its plans and its progress, summarised."""

from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncSession

# One pass over the place's plans; the partial unique index allows one agreed plan at most.
_PLAN_SUMMARY = text("""
    SELECT count(*) FILTER (WHERE status = 'draft') AS draft,
           count(*) FILTER (WHERE status = 'proposed') AS proposed,
           count(*) FILTER (WHERE status = 'agreed') AS agreed,
           count(*) FILTER (WHERE status = 'superseded') AS superseded,
           max(id) FILTER (WHERE status = 'agreed') AS current_agreed_plan_id
    FROM plan WHERE place_code = :code
""")
_PROGRESS_SUMMARY = text("""
    SELECT tp.status, count(*) FROM target_progress tp JOIN plan p ON p.id = tp.plan_id
    WHERE p.place_code = :code AND p.status = 'agreed' GROUP BY tp.status
""")


async def plan_summary(session: AsyncSession, code: str) -> RowMapping:
    """How many plans the place has in each state, and its agreed plan's id."""
    return (await session.execute(_PLAN_SUMMARY, {"code": code})).mappings().one()


async def progress_summary(session: AsyncSession, code: str) -> dict[str, Any]:
    """How many of the agreed plan's targets are in each status."""
    return {
        status: count for status, count in await session.execute(_PROGRESS_SUMMARY, {"code": code})
    }
