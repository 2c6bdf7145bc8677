"""targets_api: escalations up the chain (place -> ICB -> region -> England) and their history

Revision ID: 20261206_escalations
Revises: 20261205_service_roles
Create Date: 2026-12-06

Only expands the schema (two new tables), so services built for 20261205_service_roles keep
working (docs/operations.md, "Rolling upgrades").
"""

import sqlalchemy as sa
from alembic import op

revision = "20261206_escalations"
down_revision = "20261205_service_roles"
branch_labels = None
depends_on = None

# services/common/vocabulary.py, as it was when this revision was written.
STATES = "'open', 'acknowledged', 'resolved', 'escalated'"
REASONS = "'manual', 'off_track', 'data_missing'"
ACTIONS = "'opened', 'acknowledged', 'resolved', 'escalated'"
LEVELS = "'icb', 'region', 'nation'"
NOW = sa.func.now()


def upgrade() -> None:
    op.create_table(
        "escalation",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("place_code", sa.Text, nullable=False),
        # The target (an agreed plan's metric) or the metric it is about; both null for a
        # manual escalation about something else.
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plan.id"), nullable=True),
        sa.Column("metric_code", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("ask", sa.Text, nullable=False),
        sa.Column("addressed_to", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="open"),
        # The escalation this one was escalated from (the same matter, one level down).
        sa.Column("escalated_from_id", sa.Integer, sa.ForeignKey("escalation.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.CheckConstraint(f"state IN ({STATES})", name="escalation_state"),
        sa.CheckConstraint(f"reason IN ({REASONS})", name="escalation_reason"),
        sa.CheckConstraint(f"level IN ({LEVELS})", name="escalation_level"),
        sa.CheckConstraint(
            "reason = 'manual' OR metric_code IS NOT NULL", name="escalation_rule_has_metric"
        ),
        sa.CheckConstraint("plan_id IS NULL OR metric_code IS NOT NULL", name="escalation_target"),
    )
    # One live escalation per (place, metric, reason) raised by a rule: two refreshes evaluating
    # the rules at once insert one row, the other's ON CONFLICT DO NOTHING skips it. A place has
    # one agreed plan at a time, so (place, metric) names the target.
    op.create_index(
        "escalation_one_live_per_cause",
        "escalation",
        ["place_code", "metric_code", "reason"],
        unique=True,
        postgresql_where=sa.text("reason <> 'manual' AND state IN ('open', 'acknowledged')"),
    )
    op.create_index("escalation_by_place", "escalation", ["place_code", "id"])
    op.create_index("escalation_by_addressee", "escalation", ["addressed_to", "state", "id"])
    op.create_table(
        "escalation_step",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("escalation_id", sa.Integer, sa.ForeignKey("escalation.id"), nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("from_area", sa.Text, nullable=True),
        sa.Column("to_area", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("actor_key_id", sa.Integer, sa.ForeignKey("api_key.id"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.CheckConstraint(f"step IN ({ACTIONS})", name="escalation_step_step"),
    )
    op.create_index("escalation_step_by_escalation", "escalation_step", ["escalation_id", "id"])
    op.execute(
        "INSERT INTO schema_compatibility (revision, compatible_with)"
        " VALUES ('20261206_escalations', '20261205_service_roles')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM schema_compatibility WHERE revision = '20261206_escalations'")
    op.drop_table("escalation_step")
    op.drop_table("escalation")
