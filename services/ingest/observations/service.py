"""Reading observations: the current versions, or every version with where it came from."""

from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import periods
from services.common.auth import ENGLAND, SCOPE_LIMITED_READERS, ApiPrincipal
from services.common.auth import places_in_view as places_in_scope
from services.common.catalogue import MetricsApiClient
from services.common.errors import Unprocessable, field_error
from services.common.models import Observation
from services.ingest.observations import store
from services.ingest.observations.store import Selection


def _period(code: str | None, name: str) -> periods.Period | None:
    if code is None:
        return None
    try:
        return periods.parse(code)
    except periods.PeriodError as exc:
        raise Unprocessable(str(exc), errors=[field_error(["query", name], str(exc))]) from None


def selection(
    *,
    place_code: str | None,
    metric_code: str | None,
    first: str | None,
    last: str | None,
    history: bool,
    only_places: list[str] | None,
) -> Selection:
    """Filters are all optional; ``first``/``last`` bound the periods by their dates, so a
    quarter and the months inside it are compared by the days they cover; ``only_places``
    the places the key may read (None: every place)."""
    start, end = _period(first, "from"), _period(last, "to")
    return Selection(
        place_code=place_code,
        metric_code=metric_code,
        starts_on=start.start if start else None,
        ends_on=end.end if end else None,
        history=history,
        only_places=only_places,
    )


async def places_in_view(
    metrics_api: MetricsApiClient, principal: ApiPrincipal, place_code: str | None
) -> list[str] | None:
    """The places the key may read (a submitter's scope), or None for every place."""
    if principal.role not in SCOPE_LIMITED_READERS:
        return None  # reads every place: no need to ask metrics_api where its scope reaches
    catalogue = await metrics_api.catalogue()
    area = place_code or ENGLAND
    return places_in_scope(principal, area, catalogue.places_in(area))


async def list_observations(
    session: AsyncSession, selection: Selection, *, limit: int, offset: int
) -> tuple[list[Observation], int]:
    count = await store.observation_count(session, selection)
    return await store.observations_page(session, selection, limit=limit, offset=offset), count


def stream_observations(session: AsyncSession, selection: Selection) -> AsyncIterator[Observation]:
    """Every matching row, read as it is sent, so an export never sits in memory."""
    return store.observation_stream(session, selection)
