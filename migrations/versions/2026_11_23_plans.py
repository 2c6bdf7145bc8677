"""targets_api: place leaders, plans, targets and approvals

Revision ID: 20261123_plans
Revises: 20261123_progress_queue
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "20261123_plans"
down_revision = "20261123_progress_queue"
branch_labels = None
depends_on = None

PLAN_STATUSES = "'draft', 'proposed', 'agreed', 'superseded'"


def _at(name: str, *, nullable: bool = False) -> sa.Column:
    default = None if nullable else sa.func.now()
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "place_leader",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("place_code", sa.String(9), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("organisation", sa.Text, nullable=False),
        sa.Column("appointed_on", sa.Date, nullable=False),
        sa.Column("ended_on", sa.Date),
        sa.Column("joint_appointment", sa.Boolean, nullable=False),
        _at("created_at"),
        sa.CheckConstraint(
            "ended_on IS NULL OR ended_on >= appointed_on - 1", name="place_leader_term_in_order"
        ),
        sa.UniqueConstraint("place_code", "appointed_on", name="place_leader_one_per_day"),
    )
    # At most one current leader per place: the one whose term has not ended.
    op.create_index(
        "place_leader_current",
        "place_leader",
        ["place_code"],
        unique=True,
        postgresql_where=sa.text("ended_on IS NULL"),
    )

    op.create_table(
        "plan",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("place_code", sa.String(9), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("revises_plan_id", sa.Integer, sa.ForeignKey("plan.id")),
        sa.Column("status", sa.Text, nullable=False, server_default="draft"),
        # Each submit starts a new approval round; approvals count only in the current round.
        sa.Column("approval_round", sa.Integer, nullable=False, server_default="0"),
        sa.Column("rejection_reason", sa.Text),
        _at("created_at"),
        _at("updated_at"),
        _at("submitted_at", nullable=True),
        _at("agreed_at", nullable=True),
        _at("superseded_at", nullable=True),
        sa.CheckConstraint(f"status IN ({PLAN_STATUSES})", name="plan_status_known"),
        sa.CheckConstraint("starts_on <= ends_on", name="plan_period_in_order"),
    )
    op.create_index("plan_place_code", "plan", ["place_code", "id"])
    op.create_index(
        "plan_one_agreed_per_place",
        "plan",
        ["place_code"],
        unique=True,
        postgresql_where=sa.text("status = 'agreed'"),
    )

    op.create_table(
        "plan_target",
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plan.id"), nullable=False),
        sa.Column("metric_code", sa.String(64), nullable=False),
        sa.Column("metric_version", sa.Integer, nullable=False),
        sa.Column("baseline_period", sa.String(9), nullable=False),
        sa.Column("baseline_value", sa.Float, nullable=False),
        sa.Column("target_period", sa.String(9), nullable=False),
        sa.Column("target_value", sa.Float, nullable=False),
        sa.Column("trajectory", JSONB, nullable=False, server_default="[]"),
        sa.Column("tolerance", sa.Float),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("plan_id", "metric_code", name="plan_target_pkey"),
        sa.CheckConstraint(
            "tolerance IS NULL OR tolerance >= 0", name="plan_target_tolerance_nonnegative"
        ),
    )

    op.create_table(
        "plan_approval",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plan.id"), nullable=False),
        sa.Column("approval_round", sa.Integer, nullable=False),
        sa.Column("organisation_code", sa.String(9), nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("signatory", sa.Text, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("api_key.id"), nullable=False),
        _at("decided_at"),
        sa.CheckConstraint("decision IN ('approve', 'reject')", name="plan_approval_decision"),
        sa.UniqueConstraint(
            "plan_id", "approval_round", "organisation_code", name="plan_approval_once_per_round"
        ),
    )


def downgrade() -> None:
    op.drop_table("plan_approval")
    op.drop_table("plan_target")
    op.drop_table("plan")
    op.drop_table("place_leader")
