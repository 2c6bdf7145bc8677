"""The governance register: each place's governance model, its partnership's members and the
functions delegated to it, versioned (a change is a new version; every earlier one is kept with
who recorded it and when), and what it says about the place (governance/assessment.py), per
place and rolled up to an ICB, a region or England."""

from collections import Counter
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal, require_scope
from services.common.catalogue import AreaRef, Catalogue
from services.common.errors import NotFound, Unprocessable, field_error
from services.common.models import PlaceGovernance
from services.common.vocabulary import MINIMUM_MEMBERSHIP
from services.targets_api.governance import store
from services.targets_api.governance.assessment import NOTHING_RECORDED, Assessment, assess
from services.targets_api.governance.schemas import (
    AreaGovernancePublic,
    Derived,
    GovernancePublic,
    GovernanceUpdate,
    GovernanceVersionPublic,
    PlaceGovernanceRow,
)
from services.targets_api.leaders.service import EARLIEST_APPOINTMENT
from services.targets_api.lookups import place_of

ENTITY = "place_governance"


def _version_public(row: PlaceGovernance) -> GovernanceVersionPublic:
    return GovernanceVersionPublic.model_validate(
        {**row.model_dump(exclude={"created_at"}), "changed_at": row.created_at}
    )


def _assessment(row: PlaceGovernance | None, *, national_date: date, today: date) -> Assessment:
    if row is None:
        return NOTHING_RECORDED
    return assess(
        adopted_on=row.adopted_on,
        scrutinised_on=row.scrutinised_on,
        members=row.members,
        national_date=national_date,
        today=today,
    )


def _derived(assessment: Assessment, *, national_date: date) -> Derived:
    return Derived(
        national_date=national_date,
        adopted=assessment.adopted,
        adopted_by_national_date=assessment.adopted_by_national_date,
        scrutinised_before_adoption=assessment.scrutinised_before_adoption,
        meets_minimum_membership=assessment.meets_minimum_membership,
        missing_categories=assessment.missing_categories,
        shortfalls=assessment.shortfalls,
    )


def _public(
    versions: list[PlaceGovernance], *, national_date: date, today: date
) -> GovernancePublic:
    current = versions[0]
    derived = _derived(
        _assessment(current, national_date=national_date, today=today),
        national_date=national_date,
    )
    return GovernancePublic(
        **_version_public(current).model_dump(),
        **derived.model_dump(),
        history=[_version_public(v) for v in versions],
    )


def _check_dates(body: GovernanceUpdate, *, today: date) -> None:
    """Adoption and scrutiny are things that have happened: not in the future, not before
    integrated care existed (an earlier year is a slip: 0223 for 2023)."""
    errors = [
        field_error([name], f"must be between {EARLIEST_APPOINTMENT} and today ({today})")
        for name in ("adopted_on", "scrutinised_on")
        if (day := getattr(body, name)) is not None and not EARLIEST_APPOINTMENT <= day <= today
    ]
    if errors:
        raise Unprocessable(
            "The governance arrangement's dates must be days that have come, from "
            f"{EARLIEST_APPOINTMENT} on.",
            errors=errors,
        )


def _same_arrangement(row: PlaceGovernance, body: GovernanceUpdate) -> bool:
    return {name: getattr(row, name) for name in GovernanceUpdate.model_fields} == body.model_dump(
        mode="python"
    )


async def put_governance(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    code: str,
    body: GovernanceUpdate,
    national_date: date,
    today: date,
) -> tuple[GovernancePublic, bool]:
    """Record the place's arrangement as its next version; returns it and whether a version
    was added (the current arrangement sent again is a retry: nothing changes)."""
    place_of(catalogue, code)
    require_scope(principal, code, catalogue.lineage(code))
    _check_dates(body, today=today)
    await store.lock_versions(session, code)
    versions = await store.versions(session, code)
    if versions and _same_arrangement(versions[0], body):
        return _public(versions, national_date=national_date, today=today), False
    row = await store.insert_version(
        session,
        PlaceGovernance(
            place_code=code,
            version=versions[0].version + 1 if versions else 1,
            key_id=principal.key_id,
            changed_by=f"key:{principal.key_id}:{principal.name}",
            **body.model_dump(mode="json"),
        ),
    )
    await audit.record(
        session,
        actor=principal,
        action="place_governance.put",
        entity_type=ENTITY,
        entity_id=code,
        before=_version_public(versions[0]).model_dump(mode="json") if versions else None,
        after=_version_public(row).model_dump(mode="json"),
    )
    return _public([row, *versions], national_date=national_date, today=today), True


async def get_governance(
    session: AsyncSession, *, catalogue: Catalogue, code: str, national_date: date, today: date
) -> GovernancePublic:
    place = place_of(catalogue, code)
    versions = await store.versions(session, code)
    if not versions:
        raise NotFound(f"{place.name} ({code}) has no governance arrangement recorded.")
    return _public(versions, national_date=national_date, today=today)


def _area_above_places(catalogue: Catalogue, code: str) -> AreaRef:
    area = catalogue.area(code)
    if area is None:
        raise NotFound(f"No area with code {code}.")
    if area.level == "place":
        raise Unprocessable(
            f"{code} ({area.name}) is a place; its arrangement is at "
            f"/v1/places/{code}/governance. Roll-ups are of ICBs, regions and England.",
            errors=[field_error(["path", "code"], "must be an ICB, a region or England")],
        )
    return area


async def area_governance(
    session: AsyncSession, *, catalogue: Catalogue, code: str, national_date: date, today: date
) -> AreaGovernancePublic:
    """The area's member places' arrangements, counted, with every place's row."""
    area = _area_above_places(catalogue, code)
    places = catalogue.places_in(code)
    current = await store.current_versions(session, list(places))
    rows = []
    for place_code in places:
        row = current.get(place_code)
        assessment = _assessment(row, national_date=national_date, today=today)
        place = catalogue.areas[place_code]
        rows.append(
            PlaceGovernanceRow.model_validate(
                {
                    **_derived(assessment, national_date=national_date).model_dump(),
                    "place_code": place_code,
                    "place_name": place.name,
                    "icb_code": place.parent_code,
                    "version": row.version if row else None,
                    "model": row.model if row else None,
                    "adopted_on": row.adopted_on if row else None,
                    "scrutinised_on": row.scrutinised_on if row else None,
                    "falls_short": bool(assessment.shortfalls),
                }
            )
        )
    missing = Counter(c for r in rows for c in r.missing_categories)
    return AreaGovernancePublic(
        area_code=area.code,
        area_name=area.name,
        level=area.level,
        national_date=national_date,
        places=len(rows),
        with_model=sum(r.model is not None for r in rows),
        adopted=sum(r.adopted for r in rows),
        adopted_by_national_date=sum(r.adopted_by_national_date for r in rows),
        scrutinised_before_adoption=sum(r.scrutinised_before_adoption for r in rows),
        meeting_minimum_membership=sum(r.meets_minimum_membership for r in rows),
        falling_short=[r.place_code for r in rows if r.falls_short],
        missing_by_category={c: missing[c] for c in MINIMUM_MEMBERSHIP},
        by_model=dict(sorted(Counter(r.model for r in rows if r.model).items())),
        data=rows,
        count=len(rows),
    )
