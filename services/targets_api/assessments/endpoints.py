from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from services.common.auth import Principal
from services.common.errors import problem_responses
from services.common.etag import Representation
from services.common.replica import ReadSessionDep
from services.common.responses import csv_representation
from services.targets_api.assessments import fingertips, service
from services.targets_api.assessments.schemas import (
    LEAGUE_CSV_FIELDS,
    PERFORMANCE_CSV_FIELDS,
    AreaPerformance,
    LeagueTable,
    TableLevel,
)
from services.targets_api.reads import READ_RESPONSES, ReadDep

FingertipsFormat = Annotated[
    Literal["fingertips"] | None,
    Query(description="fingertips: CSV with OHID Fingertips' columns (docs/api.md)"),
]

router = APIRouter(tags=["assessments"], responses=problem_responses(401, 404, 422, 503))


@router.get("/v1/metrics/{code}/league-table", response_model=LeagueTable, responses=READ_RESPONSES)
async def get_league_table(
    session: ReadSessionDep,
    _: Principal,
    read: ReadDep,
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
    format: FingertipsFormat = None,
) -> Response:
    """Places or ICBs ranked on a metric at a period, with 95 % intervals, comparison with
    England, quintiles, coverage and the recent trend; incomplete ICB roll-ups are shown but
    not ranked.

    With `Accept: text/csv`, one row per area; with `format=fingertips`, CSV in the shape of
    an OHID Fingertips download (England's row first).
    """
    generation = await service.league_state(
        session, catalogue=read.catalogue, metric_code=code, period=period
    )

    def as_csv(table: LeagueTable) -> Representation:
        if format == "fingertips":
            return csv_representation(
                fingertips.COLUMNS,
                fingertips.rows(table, read.catalogue),
                filename=f"fingertips-{code}-{level}-{table.period or 'none'}.csv",
            )
        head = {
            "metric_code": table.metric_code,
            "level": table.level,
            "period": table.period,
            "provisional": table.provisional,
        }
        return csv_representation(
            LEAGUE_CSV_FIELDS,
            (head | row.model_dump(mode="json") for row in table.data),
            filename=f"league-table-{code}-{level}-{table.period or 'none'}.csv",
        )

    return await read.answer(
        generation=generation,
        parts=(code, level, period, format),
        as_csv=True if format == "fingertips" else None,
        model=lambda: service.league_table(
            session,
            catalogue=read.catalogue,
            metric_code=code,
            level=level,
            period=period,
            today=read.today,
        ),
        csv=as_csv,
    )


@router.get(
    "/v1/areas/{code}/performance", response_model=AreaPerformance, responses=READ_RESPONSES
)
async def get_area_performance(
    session: ReadSessionDep,
    _: Principal,
    read: ReadDep,
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
    ] = service.DEFAULT_MIN_COVERAGE,
    format: FingertipsFormat = None,
) -> Response:
    """An ICB's, region's or England's performance: for each metric that applies to a member
    place, the rolled-up value at the latest closed period with enough coverage, who is
    missing, member places' targets by status, and each place the metric applies to.

    With `Accept: text/csv`, one row per metric and member place; with `format=fingertips`,
    CSV in the shape of an OHID Fingertips download (the system's row, then its places').
    """
    state = await service.performance_state(session, catalogue=read.catalogue, code=code)

    def as_csv(performance: AreaPerformance) -> Representation:
        if format == "fingertips":
            return csv_representation(
                fingertips.COLUMNS,
                fingertips.performance_rows(performance, read.catalogue),
                filename=f"fingertips-performance-{code}.csv",
            )
        return csv_representation(
            PERFORMANCE_CSV_FIELDS,
            (
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

    return await read.answer(
        generation=state.generation,
        parts=(code, min_coverage, state.plans, state.queued, format),
        as_csv=True if format == "fingertips" else None,
        model=lambda: service.area_performance(
            session,
            catalogue=read.catalogue,
            state=state,
            min_coverage=min_coverage,
            today=read.today,
        ),
        csv=as_csv,
    )
