"""The public record under /public/v1/: no key, cacheable by anyone (browsers, proxies, CDNs),
and limited per client address (docs/api.md, "Public scrutiny")."""

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from services.common.clock import TodayDep
from services.common.errors import problem_responses
from services.common.etag import Representation
from services.common.ratelimit import RateLimiter, app_limiter
from services.common.replica import ReadSessionDep
from services.common.responses import csv_representation, with_etag
from services.targets_api.assessments import service as assessments
from services.targets_api.governance.endpoints import NationalDate
from services.targets_api.public import service
from services.targets_api.public.schemas import (
    PUBLIC_PERFORMANCE_CSV_FIELDS,
    PublicAreaPerformance,
    PublicPlace,
    PublishedSeries,
)
from services.targets_api.reads import READ_RESPONSES, ReadDep


def _limiter(request: Request) -> RateLimiter | None:
    """The app's limiter for the public routes, made on first use; None when turned off."""
    settings = request.app.state.settings
    return app_limiter(
        request.app.state,
        "public_rate_limiter",
        per_minute=settings.public_rate_limit_per_minute,
        burst=settings.public_rate_limit_burst,
    )


async def _limit_by_address(request: Request) -> None:
    # No key to count against: the client's address is the caller (behind a proxy, the one
    # uvicorn's --forwarded-allow-ips lets X-Forwarded-For name).
    limiter = _limiter(request)
    if limiter is not None:
        address = request.client.host if request.client else "unknown"
        limiter.enforce(address, who="This address")


router = APIRouter(
    prefix="/public/v1",
    tags=["public"],
    dependencies=[Depends(_limit_by_address)],
    responses=problem_responses(404, 422, 429, 503),
)


NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: READ_RESPONSES[304]}


def _cacheable(request: Request, response: Response) -> Response:
    """Anyone may keep the answer for ``public_max_age_s``, then revalidate it with its ETag."""
    max_age = request.app.state.settings.public_max_age_s
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


@router.get("/places/{code}", response_model=PublicPlace, responses=NOT_MODIFIED)
async def get_public_place(
    request: Request,
    session: ReadSessionDep,
    today: TodayDep,
    national_date: NationalDate,
    read: ReadDep,
    code: str,
) -> Response:
    """A place's public record: its leader in post, its governance model, its agreed plan
    (targets and trajectories) and its progress as of closed periods."""
    record = await service.place_record(
        session, catalogue=read.catalogue, code=code, today=today, national_date=national_date
    )
    return _cacheable(request, with_etag(request, record))


@router.get(
    "/places/{code}/values/{metric_code}",
    response_model=PublishedSeries,
    responses=NOT_MODIFIED,
)
async def get_published_values(
    request: Request, session: ReadSessionDep, read: ReadDep, code: str, metric_code: str
) -> Response:
    """A place's published values of a metric: its closed periods only, oldest first."""
    series = await service.published_series(
        session, catalogue=read.catalogue, code=code, metric_code=metric_code, today=read.today
    )
    return _cacheable(request, with_etag(request, series))


@router.get(
    "/areas/{code}/performance", response_model=PublicAreaPerformance, responses=READ_RESPONSES
)
async def get_public_performance(
    request: Request, session: ReadSessionDep, read: ReadDep, code: str
) -> Response:
    """An ICB's, a region's or England's roll-ups at their latest closed periods, with each
    member place's value there.

    With `Accept: text/csv`, one row per metric and member place.
    """
    state = await assessments.performance_state(session, catalogue=read.catalogue, code=code)
    answer = await read.answer(
        generation=state.generation,
        parts=(code, state.plans, state.queued),
        model=lambda: service.area_performance(
            session, catalogue=read.catalogue, state=state, today=read.today
        ),
        csv=_csv,
    )
    return _cacheable(request, answer)


def _csv(performance: PublicAreaPerformance) -> Representation:
    return csv_representation(
        PUBLIC_PERFORMANCE_CSV_FIELDS,
        (
            {
                "area_code": performance.area_code,
                "metric_code": metric.metric_code,
                "period": metric.period,
                "area_value": metric.value,
                "coverage": metric.coverage,
            }
            | place.model_dump(mode="json")
            for metric in performance.metrics
            for place in metric.places
        ),
        filename=f"public-performance-{performance.area_code}.csv",
    )
