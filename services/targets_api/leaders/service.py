"""Place leaders: one accountable person per place at a time, every past term kept.

A new appointment ends the latest term the day before it starts. Terms are never edited or
deleted otherwise, so the history answers "who was accountable on day D" for any D.
"""

from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal, require_scope
from services.common.catalogue import Catalogue
from services.common.errors import Conflict, Unprocessable, field_error
from services.common.models import PlaceLeader
from services.targets_api.leaders import store
from services.targets_api.leaders.schemas import (
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


def _public(term: PlaceLeader | None) -> LeaderPublic | None:
    return None if term is None else LeaderPublic.model_validate(term)


def _audited(term: PlaceLeader | None) -> dict | None:
    public = _public(term)
    return None if public is None else public.model_dump(mode="json")


def _check_appointment_date(appointed_on: date, *, today: date) -> None:
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


def _is_same_term(term: PlaceLeader, body: LeaderCreate) -> bool:
    return all(getattr(term, field) == value for field, value in body.model_dump().items())


async def appoint(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    code: str,
    body: LeaderCreate,
    today: date,
) -> tuple[LeaderPublic, bool]:
    """Record a new leader for the place; returns the leader and whether a term was added.

    The same leader again (every field equal to the latest term) is a retry: nothing changes.
    """
    place = place_of(catalogue, code)
    require_scope(principal, code, catalogue.lineage(code))
    _check_appointment_date(body.appointed_on, today=today)
    await store.lock_appointments(session, code)
    latest = await store.latest_term(session, code)
    if latest is not None and _is_same_term(latest, body):
        return LeaderPublic.model_validate(latest), False
    if latest is not None and body.appointed_on <= latest.appointed_on:
        raise Conflict(
            f"{place.name} ({code}) has had {latest.name} as its leader since "
            f"{latest.appointed_on}; a new term must start after {latest.appointed_on}.",
            current_leader_appointed_on=latest.appointed_on.isoformat(),
        )
    before = _audited(latest)
    if latest is not None:
        await store.end_term(session, latest, ended_on=body.appointed_on - timedelta(days=1))
    leader = await store.insert_term(session, PlaceLeader(place_code=code, **body.model_dump()))
    after = LeaderPublic.model_validate(leader)
    await audit.record(
        session,
        actor=principal,
        action="place_leader.appoint",
        entity_type="place",
        entity_id=code,
        before=before,
        after=after.model_dump(mode="json"),
    )
    return after, True


async def list_leaders(
    session: AsyncSession, *, code: str, limit: int | None, offset: int
) -> tuple[list[LeaderPublic], int]:
    """The place's terms, newest first; ``limit`` None for all of them."""
    count = await store.term_count(session, code)
    rows = await store.terms_page(session, code, limit=limit, offset=offset)
    return [LeaderPublic.model_validate(r) for r in rows], count


async def get_profile(
    session: AsyncSession, *, catalogue: Catalogue, code: str, today: date
) -> PlacePublic:
    place = place_of(catalogue, code)
    levels = {
        area.level: area.code
        for area in map(catalogue.area, catalogue.lineage(code))
        if area is not None
    }
    terms = await store.terms_not_ended(session, code, on=today)
    plans = await store.plan_summary(session, code)
    return PlacePublic(
        **place.model_dump(include={"code", "name", "level", "parent_code", "population"}),
        icb_code=levels.get("icb"),
        region_code=levels.get("region"),
        current_leader=_public(next((t for t in terms if t.appointed_on <= today), None)),
        next_leader=_public(next((t for t in terms if t.appointed_on > today), None)),
        current_agreed_plan_id=plans["current_agreed_plan_id"],
        plan_counts=PlanCounts.model_validate(dict(plans)),
        progress_counts=StatusCounts(**await store.progress_summary(session, code)),
    )
