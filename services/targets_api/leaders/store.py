"""The SQL of place leaders and of a place's profile: its terms, its plans and its progress,
summarised."""

from datetime import date
from typing import Any

from sqlalchemy import RowMapping, Select, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import insert_row
from services.common.models import PlaceLeader

# Serialises appointments per place. A row lock on the latest term would not do: a place with
# no leader yet has no row to lock, so two first appointments would race to the unique index
# and one would end in a 500.
_LOCK_PLACE = text("SELECT pg_advisory_xact_lock(hashtextextended('place_leader:' || :code, 0))")
# One pass over the place's plans; the partial unique index allows one agreed plan at most.
_PLAN_SUMMARY = text("""
    SELECT count(*) FILTER (WHERE status = 'draft') AS draft,
           count(*) FILTER (WHERE status = 'proposed') AS proposed,
           count(*) FILTER (WHERE status = 'agreed') AS agreed,
           count(*) FILTER (WHERE status = 'superseded') AS superseded,
           max(id) FILTER (WHERE status = 'agreed') AS current_agreed_plan_id
    FROM plan WHERE place_code = :code
""")
_CONFIRMATIONS = text("""
    SELECT n.leader_id, n.id AS nomination_id, d.organisation_code, d.signatory, d.decided_at
    FROM leader_nomination n JOIN leader_nomination_decision d ON d.nomination_id = n.id
    WHERE n.leader_id = ANY(:ids) ORDER BY d.id
""")
_PROGRESS_SUMMARY = text("""
    SELECT tp.status, count(*) FROM target_progress tp JOIN plan p ON p.id = tp.plan_id
    WHERE p.place_code = :code AND p.status = 'agreed' GROUP BY tp.status
""")


async def lock_appointments(session: AsyncSession, code: str) -> None:
    """Hold the place's appointments until the transaction ends."""
    await session.execute(_LOCK_PLACE, {"code": code})


async def latest_term(session: AsyncSession, code: str) -> PlaceLeader | None:
    """The place's term that has not ended (it may start in the future)."""
    query = select(PlaceLeader).where(
        col(PlaceLeader.place_code) == code, col(PlaceLeader.ended_on).is_(None)
    )
    return (await session.execute(query)).scalar()


async def end_term(session: AsyncSession, term: PlaceLeader, *, ended_on: date) -> None:
    await session.execute(
        update(PlaceLeader).where(col(PlaceLeader.id) == term.id).values(ended_on=ended_on)
    )


async def insert_term(session: AsyncSession, row: PlaceLeader) -> PlaceLeader:
    """The term as stored."""
    return await insert_row(session, row)


def _terms(code: str) -> Select[PlaceLeader]:
    return select(PlaceLeader).where(col(PlaceLeader.place_code) == code)


async def term_count(session: AsyncSession, code: str) -> int:
    query = select(func.count()).select_from(_terms(code).subquery())
    return await session.scalar(query) or 0


async def terms_page(
    session: AsyncSession, code: str, *, limit: int | None, offset: int
) -> list[PlaceLeader]:
    """The place's terms, newest first; ``limit`` None for all of them."""
    query = _terms(code).order_by(col(PlaceLeader.appointed_on).desc()).limit(limit).offset(offset)
    return list((await session.execute(query)).scalars())


async def terms_not_ended(session: AsyncSession, code: str, *, on: date) -> list[PlaceLeader]:
    """The place's terms still running on the day ``on`` or starting after it, oldest first."""
    query = (
        _terms(code)
        .where(or_(col(PlaceLeader.ended_on).is_(None), col(PlaceLeader.ended_on) >= on))
        .order_by(col(PlaceLeader.appointed_on))
    )
    return list((await session.execute(query)).scalars())


async def term_confirmations(session: AsyncSession, term_ids: list[int]) -> list[RowMapping]:
    """For each of the terms that came from a nomination: the nomination's id and each body's
    confirmation (``leader_id``, ``nomination_id``, ``organisation_code``, ``signatory``,
    ``decided_at``), oldest confirmation first."""
    rows = await session.execute(_CONFIRMATIONS, {"ids": term_ids})
    return list(rows.mappings())


async def plan_summary(session: AsyncSession, code: str) -> RowMapping:
    """How many plans the place has in each state, and its agreed plan's id."""
    return (await session.execute(_PLAN_SUMMARY, {"code": code})).mappings().one()


async def progress_summary(session: AsyncSession, code: str) -> dict[str, Any]:
    """How many of the agreed plan's targets are in each status."""
    return {
        status: count for status, count in await session.execute(_PROGRESS_SUMMARY, {"code": code})
    }
