from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from services.common.auth import ENGLAND, Principal
from services.common.errors import problem_responses
from services.common.periods import england_today
from services.common.replica import ReadSessionDep
from services.common.responses import PageDep, csv_response, wants_csv
from services.ingest.completeness import service
from services.ingest.completeness.schemas import (
    CSV_FIELDS,
    RANGE_CSV_FIELDS,
    CompletenessPublic,
    CompletenessRangePublic,
)
from services.ingest.deps import CatalogueDep

router = APIRouter(
    prefix="/v1/completeness",
    tags=["completeness"],
    responses=problem_responses(401, 403, 404, 422, 503),
)


@router.get(
    "",
    response_model=CompletenessPublic | CompletenessRangePublic,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def get_completeness(
    request: Request,
    session: ReadSessionDep,
    principal: Principal,
    catalogue: CatalogueDep,
    page: PageDep,
    period: Annotated[
        str | None,
        Query(description="One period, e.g. 2025-07, 2025-Q2, 2025 or FY2025-26 (or from and to)"),
    ] = None,
    first: Annotated[
        str | None,
        Query(alias="from", description="A range's first period, of any periodicity (with to)"),
    ] = None,
    last: Annotated[
        str | None,
        Query(alias="to", description="A range's last period, of any periodicity (with from)"),
    ] = None,
    area: Annotated[str, Query(description="A place, ICB, region or England")] = ENGLAND,
) -> Response | CompletenessPublic | CompletenessRangePublic:
    """Per place and metric due in the period, or in the range from..to: expected, received, on
    time, late (a submitter key sees the places in its scope)."""
    service.check_form(period=period, first=first, last=last)
    if period is not None:
        summary, rows = await service.completeness(
            session,
            principal=principal,
            catalogue=catalogue,
            period_code=period,
            area=area,
            today=england_today(),
        )
        if wants_csv(request):
            return csv_response(CSV_FIELDS, _as_dicts(rows), filename=f"completeness-{period}.csv")
        return CompletenessPublic(
            period=period,
            area=area,
            summary=summary,
            data=rows[page.offset : page.offset + page.limit],
            count=len(rows),
        )
    assert first is not None and last is not None  # check_form refused anything else
    window_start, window_end, summary, places, range_rows = await service.completeness_range(
        session,
        principal=principal,
        catalogue=catalogue,
        first_code=first,
        last_code=last,
        area=area,
        today=england_today(),
    )
    if wants_csv(request):
        return csv_response(
            RANGE_CSV_FIELDS, _as_dicts(range_rows), filename=f"completeness-{first}-{last}.csv"
        )
    return CompletenessRangePublic(
        first=first,
        last=last,
        area=area,
        window_start=window_start,
        window_end=window_end,
        summary=summary,
        places=places,
        data=range_rows[page.offset : page.offset + page.limit],
        count=len(range_rows),
    )


async def _as_dicts(rows: Iterable[BaseModel]) -> AsyncIterator[dict[str, Any]]:
    for row in rows:
        # A list of periods is one cell: codes never hold a space.
        yield {
            name: " ".join(value) if isinstance(value, list) else value
            for name, value in row.model_dump().items()
        }
