"""targets_api: the queue of (place, metric) whose progress must be recomputed

Revision ID: 20261123_progress_queue
Revises: 20261123_ingest
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "20261123_progress_queue"
down_revision = "20261123_ingest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per (place, metric): a repeated or duplicated notice merges into it, so the
    # outbox's at-least-once delivery is harmless.
    op.create_table(
        "progress_refresh_queue",
        sa.Column("place_code", sa.String(9), nullable=False),
        sa.Column("metric_code", sa.String(64), nullable=False),
        sa.Column("periods", ARRAY(sa.Text), nullable=False),
        sa.Column("last_submission_id", UUID(as_uuid=True)),
        sa.Column(
            "first_notified_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "last_notified_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("place_code", "metric_code", name="progress_refresh_queue_pkey"),
    )


def downgrade() -> None:
    op.drop_table("progress_refresh_queue")
