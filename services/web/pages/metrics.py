"""A measure's page, and its tables as CSV."""

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.common.errors import NotFound
from services.web.dependencies import Api, SignedIn
from services.web.pages.metrics_service import metric_page
from services.web.rendering import render
from services.web.tables import by_name

router = APIRouter(include_in_schema=False)

Level = Literal["place", "icb"]


@router.get("/metrics/{code}")
async def metric(
    request: Request, session: SignedIn, api: Api, code: str, level: Level = "place"
) -> Response:
    page = await metric_page(api, code, level, with_charts=True)
    return render(
        request,
        "metric.html",
        session=session,
        title=page.metric["name"],
        crumbs=page.crumbs,
        page=page,
    )


@router.get("/metrics/{code}/tables/{name}.csv")
async def metric_table(
    _: SignedIn, api: Api, code: str, name: str, level: Level = "place"
) -> Response:
    table = by_name((await metric_page(api, code, level, with_charts=False)).tables).get(name)
    if table is None:
        raise NotFound(f"The page of {code} has no table {name!r}.")
    return table.csv(f"{code}-{level}-{name}")
