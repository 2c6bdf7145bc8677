"""API keys as the operator's commands manage them: made, listed and revoked, each change with
its audit entry (actor "cli"); the key the services share for one run of `joinedup up`; the
first admin key of a new database. The key itself and its hash are `auth.py`'s."""

import os
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common import audit, auth
from services.common.auth import Role
from services.common.errors import Unprocessable
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


async def create(
    session: AsyncSession, *, name: str, role: Role, scopes: list[str]
) -> tuple[ApiKey, str]:
    """A new key scoped to loaded areas, audited; returns the row and the only copy of the key."""
    await _refuse_unknown_areas(session, scopes)
    row, key = await auth.create_key(session, name=name, role=role, scopes=scopes)
    after = {"name": row.name, "role": row.role, "scopes": row.scopes}
    await _audit(session, "api_key.create", row, after)
    return row, key


async def all_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, revoked ones too, in the order they were made."""
    return list((await session.execute(select(ApiKey).order_by(col(ApiKey.id)))).scalars())


async def revoke(session: AsyncSession, key_id: int) -> tuple[ApiKey, bool]:
    """Revoke a key, auditing it unless it was already revoked; says which."""
    existing = await session.get(ApiKey, key_id)
    already_revoked = existing is not None and existing.revoked_at is not None
    row = await auth.revoke_key(session, key_id=key_id)
    if not already_revoked:
        await _audit(session, "api_key.revoke", row, {"revoked_at": str(row.revoked_at)})
    return row, already_revoked


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
