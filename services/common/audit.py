"""The append-only audit log, written in the same transaction as the change it records."""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import ApiPrincipal
from services.common.models import AuditLog
from services.common.telemetry import current_request_id, current_service


def entry(
    *,
    actor: ApiPrincipal | str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    """One audit entry, for a caller that writes it in a statement of its own making.

    ``actor`` is the key that made the change, or a label such as ``"cli"`` or ``"seed"`` for
    changes made by the operator's own commands.
    """
    if isinstance(actor, ApiPrincipal):
        actor_key_id: int | None = actor.key_id
        actor_label = f"key:{actor.key_id}:{actor.name}"
    else:
        actor_key_id, actor_label = None, actor
    return AuditLog(
        service=current_service.get(),
        actor_key_id=actor_key_id,
        actor=actor_label,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        before=before,
        after=after,
        request_id=current_request_id.get(),
    )


async def record(
    session: AsyncSession,
    *,
    actor: ApiPrincipal | str,
    action: str,
    entity_type: str,
    entity_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add one audit entry (see ``entry``); the caller's transaction commits or rolls back both
    together."""
    session.add(
        entry(
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
        )
    )
    await session.flush()
