"""Place leaders: one accountable person per place at a time, every past term kept.

A new appointment ends the latest term the day before it starts: one recorded directly (agreed
elsewhere), or one the local authority and the ICB confirmed here (services/targets_api/
nominations), which the profile and history then show with who confirmed it and when. Terms
are never edited or deleted otherwise, so the history answers "who was accountable on day D"
for any D.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal, require_scope
from services.common.catalogue import AreaRef, Catalogue
from services.common.errors import Conflict, Unprocessable, field_error
from services.common.models import PlaceLeader
from services.targets_api.leaders import store
from services.targets_api.leaders.schemas import (
    ConfirmationPublic,
    LeaderCreate,
    LeaderPublic,
    PlacePublic,
    PlanCounts,
)
from services.targets_api.lookups import place_of
from services.targets_api.progress.schemas import StatusCounts

# A handover may be recorded once it is agreed, which is rarely more than a year ahead; a date
# beyond that is far more likely a typing slip (2062 for 2026) than a plan.
MAX_DAYS_AHEAD = 366  # a year, leap day included
# Integrated care places date from the 2010s; an earlier date is a slip (0226 for 2026).
EARLIEST_APPOINTMENT = date(2000, 1, 1)


def _audited(term: PlaceLeader | None) -> dict | None:
    return None if term is None else LeaderPublic.model_validate(term).model_dump(mode="json")


def check_appointment_date(appointed_on: date, *, today: date) -> None:
    """422 unless the term starts between 2000 and a year from today."""
    latest = today + timedelta(days=MAX_DAYS_AHEAD)
    if EARLIEST_APPOINTMENT <= appointed_on <= latest:
        return
    raise Unprocessable(
        f"appointed_on {appointed_on} is outside {EARLIEST_APPOINTMENT} to {latest}.",
        errors=[
            field_error(
                ["appointed_on"],
                f"must be between {EARLIEST_APPOINTMENT} and "
                f"{latest} (a handover up to a year ahead)",
            )
        ],
    )


def require_after_latest(place: AreaRef, latest: PlaceLeader | None, appointed_on: date) -> None:
    """409 unless a term from ``appointed_on`` would start after the place's latest term."""
    if latest is not None and appointed_on <= latest.appointed_on:
        raise Conflict(
            f"{place.name} ({place.code}) has had {latest.name} as its leader since "
            f"{latest.appointed_on}; a new term must start after {latest.appointed_on}.",
            current_leader_appointed_on=latest.appointed_on.isoformat(),
        )


def _is_same_term(term: PlaceLeader, body: LeaderCreate) -> bool:
    return all(getattr(term, field) == value for field, value in body.model_dump().items())


async def start_term(
    session: AsyncSession,
    *,
    actor: ApiPrincipal,
    place: AreaRef,
    body: LeaderCreate,
    latest: PlaceLeader | None,
    nomination_id: int | None = None,
) -> PlaceLeader:
    """The place's new term from ``body.appointed_on``, the ``latest`` one ending the day
    before, audited. The caller holds the place's appointments (``store.lock_appointments``)
    and read ``latest`` under that lock."""
    require_after_latest(place, latest, body.appointed_on)
    before = _audited(latest)
    if latest is not None:
        await store.end_term(session, latest, ended_on=body.appointed_on - timedelta(days=1))
    leader = await store.insert_term(
        session, PlaceLeader(place_code=place.code, **body.model_dump())
    )
    await audit.record(
        session,
        actor=actor,
        action="place_leader.appoint",
        entity_type="place",
        entity_id=place.code,
        before=before,
        after={
            **(_audited(leader) or {}),
            "nomination_id": nomination_id,
            "confirmed": nomination_id is not None,
        },
    )
    return leader


async def begin_appointment(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    code: str,
    appointed_on: date,
    today: date,
) -> AreaRef:
    """The place, once the steward's key covers it and ``appointed_on`` is a day a term may
    start; its appointments are then held (``store.lock_appointments``) until the transaction
    ends, so what is read next about its terms and nominations stays true."""
    place = place_of(catalogue, code)
    require_scope(principal, code, catalogue.lineage(code))
    check_appointment_date(appointed_on, today=today)
    await store.lock_appointments(session, code)
    return place


async def appoint(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    code: str,
    body: LeaderCreate,
    today: date,
) -> tuple[LeaderPublic, bool]:
    """Record a new leader for the place, agreed elsewhere; returns the leader and whether a
    term was added.

    The same leader again (every field equal to the latest term) is a retry: nothing changes.
    """
    place = await begin_appointment(
        session,
        principal=principal,
        catalogue=catalogue,
        code=code,
        appointed_on=body.appointed_on,
        today=today,
    )
    latest = await store.latest_term(session, code)
    if latest is not None and _is_same_term(latest, body):
        [public] = await _with_confirmations(session, [latest])
        return public, False
    leader = await start_term(session, actor=principal, place=place, body=body, latest=latest)
    return LeaderPublic.model_validate(leader), True


async def _with_confirmations(
    session: AsyncSession, terms: Sequence[PlaceLeader]
) -> list[LeaderPublic]:
    """The terms as the API shows them, each with whether, when and by whom it was confirmed."""
    found: dict[int, list[RowMapping]] = defaultdict(list)
    for row in await store.term_confirmations(session, [t.id for t in terms if t.id]):
        found[row["leader_id"]].append(row)
    public = []
    for term in terms:
        confirmations = found.get(term.id or 0, [])
        public.append(
            LeaderPublic.model_validate(term).model_copy(
                update={
                    "nomination_id": confirmations[0]["nomination_id"] if confirmations else None,
                    "confirmed": bool(confirmations),
                    "confirmed_at": max((c["decided_at"] for c in confirmations), default=None),
                    "confirmed_by": [ConfirmationPublic.model_validate(c) for c in confirmations],
                }
            )
        )
    return public


async def list_leaders(
    session: AsyncSession, *, code: str, limit: int | None, offset: int
) -> tuple[list[LeaderPublic], int]:
    """The place's terms, newest first; ``limit`` None for all of them."""
    count = await store.term_count(session, code)
    rows = await store.terms_page(session, code, limit=limit, offset=offset)
    return await _with_confirmations(session, rows), count


async def get_profile(
    session: AsyncSession, *, catalogue: Catalogue, code: str, today: date
) -> PlacePublic:
    place = place_of(catalogue, code)
    levels = {
        area.level: area.code
        for area in map(catalogue.area, catalogue.lineage(code))
        if area is not None
    }
    terms = await _with_confirmations(session, await store.terms_not_ended(session, code, on=today))
    plans = await store.plan_summary(session, code)
    return PlacePublic(
        **place.model_dump(include={"code", "name", "level", "parent_code", "population"}),
        icb_code=levels.get("icb"),
        region_code=levels.get("region"),
        current_leader=next((t for t in terms if t.appointed_on <= today), None),
        next_leader=next((t for t in terms if t.appointed_on > today), None),
        current_agreed_plan_id=plans["current_agreed_plan_id"],
        plan_counts=PlanCounts.model_validate(dict(plans)),
        progress_counts=StatusCounts(**await store.progress_summary(session, code)),
    )
