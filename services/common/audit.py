"""The append-only audit log, written in the same transaction as the change it records."""

from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import ApiPrincipal
from services.common.models import AuditLog
from services.common.telemetry import current_request_id, current_service


class EntryFields(TypedDict):
    """What an entry says. ``actor`` is the key that made the change, or a label such as
    ``"cli"`` or ``"seed"`` for changes made by the operator's own commands."""

    actor: ApiPrincipal | str
    action: str
    entity_type: str
    entity_id: str
    before: NotRequired[dict[str, Any] | None]
    after: NotRequired[dict[str, Any] | None]


def entry(**fields: Unpack[EntryFields]) -> AuditLog:
    """One audit entry, for a caller that writes it in a statement of its own making."""
    actor = fields["actor"]
    if isinstance(actor, ApiPrincipal):
        actor_key_id: int | None = actor.key_id
        actor_label = f"key:{actor.key_id}:{actor.name}"
    else:
        actor_key_id, actor_label = None, actor
    return AuditLog(
        service=current_service.get(),
        actor_key_id=actor_key_id,
        actor=actor_label,
        action=fields["action"],
        entity_type=fields["entity_type"],
        entity_id=fields["entity_id"],
        before=fields.get("before"),
        after=fields.get("after"),
        request_id=current_request_id.get(),
    )


async def record(session: AsyncSession, **fields: Unpack[EntryFields]) -> None:
    """Add one audit entry; the caller's transaction commits or rolls back both together."""
    session.add(entry(**fields))
    await session.flush()
