"""targets_api: materialised progress (area values with roll-ups and ranks; progress per target)

Revision ID: 20261128_progress
Revises: 20261123_plans
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "20261128_progress"
down_revision = "20261123_plans"
branch_labels = None
depends_on = None


def _computed_at() -> sa.Column:
    return sa.Column(
        "computed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    # One row per metric, period and area at every level: a place's own value, and the roll-up
    # of its ICB, region and England by the metric's aggregation. Intervals, comparison with
    # England, rank and quintile are stored with it, so league tables and performance are reads.
    op.create_table(
        "area_value",
        sa.Column("metric_code", sa.String(64), nullable=False),
        sa.Column("period", sa.String(9), nullable=False),
        sa.Column("area_code", sa.String(9), nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("numerator", sa.Float),
        sa.Column("denominator", sa.Float),
        sa.Column("places_reported", sa.Integer, nullable=False),
        sa.Column("ci_lower", sa.Float),
        sa.Column("ci_upper", sa.Float),
        sa.Column("comparison", sa.Text, nullable=False),
        sa.Column("rank", sa.Integer),
        sa.Column("rank_of", sa.Integer),
        sa.Column("quintile", sa.Integer),
        _computed_at(),
        sa.PrimaryKeyConstraint("metric_code", "period", "area_code", name="area_value_pkey"),
        sa.CheckConstraint(
            "level IN ('place', 'icb', 'region', 'nation')", name="area_value_level_known"
        ),
    )
    op.create_index("area_value_area", "area_value", ["area_code", "metric_code", "period"])

    # Progress of each target of each agreed plan, as the place progress endpoint returns it.
    op.create_table(
        "target_progress",
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plan.id"), nullable=False),
        sa.Column("metric_code", sa.String(64), nullable=False),
        sa.Column("place_code", sa.String(9), nullable=False),
        sa.Column("latest_period", sa.String(9)),
        sa.Column("latest_value", sa.Float),
        sa.Column("baseline_period", sa.String(9), nullable=False),
        sa.Column("baseline_value", sa.Float, nullable=False),
        sa.Column("target_period", sa.String(9), nullable=False),
        sa.Column("target_value", sa.Float, nullable=False),
        sa.Column("expected_value", sa.Float),
        sa.Column("progress_pct", sa.Float),
        sa.Column("status", sa.Text, nullable=False),
        # How many of the latest reported periods in a row were off track (alerts use it).
        sa.Column("consecutive_off_track", sa.Integer, nullable=False),
        sa.Column("variation", sa.Text),
        sa.Column("assurance", sa.Text),
        sa.Column("forecast_value", sa.Float),
        sa.Column("national_value", sa.Float),
        sa.Column("comparison", sa.Text, nullable=False),
        sa.Column("rank", sa.Integer),
        sa.Column("rank_of", sa.Integer),
        _computed_at(),
        sa.PrimaryKeyConstraint("plan_id", "metric_code", name="target_progress_pkey"),
    )
    op.create_index("target_progress_place", "target_progress", ["place_code"])
    op.create_index("target_progress_metric", "target_progress", ["metric_code"])


def downgrade() -> None:
    op.drop_table("target_progress")
    op.drop_table("area_value")
