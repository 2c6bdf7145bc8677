"""Reading observations: the current versions, or every version with where it came from."""

from collections.abc import AsyncIterator

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common import periods
from services.common.errors import Unprocessable, field_error
from services.common.models import Observation


def _period(code: str | None, name: str) -> periods.Period | None:
    if code is None:
        return None
    try:
        return periods.parse(code)
    except periods.PeriodError as exc:
        raise Unprocessable(str(exc), errors=[field_error(["query", name], str(exc))]) from None


def observations_query(
    *,
    place_code: str | None,
    metric_code: str | None,
    first: str | None,
    last: str | None,
    history: bool,
    only_places: list[str] | None,
) -> Select:
    """Filters are all optional; ``first``/``last`` bound the periods by their dates, so a
    quarter and the months inside it are compared by the days they cover; ``only_places``
    the places the key may read (None: every place)."""
    start, end = _period(first, "from"), _period(last, "to")
    query = select(Observation)
    if not history:
        query = query.where(col(Observation.superseded_at).is_(None))
    if place_code is not None:
        query = query.where(col(Observation.place_code) == place_code)
    if only_places is not None:
        query = query.where(col(Observation.place_code).in_(only_places))
    if metric_code is not None:
        query = query.where(col(Observation.metric_code) == metric_code)
    if start is not None:
        query = query.where(func.period_start(col(Observation.period)) >= start.start)
    if end is not None:
        query = query.where(func.period_end(col(Observation.period)) <= end.end)
    return query.order_by(
        col(Observation.place_code),
        col(Observation.metric_code),
        func.period_start(col(Observation.period)),
        col(Observation.period),
        col(Observation.version),
    )


async def list_observations(
    session: AsyncSession, query: Select, *, limit: int, offset: int
) -> tuple[list[Observation], int]:
    count = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = await session.execute(query.limit(limit).offset(offset))
    return list(rows.scalars()), count or 0


async def stream_observations(session: AsyncSession, query: Select) -> AsyncIterator[Observation]:
    """Every matching row through a server-side cursor, so an export never sits in memory."""
    result = await session.stream(query.execution_options(yield_per=5000))
    async for row in result.scalars():
        yield row
