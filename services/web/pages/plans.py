"""A plan's page, its decisions (approve or reject, with a comment), and its tables as CSV."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.common.errors import NotFound, Problem
from services.common.params import RowId
from services.web.dependencies import Api, CheckedForm, SignedIn
from services.web.pages.plans_service import decide, plan_page
from services.web.rendering import render
from services.web.sessions import WebSession
from services.web.tables import by_name

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    session: WebSession,
    api: Api,
    plan_id: int,
    *,
    refused: Problem | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    assert session.identity is not None  # signed in
    page = await plan_page(api, plan_id, session.identity)
    return render(
        request,
        "plan.html",
        session=session,
        title=f"{page.plan['title']} (revision {page.plan['revision']})",
        crumbs=page.crumbs,
        page=page,
        refused=refused,
        form=form or {},
        status_code=refused.status if refused else 200,
    )


@router.get("/plans/{plan_id}")
async def plan(request: Request, session: SignedIn, api: Api, plan_id: RowId) -> Response:
    return await _page(request, session, api, plan_id)


@router.post("/plans/{plan_id}/decisions")
async def decide_plan(
    request: Request, session: SignedIn, api: Api, form: CheckedForm, plan_id: RowId
) -> Response:
    try:
        await decide(api, plan_id, form)
    except Problem as refused:  # the API's refusal, shown on the plan's page with the form
        return await _page(request, session, api, plan_id, refused=refused, form=form)
    return RedirectResponse(f"/plans/{plan_id}", status_code=303)


@router.get("/plans/{plan_id}/tables/{name}.csv")
async def plan_table(session: SignedIn, api: Api, plan_id: RowId, name: str) -> Response:
    assert session.identity is not None  # signed in
    page = await plan_page(api, plan_id, session.identity)
    table = by_name([*page.tables, *page.resources.tables]).get(name)
    if table is None:
        raise NotFound(f"Plan {plan_id}'s page has no table {name!r}.")
    return table.csv(f"plan-{plan_id}-{name}")
