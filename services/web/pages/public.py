"""Public pages: a place's record and an area's roll-ups for anyone, with no sign-in, read from
targets_api's /public/v1/ with no key (docs/web.md, "Public pages")."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web.dependencies import Anyone, current_session
from services.web.pages import public_service
from services.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/public/places/{code}")
async def public_place_page(request: Request, anyone: Anyone, code: str) -> Response:
    page = await public_service.place_page(anyone, code)
    record = page.record
    crumbs = [("Public record", None), (record["name"], None)]
    return render(
        request,
        "public_place.html",
        session=current_session(request),
        title=f"{record['name']}: public record",
        crumbs=crumbs,
        page=page,
    )


@router.get("/public/areas/{code}")
async def public_area_page(request: Request, anyone: Anyone, code: str) -> Response:
    performance = await public_service.area_page(anyone, code)
    return render(
        request,
        "public_area.html",
        session=current_session(request),
        title=f"{performance['area_name']}: public record",
        crumbs=[("Public record", None), (performance["area_name"], None)],
        performance=performance,
        places=public_service.member_places(performance),
    )
