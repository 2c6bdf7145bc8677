"""The SQL of reading observations: one selection, counted, paged or streamed."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.models import Observation


@dataclass(frozen=True)
class Selection:
    """Which observations to read; None for a filter that does not apply. ``starts_on`` and
    ``ends_on`` bound the periods by the days they cover, so a quarter and the months inside it
    compare; ``only_places`` are the places the key may read (None: every place)."""

    place_code: str | None
    metric_code: str | None
    starts_on: date | None
    ends_on: date | None
    history: bool
    only_places: list[str] | None


def _matching(selection: Selection) -> Select[Observation]:
    query = select(Observation)
    if not selection.history:
        query = query.where(col(Observation.superseded_at).is_(None))
    if selection.place_code is not None:
        query = query.where(col(Observation.place_code) == selection.place_code)
    if selection.only_places is not None:
        query = query.where(col(Observation.place_code).in_(selection.only_places))
    if selection.metric_code is not None:
        query = query.where(col(Observation.metric_code) == selection.metric_code)
    if selection.starts_on is not None:
        query = query.where(func.period_start(col(Observation.period)) >= selection.starts_on)
    if selection.ends_on is not None:
        query = query.where(func.period_end(col(Observation.period)) <= selection.ends_on)
    return query


def _in_order(query: Select[Observation]) -> Select[Observation]:
    return query.order_by(
        col(Observation.place_code),
        col(Observation.metric_code),
        func.period_start(col(Observation.period)),
        col(Observation.period),
        col(Observation.version),
    )


async def observation_count(session: AsyncSession, selection: Selection) -> int:
    query = select(func.count()).select_from(_matching(selection).subquery())
    return await session.scalar(query) or 0


async def observations_page(
    session: AsyncSession, selection: Selection, *, limit: int, offset: int
) -> list[Observation]:
    """A page of the selection, by place, metric, period and version."""
    query = _in_order(_matching(selection)).limit(limit).offset(offset)
    return list((await session.execute(query)).scalars())


async def observation_stream(
    session: AsyncSession, selection: Selection
) -> AsyncIterator[Observation]:
    """The whole selection in the page order, through a server-side cursor, so an export never
    sits in memory."""
    query = _in_order(_matching(selection)).execution_options(yield_per=5000)
    result = await session.stream(query)
    async for row in result.scalars():
        yield row
