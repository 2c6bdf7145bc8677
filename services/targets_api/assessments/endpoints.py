from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.common.auth import Principal
from services.common.catalogue import CatalogueDep
from services.common.clock import TodayDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.responses import csv_response, wants_csv, with_etag
from services.targets_api.assessments import service
from services.targets_api.assessments.schemas import (
    LEAGUE_CSV_FIELDS,
    PERFORMANCE_CSV_FIELDS,
    AreaPerformance,
    LeagueTable,
    TableLevel,
)

router = APIRouter(tags=["assessments"], responses=problem_responses(401, 404, 422, 503))
# The type FastAPI declares for `responses`: a dict literal alone is inferred too narrowly.
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


@router.get("/v1/metrics/{code}/league-table", response_model=LeagueTable, responses=_CSV)
async def get_league_table(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    today: TodayDep,
    code: str,
    level: TableLevel = "place",
    period: Annotated[
        str | None,
        Query(
            description="Default: the latest closed period with "
            "any value at the level (an open one only "
            "when none is closed), in the metric's "
            "current form"
        ),
    ] = None,
) -> Response:
    """Places or ICBs ranked on a metric at a period, with 95 % intervals, comparison with
    England, quintiles, coverage and the recent trend; incomplete ICB roll-ups are shown but
    not ranked.

    With `Accept: text/csv`, one row per area.
    """
    table = await service.league_table(
        session, catalogue=catalogue, metric_code=code, level=level, period=period, today=today
    )
    if wants_csv(request):
        head = {
            "metric_code": table.metric_code,
            "level": table.level,
            "period": table.period,
            "provisional": table.provisional,
        }
        return csv_response(
            LEAGUE_CSV_FIELDS,
            _rows(head | row.model_dump(mode="json") for row in table.data),
            filename=f"league-table-{code}-{level}-{table.period or 'none'}.csv",
        )
    return with_etag(request, table)


@router.get("/v1/areas/{code}/performance", response_model=AreaPerformance, responses=_CSV)
async def get_area_performance(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    today: TodayDep,
    code: str,
    min_coverage: Annotated[
        float,
        Query(
            ge=0,
            le=1,
            description=(
                "The share of the places a metric applies to that must have reported for a closed "
                "period to be chosen"
            ),
        ),
    ] = 0.9,
) -> Response:
    """An ICB's, region's or England's performance: for each metric that applies to a member
    place, the rolled-up value at the latest closed period with enough coverage, who is
    missing, member places' targets by status, and each place the metric applies to.

    With `Accept: text/csv`, one row per metric and member place.
    """
    performance = await service.area_performance(
        session, catalogue=catalogue, code=code, min_coverage=min_coverage, today=today
    )
    if wants_csv(request):
        return csv_response(
            PERFORMANCE_CSV_FIELDS,
            _rows(
                {
                    "area_code": code,
                    "metric_code": metric.metric_code,
                    "period": metric.period,
                    "provisional": metric.provisional,
                    "area_value": metric.value,
                    "places_expected": metric.places_expected,
                    "places_reported": metric.places_reported,
                    "coverage": metric.coverage,
                    "below_min_coverage": metric.below_min_coverage,
                }
                | place.model_dump(mode="json")
                for metric in performance.metrics
                for place in metric.places
            ),
            filename=f"performance-{code}.csv",
        )
    return with_etag(request, performance)


async def _rows(rows: Iterable[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for row in rows:
        yield row
