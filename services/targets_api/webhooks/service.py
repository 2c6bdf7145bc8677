"""The rules of webhooks: who manages an area's subscriptions, what a subscription shows, and
``publish``, which any domain calls in its own transaction to announce an event."""

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.encoders import jsonable_encoder
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.auth import ApiPrincipal, require_scope
from services.common.catalogue import Catalogue
from services.common.egress import IPNetwork, subscribe_refusal
from services.common.errors import NotFound, Unprocessable, field_error
from services.common.models import WebhookDelivery, WebhookSubscription
from services.common.responses import Pagination
from services.common.vocabulary import WebhookEvent
from services.targets_api.lookups import area_of
from services.targets_api.webhooks import store
from services.targets_api.webhooks.schemas import (
    AttemptPublic,
    AttemptsPublic,
    DeliveriesPublic,
    DeliveryPublic,
    DeliveryState,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhooksPublic,
)

ENTITY = "webhook_subscription"


# --- publishing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Announcement:
    """One event for the subscriptions of ``area_codes``. ``event_id`` names it (a new one if
    not given): a caller that may announce the same event twice passes the same id and gets
    one delivery."""

    area_codes: Sequence[str]
    event: str
    payload: Mapping[str, Any]
    event_id: uuid.UUID | None = None


async def publish(
    session: AsyncSession,
    *,
    area_codes: Sequence[str],
    event: str,
    payload: Mapping[str, Any],
    event_id: uuid.UUID | None = None,
) -> None:
    """Announce ``event`` to every active subscription of ``area_codes`` that asked for it."""
    await publish_all(session, [Announcement(area_codes, event, payload, event_id)])


async def publish_all(session: AsyncSession, announcements: Sequence[Announcement]) -> None:
    """Every announcement's deliveries, one for each active subscription of its areas that asked
    for its event, in one statement in the caller's transaction: the events are sent if and
    only if the change they announce commits."""
    if not announcements:
        return
    occurred_at = datetime.now(UTC).isoformat()
    bodies = [
        {
            "id": str(a.event_id or uuid.uuid4()),
            "event": WebhookEvent(a.event).value,  # an unknown name is the caller's bug
            "occurred_at": occurred_at,
            "area_codes": list(a.area_codes),
            "data": jsonable_encoder(dict(a.payload)),
        }
        for a in announcements
    ]
    await store.insert_deliveries(session, bodies)


# --- subscriptions ---------------------------------------------------------------------------


def _authorise(principal: ApiPrincipal, catalogue: Catalogue, area_code: str) -> None:
    require_scope(principal, area_code, catalogue.lineage(area_code))


def _public(row: WebhookSubscription) -> WebhookPublic:
    return WebhookPublic.model_validate(row, from_attributes=True)


async def create_subscription(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    code: str,
    body: WebhookCreate,
    allowed_networks: Sequence[IPNetwork],
) -> WebhookCreated:
    area_of(catalogue, code)
    _authorise(principal, catalogue, code)
    # Told now rather than by a delivery failed later; the deliverer checks again each time
    # (services/common/egress.py), as the name may resolve elsewhere by then.
    if why := await subscribe_refusal(httpx.URL(str(body.url)), allowed_networks):
        raise Unprocessable(
            f"The webhook's url is refused: {why}.", errors=[field_error(["url"], why)]
        )
    # 32 random bytes: as strong as the HMAC-SHA256 key can use.
    secret = body.secret or secrets.token_urlsafe(32)
    row = await store.insert_subscription(
        session,
        WebhookSubscription(
            area_code=code,
            url=str(body.url),
            events=[event.value for event in body.events],
            secret=secret,
            created_by=f"key:{principal.key_id}:{principal.name}",
        ),
    )
    public = _public(row)
    # The secret is never written to the audit log, which many more people read.
    await audit.record(
        session,
        actor=principal,
        action=f"{ENTITY}.create",
        entity_type=ENTITY,
        entity_id=str(public.id),
        after=public.model_dump(mode="json"),
    )
    return WebhookCreated(**public.model_dump(), secret=secret)


async def list_subscriptions(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    code: str,
    page: Pagination,
) -> WebhooksPublic:
    area_of(catalogue, code)
    _authorise(principal, catalogue, code)
    rows, count = await store.subscriptions_of_area(
        session, code, limit=page.limit, offset=page.offset
    )
    return WebhooksPublic(data=[_public(row) for row in rows], count=count)


async def _subscription(
    session: AsyncSession, principal: ApiPrincipal, catalogue: Catalogue, subscription_id: int
) -> WebhookSubscription:
    row = await store.subscription(session, subscription_id)
    if row is None:
        raise NotFound(f"No webhook subscription {subscription_id}.")
    _authorise(principal, catalogue, row.area_code)
    return row


async def delete_subscription(
    session: AsyncSession, *, principal: ApiPrincipal, catalogue: Catalogue, subscription_id: int
) -> None:
    """Stop sending to the subscription: what still waits for it is given up (``failed``), so
    it is neither sent nor counted as pending; its deliveries stay readable."""
    row = await _subscription(session, principal, catalogue, subscription_id)
    if not row.active:
        raise NotFound(f"Webhook subscription {subscription_id} has already been deleted.")
    before = _public(row).model_dump(mode="json")
    await store.deactivate(session, subscription_id)
    abandoned = await store.abandon_pending(session, subscription_id)
    await audit.record(
        session,
        actor=principal,
        action=f"{ENTITY}.delete",
        entity_type=ENTITY,
        entity_id=str(subscription_id),
        before=before,
        after={**before, "active": False, "deliveries_abandoned": abandoned},
    )


def _state(row: WebhookDelivery) -> DeliveryState:
    if row.delivered_at is not None:
        return "delivered"
    return "failed" if row.failed_at is not None else "pending"


def _delivery_public(row: WebhookDelivery) -> DeliveryPublic:
    state = _state(row)
    assert row.id is not None and row.created_at is not None
    return DeliveryPublic(
        id=row.id,
        event_id=str(row.event_id),
        event=WebhookEvent(row.event),
        state=state,
        created_at=row.created_at,
        attempts=row.attempts,
        last_attempt_at=row.last_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if state == "pending" else None,
        delivered_at=row.delivered_at,
        failed_at=row.failed_at,
    )


async def list_deliveries(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    subscription_id: int,
    page: Pagination,
) -> DeliveriesPublic:
    await _subscription(session, principal, catalogue, subscription_id)
    rows, count = await store.deliveries_of(
        session, subscription_id, limit=page.limit, offset=page.offset
    )
    return DeliveriesPublic(data=[_delivery_public(row) for row in rows], count=count)


async def list_attempts(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    catalogue: Catalogue,
    subscription_id: int,
    delivery_id: int,
    page: Pagination,
) -> AttemptsPublic:
    """A delivery's attempts, for whoever may read the subscription's deliveries."""
    await _subscription(session, principal, catalogue, subscription_id)
    row = await store.delivery(session, delivery_id)
    if row is None or row.subscription_id != subscription_id:
        raise NotFound(f"Webhook subscription {subscription_id} has no delivery {delivery_id}.")
    rows, count = await store.attempts_of(
        session, delivery_id, limit=page.limit, offset=page.offset
    )
    return AttemptsPublic(
        data=[AttemptPublic.model_validate(a, from_attributes=True) for a in rows], count=count
    )
