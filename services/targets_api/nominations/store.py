"""The SQL of leader nominations: the nomination rows and their lock, and the bodies' decisions."""

from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import insert_row
from services.common.models import LeaderNomination, LeaderNominationDecision


async def nomination(session: AsyncSession, nomination_id: int) -> LeaderNomination | None:
    return await session.get(LeaderNomination, nomination_id)


async def locked_nomination(session: AsyncSession, nomination_id: int) -> LeaderNomination | None:
    """The nomination, its row locked until the transaction ends and read afresh: of two
    decisions arriving together, the second waits here and then sees the first."""
    query = (
        select(LeaderNomination)
        .where(col(LeaderNomination.id) == nomination_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar()


async def open_nomination(session: AsyncSession, place_code: str) -> LeaderNomination | None:
    """The place's nomination still waiting for its decisions (the index allows one)."""
    query = select(LeaderNomination).where(
        col(LeaderNomination.place_code) == place_code,
        col(LeaderNomination.status) == "nominated",
    )
    return (await session.execute(query)).scalar()


def _place_nominations(place_code: str, status: str | None) -> Select[LeaderNomination]:
    query = select(LeaderNomination).where(col(LeaderNomination.place_code) == place_code)
    if status is not None:
        query = query.where(col(LeaderNomination.status) == status)
    return query


async def nomination_count(session: AsyncSession, place_code: str, *, status: str | None) -> int:
    """How many nominations the place has in ``status`` (None: in any)."""
    query = select(func.count()).select_from(_place_nominations(place_code, status).subquery())
    return await session.scalar(query) or 0


async def nominations_page(
    session: AsyncSession, place_code: str, *, status: str | None, limit: int, offset: int
) -> list[LeaderNomination]:
    """The place's nominations in ``status`` (None: in any), newest first."""
    query = _place_nominations(place_code, status).order_by(col(LeaderNomination.id).desc())
    return list((await session.execute(query.limit(limit).offset(offset))).scalars())


async def insert_nomination(session: AsyncSession, row: LeaderNomination) -> LeaderNomination:
    """The nomination as stored, with its id."""
    return await insert_row(session, row)


async def close_nomination(session: AsyncSession, row: LeaderNomination, **values: Any) -> None:
    """Set the locked nomination's ``values`` and ``closed_at`` to the transaction's time, and
    reload it."""
    await session.execute(
        update(LeaderNomination)
        .where(col(LeaderNomination.id) == row.id)
        .values(closed_at=func.now(), **values)
    )
    await session.refresh(row)


async def decisions(
    session: AsyncSession, nomination_ids: list[int]
) -> list[LeaderNominationDecision]:
    """The decisions on the nominations, in the order they were made."""
    query = (
        select(LeaderNominationDecision)
        .where(col(LeaderNominationDecision.nomination_id).in_(nomination_ids))
        .order_by(col(LeaderNominationDecision.id))
    )
    return list((await session.execute(query)).scalars())


async def insert_decision(
    session: AsyncSession, row: LeaderNominationDecision
) -> LeaderNominationDecision:
    """The decision as stored, with its id and time."""
    return await insert_row(session, row)
