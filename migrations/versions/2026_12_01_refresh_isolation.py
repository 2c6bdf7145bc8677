"""targets_api: an append-only refresh queue, and what the refresh set aside

Revision ID: 20261201_refresh_isolation
Revises: 20261128_progress
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "20261201_refresh_isolation"
down_revision = "20261128_progress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per notice instead of one per (place, metric): a notice (or a plan agreement) is
    # a plain INSERT that never waits on the rows a running refresh has drained, so neither
    # ingest's deliveries nor the plan workflow ever wait for a refresh. Duplicates merge when
    # the refresher drains the queue.
    op.drop_constraint("progress_refresh_queue_pkey", "progress_refresh_queue")
    op.add_column(
        "progress_refresh_queue", sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False)
    )
    op.create_primary_key("progress_refresh_queue_pkey", "progress_refresh_queue", ["id"])
    op.alter_column("progress_refresh_queue", "last_submission_id", new_column_name="submission_id")
    op.alter_column("progress_refresh_queue", "first_notified_at", new_column_name="notified_at")
    op.drop_column("progress_refresh_queue", "last_notified_at")

    # A (metric, period) or a target whose computation failed on its data: the rest of the
    # refresh went ahead without it, its previous figures stay, and it is tried again when its
    # inputs change.
    op.create_table(
        "progress_set_aside",
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("metric_code", sa.String(64), nullable=False),
        # An area value has a period and no plan (0); a target has a plan and place, no period
        # (''): sentinels rather than NULLs, so that one primary key holds both kinds.
        sa.Column("period", sa.String(9), nullable=False, server_default=""),
        sa.Column("plan_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("place_code", sa.String(9)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False, server_default="1"),
        sa.Column(
            "first_failed_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "last_failed_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "kind", "metric_code", "period", "plan_id", name="progress_set_aside_pkey"
        ),
        sa.CheckConstraint("kind IN ('area_value', 'target')", name="progress_set_aside_kind"),
    )


def downgrade() -> None:
    op.drop_table("progress_set_aside")
    # Back to one row per (place, metric), merging the notices queued meanwhile.
    op.execute("""
        CREATE TEMPORARY TABLE merged ON COMMIT DROP AS
        SELECT place_code, metric_code,
               coalesce(array_agg(DISTINCT p ORDER BY p) FILTER (WHERE p IS NOT NULL),
                        CAST(ARRAY[] AS text[])) AS periods,
               (array_agg(submission_id ORDER BY id DESC))[1] AS submission_id,
               min(notified_at) AS first_notified_at, max(notified_at) AS last_notified_at
        FROM progress_refresh_queue q LEFT JOIN LATERAL unnest(q.periods) AS p ON true
        GROUP BY place_code, metric_code
    """)
    op.execute("DELETE FROM progress_refresh_queue")
    op.drop_constraint("progress_refresh_queue_pkey", "progress_refresh_queue")
    op.drop_column("progress_refresh_queue", "id")
    op.alter_column("progress_refresh_queue", "notified_at", new_column_name="first_notified_at")
    op.alter_column("progress_refresh_queue", "submission_id", new_column_name="last_submission_id")
    op.add_column(
        "progress_refresh_queue",
        sa.Column(
            "last_notified_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
    )
    op.create_primary_key(
        "progress_refresh_queue_pkey", "progress_refresh_queue", ["place_code", "metric_code"]
    )
    op.execute("""
        INSERT INTO progress_refresh_queue (place_code, metric_code, periods, last_submission_id,
                                            first_notified_at, last_notified_at)
        SELECT * FROM merged
    """)
