"""targets_api: leaders nominated and confirmed by both bodies, and places' governance

Revision ID: 20261204_place_arrangements
Revises: 20261203_outbox_ranges
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "20261204_place_arrangements"
down_revision = "20261203_outbox_ranges"
branch_labels = None
depends_on = None

GOVERNANCE_MODELS = (
    "'icb_committee', 'joint_committee', 'committees_in_common', 'lead_provider', "
    "'individual_executive', 'other'"
)


def _at(name: str, *, nullable: bool = False) -> sa.Column:
    default = None if nullable else sa.func.now()
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "leader_nomination",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("place_code", sa.String(9), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("organisation", sa.Text, nullable=False),
        sa.Column("appointed_on", sa.Date, nullable=False),
        sa.Column("joint_appointment", sa.Boolean, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="nominated"),
        sa.Column("nominated_by_key_id", sa.Integer, sa.ForeignKey("api_key.id"), nullable=False),
        # The term the nomination became; a term comes from one nomination at most.
        sa.Column("leader_id", sa.Integer, sa.ForeignKey("place_leader.id"), unique=True),
        _at("created_at"),
        _at("closed_at", nullable=True),
        sa.CheckConstraint(
            "status IN ('nominated', 'confirmed', 'declined')", name="leader_nomination_status"
        ),
        # A confirmed nomination has its term, and only a confirmed one has.
        sa.CheckConstraint(
            "(status = 'confirmed') = (leader_id IS NOT NULL)", name="leader_nomination_term"
        ),
        sa.CheckConstraint(
            "(status = 'nominated') = (closed_at IS NULL)", name="leader_nomination_closed"
        ),
    )
    op.create_index("leader_nomination_place", "leader_nomination", ["place_code", "id"])
    # One open nomination per place: two at once would compete for the same term.
    op.create_index(
        "leader_nomination_one_open",
        "leader_nomination",
        ["place_code"],
        unique=True,
        postgresql_where=sa.text("status = 'nominated'"),
    )

    op.create_table(
        "leader_nomination_decision",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column(
            "nomination_id", sa.Integer, sa.ForeignKey("leader_nomination.id"), nullable=False
        ),
        sa.Column("organisation_code", sa.String(9), nullable=False),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("signatory", sa.Text, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("api_key.id"), nullable=False),
        _at("decided_at"),
        sa.CheckConstraint(
            "decision IN ('confirm', 'decline')", name="leader_nomination_decision_known"
        ),
        sa.UniqueConstraint(
            "nomination_id", "organisation_code", name="leader_nomination_decision_once"
        ),
    )

    op.create_table(
        "place_governance",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("place_code", sa.String(9), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("model_description", sa.Text),
        sa.Column("adopted_on", sa.Date),
        sa.Column("scrutinised_on", sa.Date),
        sa.Column("members", JSONB, nullable=False, server_default="[]"),
        sa.Column("delegated_functions", JSONB, nullable=False, server_default="[]"),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("api_key.id")),
        sa.Column("changed_by", sa.Text, nullable=False),
        _at("created_at"),
        sa.CheckConstraint(f"model IN ({GOVERNANCE_MODELS})", name="place_governance_model"),
        sa.CheckConstraint(
            "model <> 'other' OR model_description IS NOT NULL",
            name="place_governance_other_described",
        ),
        sa.CheckConstraint("version >= 1", name="place_governance_version_positive"),
        sa.UniqueConstraint("place_code", "version", name="place_governance_one_per_version"),
    )


def downgrade() -> None:
    op.drop_table("place_governance")
    op.drop_table("leader_nomination_decision")
    op.drop_table("leader_nomination")
