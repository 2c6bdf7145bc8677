"""The data team's page of a place: upload a CSV, see ingest's dry run, submit it; the place's
submissions and the returns still due, each table also as CSV."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from services.common.errors import NotFound, Problem, Unprocessable
from services.web.dependencies import Api, CheckedForm, SignedIn
from services.web.pages.data_service import (
    check,
    data_page,
    place_in_scope,
    places_to_choose,
    submit,
)
from services.web.rendering import render
from services.web.sessions import WebSession
from services.web.tables import by_name

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request, session: WebSession, api: Api, code: str, *, refused: Problem | None = None
) -> Response:
    page = await data_page(api, code, session)
    return render(
        request,
        "data.html",
        session=session,
        title=f"Data returns for {page.place['name']}",
        crumbs=page.crumbs,
        page=page,
        refused=refused,
        status_code=refused.status if refused else 200,
    )


@router.get("/data")
async def data_index(
    request: Request, session: SignedIn, api: Api, place: Annotated[str | None, Query()] = None
) -> Response:
    """The page of the place asked for, or of the key's own place; otherwise ask which."""
    assert session.identity is not None  # signed in
    code = place.strip() if place else await place_in_scope(api, session.identity)
    if code:
        return RedirectResponse(f"/data/{quote(code, safe='')}", status_code=303)
    places = await places_to_choose(api, session.identity)
    return render(request, "data_index.html", session=session, title="Data returns", places=places)


@router.get("/data/{code}")
async def data(request: Request, session: SignedIn, api: Api, code: str) -> Response:
    return await _page(request, session, api, code)


@router.post("/data/{code}/checks")
async def check_file(
    request: Request, session: SignedIn, api: Api, _: CheckedForm, code: str
) -> Response:
    file = (await request.form()).get("file")  # parsed once already, by the CSRF check
    try:
        if not isinstance(file, UploadFile) or not file.filename:
            raise Unprocessable(
                "Choose a CSV file to check.",
                errors=[{"loc": ["form", "file"], "msg": "no file chosen", "type": "missing"}],
            )
        await check(api, session, code, file.filename, await file.read())
    except Problem as refused:  # shown on the page, with the upload form to try again
        return await _page(request, session, api, code, refused=refused)
    return RedirectResponse(f"/data/{code}#dry-run", status_code=303)


@router.post("/data/{code}/submissions")
async def submit_file(
    request: Request, session: SignedIn, api: Api, form: CheckedForm, code: str
) -> Response:
    try:
        await submit(api, session, code, form.get("mode", ""))
    except Problem as refused:
        return await _page(request, session, api, code, refused=refused)
    return RedirectResponse(f"/data/{code}#submitted", status_code=303)


@router.get("/data/{code}/tables/{name}.csv")
async def data_table(session: SignedIn, api: Api, code: str, name: str) -> Response:
    table = by_name((await data_page(api, code, session)).tables).get(name)
    if table is None:
        raise NotFound(f"The data returns page of {code} has no table {name!r}.")
    return table.csv(f"{code}-{name}")
