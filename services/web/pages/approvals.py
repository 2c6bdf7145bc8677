"""The signatory's page: plans waiting for my organisation, and the list as CSV."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web.dependencies import Api, SignedIn
from services.web.pages.approvals_service import waiting
from services.web.pages.arrangements_service import nominations_waiting
from services.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/approvals")
async def approvals(request: Request, session: SignedIn, api: Api) -> Response:
    assert session.identity is not None  # signed in
    page = await waiting(api, session.identity)
    return render(
        request,
        "approvals.html",
        session=session,
        title="Plans waiting for a decision",
        crumbs=page.crumbs,
        page=page,
        nominations=await nominations_waiting(api, session.identity),
    )


@router.get("/approvals/tables/waiting.csv")
async def approvals_table(session: SignedIn, api: Api) -> Response:
    assert session.identity is not None  # signed in
    [table] = (await waiting(api, session.identity)).tables
    return table.csv("plans-waiting")
