"""The SQL of webhooks: subscriptions, the publish of an event into the deliveries' outbox, the
deliverer's claim and its record of each attempt (on the delivery and in its history), and what
the API and the gauge read."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    RowMapping,
    Text,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common.db import insert_row
from services.common.models import WebhookDelivery, WebhookDeliveryAttempt, WebhookSubscription

# One delivery per active subscription of the areas that asked for the event, in one
# statement; ON CONFLICT makes a publish repeated with the same event id a no-op.
# Each body names its event and areas; a delivery for each active subscription of one of those
# areas that asked for that event.
_PUBLISH = text("""
    INSERT INTO webhook_delivery (subscription_id, event_id, event, body)
    SELECT s.id, CAST(b.body ->> 'id' AS uuid), b.body ->> 'event', b.body
    FROM jsonb_array_elements(:bodies) AS b(body)
    JOIN webhook_subscription s ON s.active AND b.body ->> 'event' = ANY(s.events)
        AND s.area_code IN (SELECT jsonb_array_elements_text(b.body -> 'area_codes'))
    ON CONFLICT ON CONSTRAINT webhook_delivery_once DO NOTHING
""").bindparams(bindparam("bodies", type_=JSONB))
# Due deliveries of active subscriptions, oldest first, with where and how to send them.
# SKIP LOCKED lets several deliverers share the outbox; OF d leaves subscriptions unlocked, so
# a DELETE of a subscription never waits for a slow receiver.
_CLAIM = text("""
    SELECT d.id, d.subscription_id, d.event_id, d.event, d.body, d.attempts, d.created_at,
           s.url, s.secret
    FROM webhook_delivery d JOIN webhook_subscription s ON s.id = d.subscription_id
    WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_attempt_at <= :now
      AND s.active
    ORDER BY d.next_attempt_at, d.id
    LIMIT :batch
    FOR UPDATE OF d SKIP LOCKED
""")
_PENDING = (
    select(func.count())
    .select_from(WebhookDelivery)
    .where(col(WebhookDelivery.delivered_at).is_(None), col(WebhookDelivery.failed_at).is_(None))
)


async def insert_subscription(
    session: AsyncSession, row: WebhookSubscription
) -> WebhookSubscription:
    return await insert_row(session, row)


async def subscription(session: AsyncSession, subscription_id: int) -> WebhookSubscription | None:
    return await session.get(WebhookSubscription, subscription_id)


async def subscriptions_of_area(
    session: AsyncSession, area_code: str, *, limit: int, offset: int
) -> tuple[list[WebhookSubscription], int]:
    """One page of the area's active subscriptions, newest first, and how many there are."""
    where = (
        col(WebhookSubscription.area_code) == area_code,
        col(WebhookSubscription.active),
    )
    page = (
        select(WebhookSubscription)
        .where(*where)
        .order_by(col(WebhookSubscription.id).desc())
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(WebhookSubscription).where(*where)
    rows = list((await session.execute(page)).scalars())
    return rows, await session.scalar(count) or 0


async def deactivate(session: AsyncSession, subscription_id: int) -> None:
    await session.execute(
        update(WebhookSubscription)
        .where(col(WebhookSubscription.id) == subscription_id)
        .values(active=False)
    )


async def abandon_pending(session: AsyncSession, subscription_id: int) -> int:
    """Give up what still waits for a subscription being deleted; how many there were. A
    delivery a worker is sending at this moment is waited for, and left as the worker marks it."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.subscription_id) == subscription_id,
            col(WebhookDelivery.delivered_at).is_(None),
            col(WebhookDelivery.failed_at).is_(None),
        )
        .values(failed_at=func.now(), last_error="the subscription was deleted")
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def deliveries_of(
    session: AsyncSession, subscription_id: int, *, limit: int, offset: int
) -> tuple[list[WebhookDelivery], int]:
    """One page of the subscription's deliveries, newest first, and how many there are."""
    where = col(WebhookDelivery.subscription_id) == subscription_id
    page = (
        select(WebhookDelivery)
        .where(where)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(WebhookDelivery).where(where)
    rows = list((await session.execute(page)).scalars())
    return rows, await session.scalar(count) or 0


async def insert_deliveries(session: AsyncSession, bodies: list[dict[str, Any]]) -> None:
    await session.execute(_PUBLISH, {"bodies": bodies})


async def claim_due(session: AsyncSession, *, now: datetime, batch: int) -> list[RowMapping]:
    """The due deliveries, locked for this transaction."""
    return list((await session.execute(_CLAIM, {"now": now, "batch": batch})).mappings())


async def record_attempt(
    session: AsyncSession,
    delivery_id: int,
    *,
    now: datetime,
    status: int | None,
    error: str | None,
    delivered: bool,
    retry_at: datetime | None,
    duration_ms: int,
) -> None:
    """One attempt: delivered, to be retried at ``retry_at``, or (neither) given up; and its
    line in the delivery's history, numbered by the count the UPDATE returns, in the same
    statement, so the history and the delivery never disagree."""
    updated = (
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery_id)
        .values(
            attempts=col(WebhookDelivery.attempts) + 1,
            last_attempt_at=now,
            last_status=status,
            last_error=error,
            delivered_at=now if delivered else None,
            next_attempt_at=retry_at or col(WebhookDelivery.next_attempt_at),
            failed_at=None if delivered or retry_at else now,
        )
        .returning(col(WebhookDelivery.id), col(WebhookDelivery.attempts))
        .cte("updated")
    )
    history = WebhookDeliveryAttempt.__table__.c  # type: ignore[attr-defined]
    await session.execute(
        insert(WebhookDeliveryAttempt).from_select(
            [history.delivery_id, history.attempt, history.at, history.status, history.error]
            + [history.duration_ms],
            select(
                updated.c.id,
                updated.c.attempts,
                literal(now, DateTime(timezone=True)),
                literal(status, Integer),
                literal(error, Text),
                literal(duration_ms, Integer),
            ),
        )
    )


async def attempts_of(
    session: AsyncSession, delivery_id: int, *, limit: int, offset: int
) -> tuple[list[WebhookDeliveryAttempt], int]:
    """One page of the delivery's attempts, latest first, and how many there are."""
    where = col(WebhookDeliveryAttempt.delivery_id) == delivery_id
    page = (
        select(WebhookDeliveryAttempt)
        .where(where)
        .order_by(col(WebhookDeliveryAttempt.attempt).desc())
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(WebhookDeliveryAttempt).where(where)
    rows = list((await session.execute(page)).scalars())
    return rows, await session.scalar(count) or 0


async def delivery(session: AsyncSession, delivery_id: int) -> WebhookDelivery | None:
    return await session.get(WebhookDelivery, delivery_id)


async def pending_count(session: AsyncSession) -> int:
    return await session.scalar(_PENDING) or 0
