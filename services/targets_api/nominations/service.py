"""Leader nominations: the one accountable person for a place, agreed by both bodies.

A steward nominates; the place's local authority (the place itself) and its ICB each confirm or
decline, through a key scoped to that body (services/common/auth.py, "two-party decisions").
When both have confirmed, the nomination becomes the place's leader term from its
``appointed_on`` (the previous term ends the day before, as for any appointment); a decline
closes it. Every decision starts by locking the nomination's row, so of two confirmations
arriving together the second waits for the first to commit and then sees it: exactly one of
them starts the term. The term itself is written under the place's appointment lock, as
``PUT /v1/places/{code}/leader`` writes its terms, so the two ways of appointing never race.

    nominated --both confirm--> confirmed (a term of place_leader)
        |
        +------a decline------> declined
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal, require_second_party, require_speaks_for
from services.common.catalogue import Catalogue
from services.common.errors import Conflict, NotFound, Unprocessable, field_error
from services.common.models import LeaderNomination, LeaderNominationDecision
from services.targets_api.leaders import service as leaders
from services.targets_api.leaders import store as leader_store
from services.targets_api.leaders.schemas import LeaderCreate
from services.targets_api.lookups import place_of
from services.targets_api.nominations import store
from services.targets_api.nominations.schemas import (
    DecisionCreate,
    DecisionPublic,
    NominationPublic,
)
from services.targets_api.plans.service import required_organisations

ENTITY = "leader_nomination"


def _public(
    catalogue: Catalogue,
    nomination: LeaderNomination,
    decided: Sequence[LeaderNominationDecision],
) -> NominationPublic:
    required = required_organisations(catalogue, nomination.place_code)
    answered = {d.organisation_code for d in decided}
    return NominationPublic(
        **nomination.model_dump(),
        required_organisations=required,
        awaiting=[c for c in required if c not in answered]
        if nomination.status == "nominated"
        else [],
        decisions=[DecisionPublic.model_validate(d) for d in decided],
    )


async def _publics(
    session: AsyncSession, catalogue: Catalogue, nominations: Sequence[LeaderNomination]
) -> list[NominationPublic]:
    by_nomination: dict[int, list[LeaderNominationDecision]] = defaultdict(list)
    for decision in await store.decisions(session, [n.id for n in nominations if n.id]):
        by_nomination[decision.nomination_id].append(decision)
    return [_public(catalogue, n, by_nomination.get(n.id or 0, [])) for n in nominations]


def _snapshot(nomination: LeaderNomination) -> dict:
    return nomination.model_dump(mode="json")


async def _record(
    session: AsyncSession,
    principal: ApiPrincipal,
    nomination: LeaderNomination,
    action: str,
    *,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    await audit.record(
        session,
        actor=principal,
        action=action,
        entity_type=ENTITY,
        entity_id=str(nomination.id),
        before=before,
        after=after,
    )


async def nominate(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    code: str,
    body: LeaderCreate,
    today: date,
) -> NominationPublic:
    """A steward's nomination of the place's next leader, waiting for both bodies."""
    # The appointments lock also serialises nominations: of two made at once, the second sees
    # the first open and is refused, rather than breaking the one-open-nomination index.
    place = await leaders.begin_appointment(
        session,
        principal=principal,
        catalogue=catalogue,
        code=code,
        appointed_on=body.appointed_on,
        today=today,
    )
    if (open_ := await store.open_nomination(session, code)) is not None:
        raise Conflict(
            f"{place.name} ({code}) already has a nomination waiting for its decisions "
            f"(nomination {open_.id}, {open_.name}); it must be confirmed or declined first.",
            open_nomination_id=open_.id,
        )
    leaders.require_after_latest(
        place, await leader_store.latest_term(session, code), body.appointed_on
    )
    nomination = await store.insert_nomination(
        session,
        LeaderNomination(
            place_code=code, nominated_by_key_id=principal.key_id, **body.model_dump()
        ),
    )
    await _record(
        session, principal, nomination, "leader_nomination.create", after=_snapshot(nomination)
    )
    return _public(catalogue, nomination, [])


async def get_nomination(
    session: AsyncSession, *, catalogue: Catalogue, nomination_id: int
) -> NominationPublic:
    nomination = await store.nomination(session, nomination_id)
    if nomination is None:
        raise NotFound(f"No leader nomination with id {nomination_id}.")
    [public] = await _publics(session, catalogue, [nomination])
    return public


async def list_nominations(
    session: AsyncSession,
    *,
    catalogue: Catalogue,
    code: str,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[NominationPublic], int]:
    place_of(catalogue, code)
    count = await store.nomination_count(session, code, status=status)
    rows = await store.nominations_page(session, code, status=status, limit=limit, offset=offset)
    return await _publics(session, catalogue, rows), count


def _check_organisation(required: list[str], nomination_id: int, organisation: str) -> None:
    if organisation in required:
        return
    msg = (
        f"nomination {nomination_id} is decided by its place {required[0]} and its ICB "
        f"{required[-1]}, not by {organisation}"
    )
    raise Unprocessable(
        f"The decision is not valid: {msg}.", errors=[field_error(["organisation_code"], msg)]
    )


async def decide(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    nomination_id: int,
    body: DecisionCreate,
) -> NominationPublic:
    """One body's answer, by a key scoped to that body and not the key that answered for the
    other: a decline closes the nomination; the second confirmation starts the term."""
    nomination = await store.locked_nomination(session, nomination_id)
    if nomination is None:
        raise NotFound(f"No leader nomination with id {nomination_id}.")
    require_speaks_for(principal, body.organisation_code)
    if nomination.status != "nominated":
        raise Conflict(
            f"Leader nomination {nomination_id} is {nomination.status}: it takes no more "
            f"decisions. Nominate again to propose another leader.",
            current_status=nomination.status,
        )
    required = required_organisations(catalogue, nomination.place_code)
    _check_organisation(required, nomination_id, body.organisation_code)
    decided = await store.decisions(session, [nomination_id])
    if earlier := [d for d in decided if d.organisation_code == body.organisation_code]:
        raise Conflict(
            f"{body.organisation_code} has already answered leader nomination "
            f"{nomination_id} ({earlier[0].decision}); each body answers once.",
            current_status=nomination.status,
        )
    require_second_party(
        principal,
        body.organisation_code,
        {d.organisation_code: d.key_id for d in decided},
        subject=f"leader nomination {nomination_id}",
    )
    decision = await store.insert_decision(
        session,
        LeaderNominationDecision(
            nomination_id=nomination_id, key_id=principal.key_id, **body.model_dump()
        ),
    )
    await _record(
        session,
        principal,
        nomination,
        f"leader_nomination.decision.{body.decision}",
        after=DecisionPublic.model_validate(decision).model_dump(mode="json"),
    )
    decided.append(decision)
    confirmed = {d.organisation_code for d in decided if d.decision == "confirm"}
    if body.decision == "decline":
        await _close(session, principal, nomination, status="declined")
    elif set(required) <= confirmed:
        await _confirm(session, principal, catalogue, nomination)
    return _public(catalogue, nomination, decided)


async def _close(
    session: AsyncSession,
    principal: ApiPrincipal,
    nomination: LeaderNomination,
    *,
    status: str,
    leader_id: int | None = None,
) -> None:
    before = _snapshot(nomination)
    await store.close_nomination(session, nomination, status=status, leader_id=leader_id)
    await _record(
        session,
        principal,
        nomination,
        f"leader_nomination.{status}",
        before=before,
        after=_snapshot(nomination),
    )


async def _confirm(
    session: AsyncSession,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    nomination: LeaderNomination,
) -> None:
    """Both bodies have confirmed: the nominee's term starts on ``appointed_on``. If a term
    recorded since the nomination already starts on or after that day, this is a 409 and the
    confirmation is not kept: the bodies decline it and a steward nominates again."""
    place = place_of(catalogue, nomination.place_code)
    await leader_store.lock_appointments(session, place.code)
    term = await leaders.start_term(
        session,
        actor=principal,
        place=place,
        body=LeaderCreate.model_validate(
            nomination.model_dump(include=set(LeaderCreate.model_fields))
        ),
        latest=await leader_store.latest_term(session, place.code),
        nomination_id=nomination.id,
    )
    await _close(session, principal, nomination, status="confirmed", leader_id=term.id)
