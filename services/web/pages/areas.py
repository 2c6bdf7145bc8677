"""England, region and ICB overviews, and their tables as CSV."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.common.errors import NotFound
from services.web.dependencies import Api, SignedIn
from services.web.pages import catalogue
from services.web.pages.areas_service import overview
from services.web.pages.arrangements_service import area_governance
from services.web.pages.escalations_service import escalations
from services.web.rendering import render
from services.web.tables import by_name

router = APIRouter(include_in_schema=False)


@router.get("/areas/{code}")
async def area_page(request: Request, session: SignedIn, api: Api, code: str) -> Response:
    area = await catalogue.area(api, code)
    if area["level"] == "place":
        return RedirectResponse(f"/places/{code}", status_code=303)
    page = await overview(api, area)
    governance, governance_table = await area_governance(api, code)
    assert session.identity is not None  # signed in
    return render(
        request,
        "area.html",
        session=session,
        title=page.area["name"],
        crumbs=page.crumbs,
        page=page,
        governance=governance,
        governance_table=governance_table,
        escalations=await escalations(
            api,
            session.identity,
            path=f"/v1/areas/{code}/escalations",
            chain=[a["code"] for a in await catalogue.lineage(api, area)],
        ),
        escalations_back=f"/areas/{code}",
    )


@router.get("/areas/{code}/tables/{name}.csv")
async def area_table(_: SignedIn, api: Api, code: str, name: str) -> Response:
    page = await overview(api, await catalogue.area(api, code))
    table = by_name(page.tables).get(name)
    if table is None:
        raise NotFound(f"The overview of {code} has no table {name!r}.")
    return table.csv(f"{code}-{name}")
