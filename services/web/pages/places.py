"""A place's scorecard, and its tables as CSV."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.common.errors import NotFound
from services.web.dependencies import Api, SignedIn
from services.web.pages.arrangements_service import place_arrangements
from services.web.pages.escalations_service import escalations
from services.web.pages.places_service import scorecard
from services.web.rendering import render
from services.web.tables import by_name

router = APIRouter(include_in_schema=False)


@router.get("/places/{code}")
async def place_page(request: Request, session: SignedIn, api: Api, code: str) -> Response:
    assert session.identity is not None  # signed in
    card = await scorecard(api, code, with_charts=True)
    return render(
        request,
        "place.html",
        session=session,
        title=card.area["name"],
        crumbs=card.crumbs,
        card=card,
        arrangements=await place_arrangements(api, card.profile, session.identity),
        escalations=await escalations(
            api,
            session.identity,
            path=f"/v1/places/{code}/escalations",
            chain=[a["code"] for a in card.lineage],
        ),
        escalations_back=f"/places/{code}",
        organisation_names=card.organisations,
    )


@router.get("/places/{code}/tables/{name}.csv")
async def place_table(_: SignedIn, api: Api, code: str, name: str) -> Response:
    table = by_name((await scorecard(api, code, with_charts=False)).tables).get(name)
    if table is None:
        raise NotFound(f"The scorecard of {code} has no table {name!r}.")
    return table.csv(f"{code}-{name}")
