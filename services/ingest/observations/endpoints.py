from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.common.auth import Principal
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.params import QueryFlag
from services.common.responses import ListPublic, PageDep, csv_response, wants_csv
from services.ingest.observations import service
from services.ingest.observations.schemas import CSV_FIELDS, ObservationPublic
from services.ingest.observations.store import Selection

router = APIRouter(
    prefix="/v1/observations",
    tags=["observations"],
    responses=problem_responses(401, 403, 422, 503),
)


@router.get(
    "",
    response_model=ListPublic[ObservationPublic],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def list_observations(
    request: Request,
    session: SessionDep,
    principal: Principal,
    page: PageDep,
    place_code: str | None = None,
    metric_code: str | None = None,
    first: Annotated[
        str | None, Query(alias="from", description="First period, e.g. 2025-04")
    ] = None,
    last: Annotated[str | None, Query(alias="to", description="Last period, e.g. 2026-03")] = None,
    history: Annotated[
        QueryFlag, Query(description="Every version, not just the current one")
    ] = False,
) -> Response | ListPublic[ObservationPublic]:
    """Observations, current versions by default (a submitter key reads the places in its
    scope). With `Accept: text/csv`, every matching row as CSV (no paging)."""
    selection = service.selection(
        place_code=place_code,
        metric_code=metric_code,
        first=first,
        last=last,
        history=history,
        only_places=await service.places_in_view(
            request.app.state.metrics_api, principal, place_code
        ),
    )
    if wants_csv(request):
        return csv_response(
            CSV_FIELDS, _rows_for_csv(request, selection), filename="observations.csv"
        )
    rows, count = await service.list_observations(
        session, selection, limit=page.limit, offset=page.offset
    )
    return ListPublic[ObservationPublic](
        data=[ObservationPublic.model_validate(r) for r in rows], count=count
    )


async def _rows_for_csv(request: Request, selection: Selection) -> AsyncIterator[dict[str, Any]]:
    # Its own session: the request's is committed and closed before a streamed body is sent.
    async with request.app.state.sessionmaker() as session:
        async for row in service.stream_observations(session, selection):
            yield row.model_dump()
