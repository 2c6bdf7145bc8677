from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.params import QueryFlag
from services.common.replica import read_session, streamed_sessionmaker
from services.common.responses import ListPublic, PageDep, csv_response, wants_csv
from services.ingest.observations import service
from services.ingest.observations.schemas import CSV_FIELDS, ObservationPublic
from services.ingest.observations.store import Selection

History = Annotated[QueryFlag, Query(description="Every version, not just the current one")]


@dataclass(frozen=True)
class ObservationsRead:
    session: AsyncSession
    history: bool


async def _observations_read(
    request: Request, primary: SessionDep, history: History = False
) -> AsyncIterator[ObservationsRead]:
    # Every version is history, read from the replica like the other historical reads; the
    # current versions stay on the primary, where a place system reads back what it sent, in
    # the request's own session (the key's), so a read holds one of the pool's connections.
    # `history` is declared here alone, so that a bad one is reported once.
    if not history:
        yield ObservationsRead(primary, history=False)
        return
    async with read_session(request) as session:
        yield ObservationsRead(session, history=True)


ObservationsReadDep = Annotated[ObservationsRead, Depends(_observations_read, scope="function")]

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
    principal: Principal,
    # After the key: a request refused at the door asks nothing of the replica.
    read: ObservationsReadDep,
    page: PageDep,
    place_code: str | None = None,
    metric_code: str | None = None,
    first: Annotated[
        str | None, Query(alias="from", description="First period, e.g. 2025-04")
    ] = None,
    last: Annotated[str | None, Query(alias="to", description="Last period, e.g. 2026-03")] = None,
) -> Response | ListPublic[ObservationPublic]:
    """Observations, current versions by default (a submitter key reads the places in its
    scope). With `Accept: text/csv`, every matching row as CSV (no paging)."""
    selection = service.selection(
        place_code=place_code,
        metric_code=metric_code,
        first=first,
        last=last,
        history=read.history,
        only_places=await service.places_readable(
            request.app.state.metrics_api, principal, place_code
        ),
    )
    if wants_csv(request):
        return csv_response(
            CSV_FIELDS, _rows_for_csv(request, selection), filename="observations.csv"
        )
    rows, count = await service.list_observations(
        read.session, selection, limit=page.limit, offset=page.offset
    )
    return ListPublic[ObservationPublic](
        data=[ObservationPublic.model_validate(r) for r in rows], count=count
    )


async def _rows_for_csv(request: Request, selection: Selection) -> AsyncIterator[dict[str, Any]]:
    # Its own session, on the side the request's read: that is closed before the body is sent.
    async with streamed_sessionmaker(request)() as session:
        async for row in service.stream_observations(session, selection):
            yield row.model_dump()
