"""ingest: submissions, versioned observations and the outbox to targets_api; a service role

Revision ID: 20261123_ingest
Revises: 20261123_period_functions
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = "20261123_ingest"
down_revision = "20261123_period_functions"
branch_labels = None
depends_on = None

OLD_ROLES = "'admin', 'steward', 'submitter', 'signatory', 'assessor', 'viewer'"


def upgrade() -> None:
    # Services call each other with keys of their own role, never with a person's key.
    op.drop_constraint("api_key_role_known", "api_key")
    op.create_check_constraint("api_key_role_known", "api_key", f"role IN ({OLD_ROLES}, 'service')")

    op.create_table(
        "submission",
        sa.Column(
            "id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")
        ),
        sa.Column("key_id", sa.Integer, sa.ForeignKey("api_key.id"), nullable=False),
        sa.Column("format", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("place_codes", ARRAY(sa.Text), nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("superseded", sa.Integer, nullable=False),
        sa.Column("unchanged", sa.Integer, nullable=False),
        sa.Column("error_count", sa.Integer, nullable=False),
        sa.Column("errors", JSONB, nullable=False),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("request_sha256", sa.String(64)),
        sa.CheckConstraint("format IN ('json', 'csv')", name="submission_format_known"),
        sa.CheckConstraint("mode IN ('atomic', 'partial')", name="submission_mode_known"),
        sa.CheckConstraint(
            "status IN ('accepted', 'partially_accepted')", name="submission_status_known"
        ),
        sa.UniqueConstraint("key_id", "idempotency_key", name="submission_idempotency_key"),
    )
    op.create_index("submission_place_codes", "submission", ["place_codes"], postgresql_using="gin")
    op.create_index("submission_received_at", "submission", ["received_at"])

    # Every version of every value. place_code leads the key so the table can be sharded by
    # place; the partial unique index makes the current version of each value a cheap lookup.
    # No foreign keys to area/metric: ingest validates against metrics_api, and per-row FK
    # checks would double the cost of a bulk load.
    op.create_table(
        "observation",
        sa.Column("place_code", sa.String(9), nullable=False),
        sa.Column("metric_code", sa.String(64), nullable=False),
        sa.Column("period", sa.String(9), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("numerator", sa.Float),
        sa.Column("denominator", sa.Float),
        sa.Column("note", sa.Text),
        sa.Column("metric_version", sa.Integer, nullable=False),
        sa.Column("submission_id", UUID(as_uuid=True), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("superseded_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint(
            "place_code", "metric_code", "period", "version", name="observation_pkey"
        ),
    )
    op.create_index(
        "observation_current",
        "observation",
        ["place_code", "metric_code", "period"],
        unique=True,
        postgresql_where=sa.text("superseded_at IS NULL"),
    )
    op.create_index("observation_submission", "observation", ["submission_id"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "outbox_pending",
        "outbox",
        ["next_attempt_at"],
        postgresql_where=sa.text("delivered_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("observation")
    op.drop_table("submission")
    # Service keys cannot simply vanish (the audit log cites them): revoke and demote them.
    op.execute(
        "UPDATE api_key SET role = 'viewer', revoked_at = coalesce(revoked_at, now()) "
        "WHERE role = 'service'"
    )
    op.drop_constraint("api_key_role_known", "api_key")
    op.create_check_constraint("api_key_role_known", "api_key", f"role IN ({OLD_ROLES})")
