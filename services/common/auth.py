"""API keys: creation, verification, roles and hierarchical area scopes.

A key reads ``jdu_<public id>_<secret>``. Only its SHA-256 hash is stored; the public id finds
the row and the hashes are compared in constant time, so the stored hash never leaks by timing.
"""

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import bindparam, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import SessionDep
from services.common.errors import (
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
)
from services.common.models import ApiKey
from services.common.ratelimit import RateLimiter, app_limiter
from services.common.vocabulary import Role

KEY_PREFIX = "jdu"
ENGLAND = "E92000001"


# Roles that act on particular areas make no sense without at least one scope.
SCOPED_ROLES = frozenset({Role.steward, Role.submitter, Role.signatory})


@dataclass(frozen=True)
class ApiPrincipal:
    """The caller, as proven by its key."""

    key_id: int
    name: str
    role: Role
    scopes: tuple[str, ...]

    def has_role(self, *roles: Role) -> bool:
        return self.role is Role.admin or self.role in roles

    def covers(self, lineage: Sequence[str]) -> bool:
        """Whether the key's scopes cover an area, given the area and its ancestors."""
        return self.role is Role.admin or any(scope in lineage for scope in self.scopes)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _public_id(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


async def create_key(
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    scopes: Sequence[str] = (),
    expires_in: timedelta | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key's hash and return the row with the only copy of the key itself. With
    ``expires_in`` it stops working that long after now (the database's clock, which the
    check at each request reads too)."""
    if not name.strip():
        raise Unprocessable("A key needs a name.")
    if role in SCOPED_ROLES and not scopes:
        raise Unprocessable(f"A {role} key needs at least one --scope area code.")
    public_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{public_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        public_id=public_id,
        key_hash=hash_key(key),
        name=name,
        role=role,
        scopes=list(dict.fromkeys(scopes)),
    )
    if expires_in is not None:
        row.expires_at = func.now() + expires_in  # type: ignore[assignment]
    session.add(row)
    await session.flush()
    if expires_in is not None:
        await session.refresh(row)
    return row, key


async def revoke_key(session: AsyncSession, *, key_id: int) -> ApiKey:
    row = await session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"No API key with id {key_id}.")
    if row.revoked_at is None:
        await session.execute(
            update(ApiKey).where(col(ApiKey.id) == key_id).values(revoked_at=func.now())
        )
        await session.refresh(row)
    return row


# A hash to compare against when the public id matches no key, so both paths cost the same.
_NO_KEY_HASH = hash_key("no such key")


# How stale a key's last_used_at may be: recording every use would make each request of a busy
# key a write, and a minute is as precise as `joinedup keys list` needs.
LAST_USE_PRECISION = text("interval '1 minute'")

# Every request runs this, so it reads the columns it needs rather than loading an ApiKey
# entity: the ORM's loading was most of the check's Python time. Read afresh each time, so a
# revocation or an expiry takes effect at the next request.
_KEY_BY_PUBLIC_ID = select(
    col(ApiKey.id),
    col(ApiKey.key_hash),
    col(ApiKey.name),
    col(ApiKey.role),
    col(ApiKey.scopes),
    col(ApiKey.revoked_at).is_not(None).label("revoked"),
    col(ApiKey.expires_at),
    func.coalesce(col(ApiKey.expires_at) <= func.now(), False).label("expired"),
    func.coalesce(col(ApiKey.last_used_at) < func.now() - LAST_USE_PRECISION, True).label(
        "use_unrecorded"
    ),
).where(col(ApiKey.public_id) == bindparam("public_id"))

# Only when the read above found the last use a minute old or more. SKIP LOCKED: another
# request of the same key that is recording it (and holds the row until it commits) has it
# in hand, so this one neither waits for it nor writes again; NO KEY UPDATE does not hold up
# rows being written that refer to the key.
_RECORD_USE = (
    update(ApiKey)
    .where(
        col(ApiKey.id)
        == select(col(ApiKey.id))
        .where(
            col(ApiKey.id) == bindparam("key_id"),
            or_(
                col(ApiKey.last_used_at).is_(None),
                col(ApiKey.last_used_at) < func.now() - LAST_USE_PRECISION,
            ),
        )
        .with_for_update(skip_locked=True, key_share=True)
        .scalar_subquery()
    )
    .values(last_used_at=func.now())
    .execution_options(synchronize_session=False)
)


async def verify_key(session: AsyncSession, key: str) -> ApiPrincipal:
    """The key's principal, its use recorded (at most once a minute); 401 when it is not a
    key, has been revoked or has expired. Only a key proven by its secret is told that it
    expired: the others learn nothing about which keys exist."""
    public_id = _public_id(key)
    row = None
    if public_id is not None:
        row = (await session.execute(_KEY_BY_PUBLIC_ID, {"public_id": public_id})).first()
    matches = hmac.compare_digest(hash_key(key), row.key_hash if row else _NO_KEY_HASH)
    if row is None or not matches or row.revoked:
        raise Unauthorized("The API key is not valid or has been revoked.")
    if row.expired:
        raise Unauthorized(
            f"The API key {row.id} ({row.name}) expired at {row.expires_at:%Y-%m-%d %H:%M %Z}; "
            f"ask an administrator for a new one (`joinedup keys rotate {row.id}`)."
        )
    if row.use_unrecorded:
        # In the request's transaction, so it needs no connection of its own; a request that
        # fails rolls it back and the next one records the use.
        await session.execute(_RECORD_USE, {"key_id": row.id})
    return ApiPrincipal(
        key_id=row.id,
        name=row.name,
        role=Role(row.role),
        scopes=tuple(row.scopes),
    )


async def authenticate(request: Request, session: SessionDep) -> ApiPrincipal:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    principal = await verify_key(session, key.strip())
    # Only after the key is proven, so that nobody can spend another key's allowance.
    _enforce_rate_limit(request, principal)
    request.state.principal = principal
    return principal


def _rate_limiter(request: Request) -> RateLimiter | None:
    """The app's limiter, made on first use from its settings; None when limiting is off."""
    settings = getattr(request.app.state, "settings", None)
    return app_limiter(
        request.app.state,
        "rate_limiter",
        per_minute=getattr(settings, "rate_limit_per_minute", 0),
        burst=getattr(settings, "rate_limit_burst", 0),
    )


def _enforce_rate_limit(request: Request, principal: ApiPrincipal) -> None:
    # The services' own calls (change notices, catalogue reads) follow from requests that were
    # already counted; limiting them would only delay progress and catalogue updates.
    if principal.role is Role.service:
        return
    limiter = _rate_limiter(request)
    if limiter is not None:
        limiter.enforce(principal.key_id, who="This key")


def require_role(*roles: Role):
    """A dependency admitting keys with one of ``roles`` (admin is always admitted)."""

    async def dependency(principal: Annotated[ApiPrincipal, Depends(authenticate)]) -> ApiPrincipal:
        if not principal.has_role(*roles):
            allowed = ", ".join(["admin", *roles])
            raise Forbidden(f"This needs a key with role {allowed}; this key is {principal.role}.")
        return principal

    return dependency


def _scope_text(principal: ApiPrincipal) -> str:
    return ", ".join(principal.scopes) or "none"


def require_scope(principal: ApiPrincipal, area_code: str, lineage: Sequence[str]) -> None:
    if not principal.covers(lineage):
        raise Forbidden(
            f"This key's scope ({_scope_text(principal)}) does not cover area {area_code}."
        )


# --- reading data ------------------------------------------------------------------------------
# Submitter keys are held by place systems, the most numerous and least supervised keys: each
# reads back the data (observations and their notes, completeness) of the places it submits
# for, and nothing of other places. Every other role reads every place's data, as API.md's role
# table gives viewers and assessors.
SCOPE_LIMITED_READERS = frozenset({Role.submitter})


def places_in_view(
    principal: ApiPrincipal, area_code: str, places: Mapping[str, Sequence[str]]
) -> list[str] | None:
    """Of ``places`` (the places under ``area_code``, each with its lineage), the ones whose data
    the key may read, sorted; None when it reads every place. 403 when it may read none of them,
    so that asking about another area says so rather than answering an empty list."""
    if principal.role not in SCOPE_LIMITED_READERS:
        return None
    covered = sorted(code for code, lineage in places.items() if principal.covers(lineage))
    if not covered:
        raise Forbidden(
            f"This key's scope ({_scope_text(principal)}) covers no place in area "
            f"{area_code}; a {principal.role} key reads the places in its scope."
        )
    return covered


# --- two-party decisions -----------------------------------------------------------------------
# Some decisions are an agreement between two bodies: a place's plan is agreed by its local
# authority and its ICB, and a later joint decision (a leader's confirmation, say) is the same.
# Each body answers for itself, so a key speaks only for the organisation it is scoped to (a key
# scoped to an ICB covers its places for reading and stewardship, but does not sign for their
# councils), and one key can never be both parties, whatever its scopes: otherwise one holder
# could agree with themselves. An admin key may speak for any organisation, one at a time.


def require_speaks_for(principal: ApiPrincipal, organisation_code: str) -> None:
    """Refuse a decision on behalf of an organisation unless the key is scoped to it itself."""
    if principal.role is not Role.admin and organisation_code not in principal.scopes:
        raise Forbidden(
            f"This key (scope {_scope_text(principal)}) may not decide on behalf of "
            f"{organisation_code}: that needs a key scoped to {organisation_code} itself. A "
            f"scope above an organisation covers it for reading, but does not speak for it."
        )


def require_second_party(
    principal: ApiPrincipal, organisation_code: str, decided_by: Mapping[str, int], *, subject: str
) -> None:
    """Refuse a key's decision for ``organisation_code`` when the same key has already decided
    for another party of the agreement; ``decided_by`` maps each organisation that has decided
    (in this round) to the id of the key that decided for it."""
    for other, key_id in decided_by.items():
        if key_id == principal.key_id and other != organisation_code:
            raise Forbidden(
                f"This key has already decided {subject} on behalf of {other}; the decision "
                f"for {organisation_code} must come from another key, because an agreement "
                f"between two bodies needs each to answer for itself."
            )


Principal = Annotated[ApiPrincipal, Depends(authenticate)]
AdminKey = Annotated[ApiPrincipal, Depends(require_role(Role.admin))]
StewardKey = Annotated[ApiPrincipal, Depends(require_role(Role.steward))]
SignatoryKey = Annotated[ApiPrincipal, Depends(require_role(Role.signatory))]
# An escalation is raised and answered by the stewards and signatories of the areas concerned.
EscalatingKey = Annotated[ApiPrincipal, Depends(require_role(Role.steward, Role.signatory))]
SubmitterKey = Annotated[ApiPrincipal, Depends(require_role(Role.submitter))]
# Those who act for an area's organisations: its stewards and its signatories (an area's
# webhooks; what an escalation addressed to it asks).
StewardOrSignatoryKey = Annotated[ApiPrincipal, Depends(require_role(Role.steward, Role.signatory))]
