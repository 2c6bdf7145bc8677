"""The SQL of places' governance: the versions of each place's arrangement, and what the
Prometheus gauges read of every place's arrangements at once."""

from collections.abc import Sequence
from datetime import date

from sqlalchemy import RowMapping, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import insert_row
from services.common.models import PlaceGovernance

# Serialises the versions of one place's arrangement: two changes at once would both take the
# same next version number and one would break the unique constraint (a 500).
_LOCK_PLACE = text(
    "SELECT pg_advisory_xact_lock(hashtextextended('place_governance:' || :code, 0))"
)
# Every place of the area table, its ICB and region, whether its leader in post today came
# from a confirmed nomination, and its current arrangement's adoption day and members.
_ARRANGEMENTS = text("""
    SELECT p.code AS place, i.code AS icb, i.parent_code AS region,
           EXISTS (
               SELECT 1 FROM place_leader l JOIN leader_nomination n ON n.leader_id = l.id
               WHERE l.place_code = p.code AND l.appointed_on <= :today
                 AND (l.ended_on IS NULL OR l.ended_on >= :today)
           ) AS confirmed_leader,
           g.place_code IS NOT NULL AS recorded, g.adopted_on, g.members
    FROM area p
    LEFT JOIN area i ON i.code = p.parent_code
    LEFT JOIN LATERAL (
        SELECT place_code, adopted_on, members FROM place_governance
        WHERE place_code = p.code ORDER BY version DESC LIMIT 1
    ) g ON true
    WHERE p.level = 'place'
    ORDER BY p.code
""")


async def lock_versions(session: AsyncSession, code: str) -> None:
    """Hold the place's arrangement until the transaction ends."""
    await session.execute(_LOCK_PLACE, {"code": code})


async def versions(session: AsyncSession, code: str) -> list[PlaceGovernance]:
    """Every version of the place's arrangement, newest first."""
    query = (
        select(PlaceGovernance)
        .where(col(PlaceGovernance.place_code) == code)
        .order_by(col(PlaceGovernance.version).desc())
    )
    return list((await session.execute(query)).scalars())


async def current_versions(
    session: AsyncSession, codes: Sequence[str]
) -> dict[str, PlaceGovernance]:
    """The current version of each of the places that has an arrangement, in one query."""
    query = (
        select(PlaceGovernance)
        .where(col(PlaceGovernance.place_code).in_(codes))
        .ext(distinct_on(col(PlaceGovernance.place_code)))
        .order_by(col(PlaceGovernance.place_code), col(PlaceGovernance.version).desc())
    )
    return {row.place_code: row for row in (await session.execute(query)).scalars()}


async def insert_version(session: AsyncSession, row: PlaceGovernance) -> PlaceGovernance:
    """The version as stored, with its time."""
    return await insert_row(session, row)


async def arrangements(session: AsyncSession, *, today: date) -> list[RowMapping]:
    """Every place's confirmed leader and current arrangement, for the gauges."""
    return list((await session.execute(_ARRANGEMENTS, {"today": today})).mappings())
