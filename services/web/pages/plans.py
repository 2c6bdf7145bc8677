"""A plan's page, its decisions (approve or reject, with a comment), a steward's draft (start
one, its targets and trajectories, proposing it, revising an agreed one), and its tables as
CSV."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.common.errors import NotFound, Problem
from services.common.params import RowId
from services.web.dependencies import Api, CheckedForm, SignedIn
from services.web.pages import catalogue, plan_drafts_service
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
    refused_what: str = "Your decision was not recorded",
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
        refused_what=refused_what,
        field_errors=plan_drafts_service.field_errors(refused),
        trajectory_text=plan_drafts_service.trajectory_text,
        form=form or {},
        status_code=refused.status if refused else 200,
    )


@router.get("/plans/{plan_id}")
async def plan(request: Request, session: SignedIn, api: Api, plan_id: RowId) -> Response:
    return await _page(request, session, api, plan_id)


async def _act(
    request: Request,
    session: WebSession,
    api: Api,
    plan_id: int,
    work: Awaitable[dict[str, Any] | None],
    *,
    failed: str,
    then: Callable[[dict[str, Any] | None], str],
    form: dict[str, str] | None = None,
) -> Response:
    """Send one change to targets_api: on success on to ``then``'s page, on its refusal back to
    the plan's page saying what ``failed`` and why, with the form as it was filled in."""
    try:
        done = await work
    except Problem as refused:
        return await _page(
            request, session, api, plan_id, refused=refused, form=form, refused_what=failed
        )
    return RedirectResponse(then(done), status_code=303)


def _back(plan_id: int, anchor: str = "") -> Callable[[dict[str, Any] | None], str]:
    return lambda _: f"/plans/{plan_id}{anchor}"


@router.post("/plans/{plan_id}/decisions")
async def decide_plan(
    request: Request, session: SignedIn, api: Api, form: CheckedForm, plan_id: RowId
) -> Response:
    work = decide(api, plan_id, form)
    failed = "Your decision was not recorded"
    return await _act(
        request, session, api, plan_id, work, failed=failed, then=_back(plan_id), form=form
    )


async def _new_plan_page(
    request: Request,
    session: WebSession,
    api: Api,
    code: str,
    *,
    refused: Problem | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    assert session.identity is not None  # signed in
    place = await catalogue.area(api, code)
    chain = await catalogue.lineage(api, place)
    crumbs = catalogue.crumbs_of(chain)
    return render(
        request,
        "plan_new.html",
        session=session,
        title=f"A new plan for {place['name']}",
        crumbs=[*crumbs[:-1], (place["name"], f"/places/{code}"), ("New plan", None)],
        place=place,
        may_edit=plan_drafts_service.may_edit(session.identity, [a["code"] for a in chain]),
        refused=refused,
        field_errors=plan_drafts_service.field_errors(refused),
        form=form or {},
        status_code=refused.status if refused else 200,
    )


@router.get("/places/{code}/plans/new")
async def new_plan(request: Request, session: SignedIn, api: Api, code: str) -> Response:
    return await _new_plan_page(request, session, api, code)


@router.post("/places/{code}/plans")
async def create_plan(
    request: Request, session: SignedIn, api: Api, form: CheckedForm, code: str
) -> Response:
    try:
        plan = await plan_drafts_service.create(api, code, form)
    except Problem as refused:
        return await _new_plan_page(request, session, api, code, refused=refused, form=form)
    return RedirectResponse(f"/plans/{plan['id']}", status_code=303)


@router.post("/plans/{plan_id}/targets")
async def put_target(
    request: Request, session: SignedIn, api: Api, form: CheckedForm, plan_id: RowId
) -> Response:
    metric = form.get("metric_code") or "a measure"
    work = plan_drafts_service.put_target(api, plan_id, form)
    then = _back(plan_id, f"#target-{metric}")
    failed = f"The target for {metric} was not saved"
    return await _act(request, session, api, plan_id, work, failed=failed, then=then, form=form)


@router.post("/plans/{plan_id}/targets/{metric_code}/removal")
async def remove_target(
    request: Request,
    session: SignedIn,
    api: Api,
    _: CheckedForm,
    plan_id: RowId,
    metric_code: str,
) -> Response:
    work = plan_drafts_service.remove_target(api, plan_id, metric_code)
    failed = f"The target for {metric_code} was not removed"
    return await _act(request, session, api, plan_id, work, failed=failed, then=_back(plan_id))


@router.post("/plans/{plan_id}/submission")
async def submit_plan(
    request: Request, session: SignedIn, api: Api, _: CheckedForm, plan_id: RowId
) -> Response:
    work = plan_drafts_service.submit(api, plan_id)
    failed = "The plan was not proposed for approval"
    return await _act(request, session, api, plan_id, work, failed=failed, then=_back(plan_id))


@router.post("/plans/{plan_id}/revision")
async def revise_plan(
    request: Request, session: SignedIn, api: Api, _: CheckedForm, plan_id: RowId
) -> Response:
    work = plan_drafts_service.revise(api, plan_id)
    failed = "No revision was opened"

    def then(revision: dict[str, Any] | None) -> str:
        assert revision is not None  # the API answers the new revision
        return f"/plans/{revision['id']}"

    return await _act(request, session, api, plan_id, work, failed=failed, then=then)


@router.get("/plans/{plan_id}/tables/{name}.csv")
async def plan_table(session: SignedIn, api: Api, plan_id: RowId, name: str) -> Response:
    assert session.identity is not None  # signed in
    page = await plan_page(api, plan_id, session.identity)
    table = by_name([*page.tables, *page.resources.tables]).get(name)
    if table is None:
        raise NotFound(f"Plan {plan_id}'s page has no table {name!r}.")
    return table.csv(f"plan-{plan_id}-{name}")
