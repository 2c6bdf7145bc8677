from fastapi import APIRouter, Request, Response

from services.common.auth import Principal, SignatoryKey, StewardKey
from services.common.catalogue import CatalogueDep, ConfirmedCatalogueDep
from services.common.clock import TodayDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.params import RowId
from services.common.responses import PageDep, with_etag
from services.common.vocabulary import NominationStatus
from services.targets_api.leaders.schemas import LeaderCreate
from services.targets_api.nominations import service
from services.targets_api.nominations.schemas import (
    DecisionCreate,
    NominationPublic,
    NominationsPublic,
)

router = APIRouter(tags=["leaders"], responses=problem_responses(401, 403, 404, 422))


@router.post(
    "/v1/places/{code}/leader-nominations",
    response_model=NominationPublic,
    status_code=201,
    responses=problem_responses(400, 409),
)
async def nominate_leader(
    request: Request,
    session: SessionDep,
    principal: StewardKey,
    catalogue: ConfirmedCatalogueDep,
    today: TodayDep,
    code: str,
    body: LeaderCreate,
) -> Response:
    """Nominate the place's next leader, for its local authority and its ICB to confirm.

    409 while another nomination of the place is open, or if `appointed_on` is not after the
    latest term's start."""
    nomination = await service.nominate(
        session, principal=principal, catalogue=catalogue, code=code, body=body, today=today
    )
    response = with_etag(request, nomination, status_code=201)
    response.headers["Location"] = f"/v1/leader-nominations/{nomination.id}"
    return response


@router.get("/v1/places/{code}/leader-nominations", response_model=NominationsPublic)
async def list_leader_nominations(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    page: PageDep,
    code: str,
    status: NominationStatus | None = None,
) -> Response:
    """The place's leader nominations, newest first, each with the bodies' decisions."""
    rows, count = await service.list_nominations(
        session,
        catalogue=catalogue,
        code=code,
        status=status,
        limit=page.limit,
        offset=page.offset,
    )
    return with_etag(request, NominationsPublic(data=rows, count=count))


@router.get("/v1/leader-nominations/{nomination_id}", response_model=NominationPublic)
async def get_leader_nomination(
    request: Request,
    session: SessionDep,
    _: Principal,
    catalogue: CatalogueDep,
    nomination_id: RowId,
) -> Response:
    """One leader nomination with the bodies' decisions."""
    return with_etag(
        request,
        await service.get_nomination(session, catalogue=catalogue, nomination_id=nomination_id),
    )


@router.post(
    "/v1/leader-nominations/{nomination_id}/decisions",
    response_model=NominationPublic,
    status_code=201,
    responses=problem_responses(400, 409),
)
async def decide_leader_nomination(
    request: Request,
    session: SessionDep,
    principal: SignatoryKey,
    catalogue: ConfirmedCatalogueDep,
    nomination_id: RowId,
    body: DecisionCreate,
) -> Response:
    """Confirm or decline a nomination for the place or its ICB; returns the nomination.

    The second confirmation makes the nominee the place's leader from `appointed_on`. 403 for a
    key not scoped to the organisation itself, or that answered for the other one; 409 for a
    second answer of the same organisation or an answer to a closed nomination."""
    return with_etag(
        request,
        await service.decide(
            session,
            principal=principal,
            catalogue=catalogue,
            nomination_id=nomination_id,
            body=body,
        ),
        status_code=201,
    )
