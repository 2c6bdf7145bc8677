"""targets_api: webhook subscriptions per area and the outbox of their deliveries

Revision ID: 20261206_webhooks
Revises: 20261206_escalations
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "20261206_webhooks"
down_revision = "20261206_escalations"
branch_labels = None
depends_on = None

# services/common/vocabulary.py WebhookEvent, as it was when this revision was written.
EVENTS = (
    "'escalation.opened', 'escalation.acknowledged', 'escalation.escalated', 'escalation.resolved'"
)


def _time(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else sa.func.now(),
    )


def upgrade() -> None:
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("area_code", sa.String, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", ARRAY(sa.Text), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_by", sa.String, nullable=False),
        _time("created_at", nullable=False),
        sa.CheckConstraint("url ~ '^https?://'", name="webhook_subscription_http_url"),
        sa.CheckConstraint("cardinality(events) > 0", name="webhook_subscription_some_event"),
        sa.CheckConstraint(f"events <@ ARRAY[{EVENTS}]", name="webhook_subscription_events"),
    )
    op.create_index("webhook_subscription_of_area", "webhook_subscription", ["area_code"])
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "subscription_id",
            sa.Integer,
            sa.ForeignKey("webhook_subscription.id"),
            nullable=False,
        ),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        _time("created_at", nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        _time("next_attempt_at", nullable=False),
        _time("last_attempt_at"),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        _time("delivered_at"),
        _time("failed_at"),
        sa.UniqueConstraint("event_id", "subscription_id", name="webhook_delivery_once"),
    )
    op.create_index(
        "webhook_delivery_pending",
        "webhook_delivery",
        ["next_attempt_at"],
        postgresql_where=sa.text("delivered_at IS NULL AND failed_at IS NULL"),
    )
    op.create_index(
        "webhook_delivery_of_subscription", "webhook_delivery", ["subscription_id", "id"]
    )
    # It only adds tables: services built for the two heads before it keep working.
    op.execute(
        "INSERT INTO schema_compatibility (revision, compatible_with) VALUES"
        " ('20261206_webhooks', '20261206_escalations'),"
        " ('20261206_webhooks', '20261205_service_roles')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility WHERE revision = '20261206_webhooks'")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook_subscription")
