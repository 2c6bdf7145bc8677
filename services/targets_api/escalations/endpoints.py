from collections.abc import AsyncIterator, Iterable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response

from services.common.auth import EscalatingKey, Principal
from services.common.catalogue import CatalogueDep
from services.common.db import SessionDep
from services.common.errors import NotFound, problem_responses
from services.common.params import RowId
from services.common.responses import PageDep, csv_response, wants_csv, with_etag
from services.common.vocabulary import EscalationState
from services.targets_api.escalations import service
from services.targets_api.escalations.rules import EscalationRules, configured
from services.targets_api.escalations.schemas import (
    CSV_FIELDS,
    EscalationCreate,
    EscalationDetail,
    EscalationPublic,
    EscalationsPublic,
    StepCreate,
)
from services.targets_api.lookups import place_of

router = APIRouter(tags=["escalations"], responses=problem_responses(401, 403, 404, 422))


RulesDep = Annotated[EscalationRules, Depends(configured)]
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


@router.post(
    "/v1/places/{code}/escalations",
    response_model=EscalationPublic,
    status_code=201,
    responses={
        200: {"model": EscalationPublic, "description": "The same escalation sent again"},
        **problem_responses(400, 409),
    },
)
async def raise_escalation(
    request: Request,
    session: SessionDep,
    principal: EscalatingKey,
    catalogue: CatalogueDep,
    rules: RulesDep,
    code: str,
    body: EscalationCreate,
) -> Response:
    """A place's steward or signatory asks its ICB to help with an obstacle: 201 with the
    escalation, `state: "open"`, `addressed_to` the ICB's code. The same title and metric again
    while that escalation is still open at the ICB is a retry: 200 with it."""
    escalation, added = await service.raise_escalation(
        session, principal=principal, catalogue=catalogue, code=code, body=body, rules=rules
    )
    response = with_etag(request, escalation, status_code=201 if added else 200)
    response.headers["Location"] = f"/v1/escalations/{escalation.id}"
    return response


async def _answer(
    request: Request,
    session: SessionDep,
    principal: EscalatingKey,
    catalogue: CatalogueDep,
    rules: RulesDep,
    escalation_id: int,
    body: StepCreate,
    action: Literal["acknowledge", "resolve", "escalate"],
) -> Response:
    escalation, changed = await service.answer(
        session,
        principal=principal,
        catalogue=catalogue,
        escalation_id=escalation_id,
        action=action,
        body=body,
        rules=rules,
    )
    created = action == "escalate" and changed
    response = with_etag(request, escalation, status_code=201 if created else 200)
    if created:
        response.headers["Location"] = f"/v1/escalations/{escalation.id}"
    return response


@router.post(
    "/v1/escalations/{escalation_id}/acknowledge",
    response_model=EscalationPublic,
    responses=problem_responses(400, 409),
)
async def acknowledge(
    request: Request,
    session: SessionDep,
    principal: EscalatingKey,
    catalogue: CatalogueDep,
    rules: RulesDep,
    escalation_id: RowId,
    body: StepCreate,
) -> Response:
    """A steward or signatory of the addressed area acknowledges an open escalation."""
    return await _answer(
        request, session, principal, catalogue, rules, escalation_id, body, "acknowledge"
    )


@router.post(
    "/v1/escalations/{escalation_id}/resolve",
    response_model=EscalationPublic,
    responses=problem_responses(400, 409),
)
async def resolve(
    request: Request,
    session: SessionDep,
    principal: EscalatingKey,
    catalogue: CatalogueDep,
    rules: RulesDep,
    escalation_id: RowId,
    body: StepCreate,
) -> Response:
    """A steward or signatory of the addressed area resolves an open or acknowledged one."""
    return await _answer(
        request, session, principal, catalogue, rules, escalation_id, body, "resolve"
    )


@router.post(
    "/v1/escalations/{escalation_id}/escalate",
    response_model=EscalationPublic,
    status_code=201,
    responses={
        200: {"model": EscalationPublic, "description": "Already escalated: the one above"},
        **problem_responses(400, 409),
    },
)
async def escalate(
    request: Request,
    session: SessionDep,
    principal: EscalatingKey,
    catalogue: CatalogueDep,
    rules: RulesDep,
    escalation_id: RowId,
    body: StepCreate,
) -> Response:
    """A steward or signatory of the addressed area passes it up: ICB to region, region to
    England. 201 with the escalation opened above; 409 at England, the top of the chain."""
    return await _answer(
        request, session, principal, catalogue, rules, escalation_id, body, "escalate"
    )


@router.get("/v1/escalations/{escalation_id}", response_model=EscalationDetail)
async def get_escalation(
    request: Request, session: SessionDep, _: Principal, rules: RulesDep, escalation_id: RowId
) -> Response:
    """One escalation with its history at its level."""
    return with_etag(
        request,
        await service.get_escalation(session, escalation_id=escalation_id, rules=rules),
    )


async def _list(
    request: Request,
    session: SessionDep,
    rules: RulesDep,
    page: PageDep,
    *,
    by: Literal["place_code", "addressed_to"],
    code: str,
    state: EscalationState | None,
) -> Response:
    if wants_csv(request):
        rows, _count = await service.list_escalations(
            session, by=by, code=code, state=state, limit=None, offset=0, rules=rules
        )
        return csv_response(CSV_FIELDS, _as_csv_rows(rows), filename=f"escalations-{code}.csv")
    rows, count = await service.list_escalations(
        session, by=by, code=code, state=state, limit=page.limit, offset=page.offset, rules=rules
    )
    return with_etag(request, EscalationsPublic(data=rows, count=count))


@router.get("/v1/areas/{code}/escalations", response_model=EscalationsPublic, responses=_CSV)
async def list_area_escalations(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    rules: RulesDep,
    page: PageDep,
    code: str,
    state: EscalationState | None = None,
) -> Response:
    """The escalations addressed to an ICB, a region or England, newest first; `state` keeps
    one state. With `Accept: text/csv`, every one as CSV (no paging)."""
    if catalogue.area(code) is None:
        raise NotFound(f"No area with code {code}.")
    return await _list(request, session, rules, page, by="addressed_to", code=code, state=state)


@router.get("/v1/places/{code}/escalations", response_model=EscalationsPublic, responses=_CSV)
async def list_place_escalations(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    rules: RulesDep,
    page: PageDep,
    code: str,
    state: EscalationState | None = None,
) -> Response:
    """The place's escalations at every level, newest first; with `Accept: text/csv`, as CSV."""
    place_of(catalogue, code)
    return await _list(request, session, rules, page, by="place_code", code=code, state=state)


async def _as_csv_rows(rows: Iterable[EscalationPublic]) -> AsyncIterator[dict[str, Any]]:
    # Read in the request's session before it closes; the text fields stay out of the CSV
    # (a description runs to paragraphs), the JSON has them.
    for row in rows:
        yield row.model_dump(mode="json")
