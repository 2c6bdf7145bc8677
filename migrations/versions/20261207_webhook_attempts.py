"""targets_api: every attempt of a webhook delivery (the delivery keeps only its latest)

Revision ID: 20261207_webhook_attempts
Revises: 20261206_webhooks
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "20261207_webhook_attempts"
down_revision = "20261206_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_delivery_attempt",
        sa.Column(
            "delivery_id",
            sa.BigInteger,
            sa.ForeignKey("webhook_delivery.id"),
            primary_key=True,
        ),
        # The delivery's ``attempts`` after this one: 1, 2, ... (the primary key's order is the
        # API's, so a delivery's history is read from the index alone).
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.CheckConstraint("attempt > 0", name="webhook_delivery_attempt_counted"),
        sa.CheckConstraint("duration_ms >= 0", name="webhook_delivery_attempt_duration"),
    )
    # It only adds a table: services built for the heads before it keep working (they record
    # no history, which is all they miss).
    op.execute(
        "INSERT INTO schema_compatibility (revision, compatible_with) VALUES"
        " ('20261207_webhook_attempts', '20261206_webhooks'),"
        " ('20261207_webhook_attempts', '20261206_escalations'),"
        " ('20261207_webhook_attempts', '20261205_service_roles')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility WHERE revision = '20261207_webhook_attempts'")
    op.drop_table("webhook_delivery_attempt")
