"""targets_api: queued change notices name a range of periods, not every period

Revision ID: 20261203_outbox_ranges
Revises: 20261202_progress_generation
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "20261203_outbox_ranges"
down_revision = "20261202_progress_generation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The first and last changed period of a place and metric, compared as codes (COLLATE "C",
    # which within one periodicity is time order): a first load of ten years is two codes per
    # place and metric instead of 120. Both NULL when only the place's targets changed.
    op.add_column("progress_refresh_queue", sa.Column("period_from", sa.String(9)))
    op.add_column("progress_refresh_queue", sa.Column("period_to", sa.String(9)))
    op.execute("""
        UPDATE progress_refresh_queue
        SET period_from = (SELECT min(p COLLATE "C") FROM unnest(periods) AS p),
            period_to = (SELECT max(p COLLATE "C") FROM unnest(periods) AS p)
    """)
    op.drop_column("progress_refresh_queue", "periods")
    op.create_check_constraint(
        "progress_refresh_queue_range",
        "progress_refresh_queue",
        "(period_from IS NULL) = (period_to IS NULL)",
    )


def downgrade() -> None:
    # The periods a range stands for are those of the place's current observations within it:
    # the same pairs the range's refresh would recompute.
    op.add_column("progress_refresh_queue", sa.Column("periods", ARRAY(sa.Text)))
    op.execute("""
        UPDATE progress_refresh_queue q
        SET periods = ARRAY(
            SELECT o.period FROM observation o
            WHERE o.place_code = q.place_code AND o.metric_code = q.metric_code
              AND o.superseded_at IS NULL
              AND o.period COLLATE "C" BETWEEN q.period_from AND q.period_to
            ORDER BY o.period COLLATE "C")
    """)
    op.alter_column("progress_refresh_queue", "periods", nullable=False)
    op.drop_constraint("progress_refresh_queue_range", "progress_refresh_queue")
    op.drop_column("progress_refresh_queue", "period_to")
    op.drop_column("progress_refresh_queue", "period_from")
