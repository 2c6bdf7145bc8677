"""A leader nomination's page and the bodies' answers to it (confirm or decline, CSRF-checked
forms on the place's page and here), the signatory's list of nominations waiting as CSV, and the
governance roll-up of an area as CSV."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.common.errors import Problem
from services.common.params import RowId
from services.web.dependencies import Api, CheckedForm, SignedIn
from services.web.pages import catalogue
from services.web.pages.arrangements_service import (
    answer,
    area_governance,
    may_answer_for,
    nomination,
    nominations_waiting,
)
from services.web.rendering import render
from services.web.sessions import WebSession

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    session: WebSession,
    api: Api,
    nomination_id: int,
    *,
    refused: Problem | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    assert session.identity is not None  # signed in
    found = await nomination(api, nomination_id)
    place = await catalogue.area(api, found["place_code"])
    lineage = await catalogue.lineage(api, place)
    crumbs = catalogue.crumbs_of(lineage)
    return render(
        request,
        "nomination.html",
        session=session,
        title=f"Nomination of {found['name']} to lead {place['name']}",
        crumbs=[*crumbs[:-1], (place["name"], f"/places/{place['code']}"), ("Nomination", None)],
        nomination=found,
        place=place,
        may_answer_for=may_answer_for(session.identity, found),
        organisation_names=catalogue.organisation_names(lineage),
        refused=refused,
        form=form or {},
        status_code=refused.status if refused else 200,
    )


@router.get("/nominations/{nomination_id}")
async def nomination_page(
    request: Request, session: SignedIn, api: Api, nomination_id: RowId
) -> Response:
    return await _page(request, session, api, nomination_id)


@router.post("/nominations/{nomination_id}/decisions")
async def answer_nomination(
    request: Request, session: SignedIn, api: Api, form: CheckedForm, nomination_id: RowId
) -> Response:
    try:
        answered = await answer(api, nomination_id, form)
    except Problem as refused:  # the API's refusal, shown on the nomination's page with the form
        return await _page(request, session, api, nomination_id, refused=refused, form=form)
    return RedirectResponse(f"/places/{answered['place_code']}#arrangements", status_code=303)


@router.get("/areas/{code}/governance.csv")
async def area_governance_table(_: SignedIn, api: Api, code: str) -> Response:
    _rollup, table = await area_governance(api, code)
    return table.csv(f"{code}-governance")


@router.get("/approvals/tables/nominations.csv")
async def nominations_table(session: SignedIn, api: Api) -> Response:
    assert session.identity is not None  # signed in
    return (await nominations_waiting(api, session.identity)).csv("nominations-waiting")
