"""API keys as the operator's commands manage them: made (to expire, or not), listed with when
each was made, last used and expires, rotated and revoked, each change with its audit entry
(actor "cli"); the key the services share for one run of `joinedup up`; the first admin key of
a new database. The key itself, its hash and the check at each request are `auth.py`'s."""

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common import audit, auth
from services.common.auth import Role
from services.common.errors import NotFound, Unprocessable
from services.common.models import ApiKey, Area

ACTOR = "cli"


def id_of(row: ApiKey) -> int:
    """The id of a key create has flushed: the database has assigned it by then."""
    assert row.id is not None
    return row.id


async def _refuse_unknown_areas(session: AsyncSession, codes: list[str]) -> None:
    """A mistyped scope would make a key that silently covers nothing."""
    if not codes:
        return
    query = select(col(Area.code)).where(col(Area.code).in_(codes))
    known = set((await session.execute(query)).scalars())
    if unknown := [code for code in codes if code not in known]:
        raise Unprocessable(
            f"No area with code {', '.join(unknown)}; a scope is the code of a "
            f"loaded area, such as E54000054 (run `joinedup seed` if none are)."
        )


async def _audit(session: AsyncSession, action: str, row: ApiKey, after: dict[str, Any]) -> None:
    await audit.record(
        session,
        actor=ACTOR,
        action=action,
        entity_type="api_key",
        entity_id=str(row.id),
        after=after,
    )


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


async def create(
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    scopes: list[str],
    expires_in: timedelta | None = None,
) -> tuple[ApiKey, str]:
    """A new key scoped to loaded areas, audited; returns the row and the only copy of the key.
    With ``expires_in`` it stops working that long from now."""
    await _refuse_unknown_areas(session, scopes)
    row, key = await auth.create_key(
        session, name=name, role=role, scopes=scopes, expires_in=expires_in
    )
    after = {
        "name": row.name,
        "role": row.role,
        "scopes": row.scopes,
        "expires_at": _stamp(row.expires_at),
    }
    await _audit(session, "api_key.create", row, after)
    return row, key


KeyStatus = Literal["active", "expired", "revoked"]


@dataclass(frozen=True)
class ListedKey:
    key: ApiKey
    status: KeyStatus  # as of the database's clock, which the check at each request reads


async def all_keys(session: AsyncSession) -> list[ListedKey]:
    """Every key, revoked and expired ones too, in the order they were made."""
    status = case(
        (col(ApiKey.revoked_at).is_not(None), "revoked"),
        (col(ApiKey.expires_at) <= func.now(), "expired"),
        else_="active",
    )
    rows = await session.execute(select(ApiKey, status).order_by(col(ApiKey.id)))
    return [ListedKey(key, key_status) for key, key_status in rows]


async def revoke(session: AsyncSession, key_id: int) -> tuple[ApiKey, bool]:
    """Revoke a key, auditing it unless it was already revoked; says which."""
    existing = await session.get(ApiKey, key_id)
    already_revoked = existing is not None and existing.revoked_at is not None
    row = await auth.revoke_key(session, key_id=key_id)
    if not already_revoked:
        await _audit(session, "api_key.revoke", row, {"revoked_at": str(row.revoked_at)})
    return row, already_revoked


@dataclass(frozen=True)
class Rotation:
    old: ApiKey  # with the expiry the rotation gave it
    new: ApiKey
    key: str  # the only copy of the new key


async def rotate(session: AsyncSession, key_id: int, *, grace: timedelta) -> Rotation:
    """A new key with the old one's name, role and scopes (and as long a life, if the old one
    was made to expire), and the old one set to expire ``grace`` from now, or sooner if it
    would already; both audited. A revoked key is refused: it was taken away, not renewed."""
    old = await session.get(ApiKey, key_id, with_for_update=True)
    if old is None:
        raise NotFound(f"No API key with id {key_id}.")
    if old.revoked_at is not None:
        raise Unprocessable(
            f"Key {key_id} ({old.name}) was revoked at {old.revoked_at:%Y-%m-%d %H:%M %Z}; "
            f"a revoked key is not rotated. Create a new one with `joinedup keys create`."
        )
    lifetime = (
        old.expires_at - old.created_at
        if old.expires_at is not None and old.created_at is not None
        else None
    )
    new, key = await create(
        session, name=old.name, role=Role(old.role), scopes=old.scopes, expires_in=lifetime
    )
    ends = func.now() + grace
    # LEAST ignores a NULL: a key that never expired now does, after the grace.
    await session.execute(
        update(ApiKey)
        .where(col(ApiKey.id) == key_id)
        .values(expires_at=func.least(col(ApiKey.expires_at), ends))
    )
    await session.refresh(old)
    after = {"expires_at": _stamp(old.expires_at), "replaced_by": id_of(new)}
    await _audit(session, "api_key.rotate", old, after)
    return Rotation(old=old, new=new, key=key)


async def service_key_for_run(session: AsyncSession) -> tuple[int, str]:
    """The key the services use to call each other, made for this run and revoked after it,
    so no long-lived secret is left behind. Production sets JOINEDUP_SERVICE_KEY instead."""
    row, key = await create(
        session, name=f"services (joinedup up, pid {os.getpid()})", role=Role.service, scopes=[]
    )
    return id_of(row), key


async def first_admin_key(session: AsyncSession) -> str | None:
    """On a database with no keys at all, make the admin key the operator needs to begin."""
    if await session.scalar(select(func.count()).select_from(ApiKey)):
        return None
    _, key = await create(session, name="first admin (joinedup up)", role=Role.admin, scopes=[])
    return key
