from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.common.auth import ENGLAND, Principal
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.periods import england_today
from services.common.responses import PageDep, csv_response, wants_csv
from services.ingest.completeness import service
from services.ingest.completeness.schemas import CSV_FIELDS, CompletenessPublic
from services.ingest.deps import CatalogueDep

router = APIRouter(prefix="/v1/completeness", tags=["completeness"],
                   responses=problem_responses(401, 403, 404, 422, 503))


@router.get("", response_model=CompletenessPublic, responses={200: {"content": {
    "text/csv": {"schema": {"type": "string"}}}}})
async def get_completeness(
    request: Request,
    session: SessionDep,
    principal: Principal,
    catalogue: CatalogueDep,
    page: PageDep,
    period: Annotated[str, Query(description="e.g. 2025-07, 2025-Q2, 2025 or FY2025-26")],
    area: Annotated[str, Query(description="A place, ICB, region or England")] = ENGLAND,
) -> Response | CompletenessPublic:
    """Per place and metric due in the period: expected, received, on time, late (a submitter
    key sees the places in its scope)."""
    summary, rows = await service.completeness(session, principal=principal,
                                               catalogue=catalogue, period_code=period,
                                               area=area, today=england_today())
    if wants_csv(request):
        return csv_response(CSV_FIELDS, _as_dicts(rows), filename=f"completeness-{period}.csv")
    return CompletenessPublic(period=period, area=area, summary=summary,
                              data=rows[page.offset:page.offset + page.limit], count=len(rows))


async def _as_dicts(rows):
    for row in rows:
        yield row.model_dump()
