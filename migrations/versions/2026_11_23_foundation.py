"""foundation: API keys, the append-only audit log, areas and the versioned metric catalogue

Revision ID: 20261123_foundation
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "20261123_foundation"
down_revision = None
branch_labels = None
depends_on = None

ROLES = ("admin", "steward", "submitter", "signatory", "assessor", "viewer")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("public_id", sa.String(16), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("scopes", ARRAY(sa.Text), nullable=False, server_default="{}"),
        _created_at(),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(_in("role", ROLES), name="api_key_role_known"),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "occurred_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("actor_key_id", sa.Integer, sa.ForeignKey("api_key.id")),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("entity_type", sa.Text, nullable=False),
        sa.Column("entity_id", sa.Text, nullable=False),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
        sa.Column("request_id", sa.Text),
    )
    op.create_index("audit_log_entity", "audit_log", ["entity_type", "entity_id", "id"])
    # The log is evidence: the database itself refuses to change or remove an entry.
    op.execute("""
        CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
    """)
    op.execute("""
        CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only()
    """)
    op.execute("""
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()
    """)

    op.create_table(
        "area",
        sa.Column("code", sa.String(9), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("parent_code", sa.String(9), sa.ForeignKey("area.code")),
        sa.Column("population", sa.Integer),
        sa.Column("population_year", sa.Integer),
        _created_at(),
        sa.CheckConstraint(
            _in("level", ("nation", "region", "icb", "place")), name="area_level_known"
        ),
        sa.CheckConstraint(
            "(level = 'nation') = (parent_code IS NULL)", name="area_only_nation_has_no_parent"
        ),
        sa.CheckConstraint("population IS NULL OR population >= 0", name="area_population_sane"),
    )
    op.create_index("area_parent_code", "area", ["parent_code"])

    op.create_table(
        "metric",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("owner_area_code", sa.String(9), sa.ForeignKey("area.code"), nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="active"),
        sa.Column("current_version", sa.Integer, nullable=False, server_default="1"),
        _created_at(),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9-]{1,63}$'", name="metric_code_pattern"),
        sa.CheckConstraint(_in("scope", ("national", "local")), name="metric_scope_known"),
        sa.CheckConstraint(_in("status", ("active", "retired")), name="metric_status_known"),
    )
    op.create_index("metric_owner_area_code", "metric", ["owner_area_code"])

    op.create_table(
        "metric_version",
        sa.Column("metric_code", sa.String(64), sa.ForeignKey("metric.code"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("domain", sa.Text, nullable=False),
        sa.Column("mandatory", sa.Boolean, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("multiplier", sa.Float),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("periodicity", sa.Text, nullable=False),
        sa.Column("aggregation", sa.Text, nullable=False),
        sa.Column("valid_min", sa.Float),
        sa.Column("valid_max", sa.Float),
        sa.Column("decimals", sa.Integer, nullable=False),
        sa.Column("submission_deadline_days", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        _created_at(),
        sa.Column("created_by_key_id", sa.Integer, sa.ForeignKey("api_key.id")),
        sa.CheckConstraint(
            _in("kind", ("count", "proportion", "rate", "value")), name="metric_version_kind_known"
        ),
        sa.CheckConstraint(
            _in("direction", ("higher_is_better", "lower_is_better", "neutral")),
            name="metric_version_direction_known",
        ),
        sa.CheckConstraint(
            _in("periodicity", ("monthly", "quarterly", "annual", "financial_year")),
            name="metric_version_periodicity_known",
        ),
        sa.CheckConstraint(
            _in("aggregation", ("sum", "ratio_of_sums", "population_weighted_mean")),
            name="metric_version_aggregation_known",
        ),
        sa.CheckConstraint(
            "valid_min IS NULL OR valid_max IS NULL OR valid_min <= valid_max",
            name="metric_version_valid_range",
        ),
        sa.CheckConstraint(
            "kind NOT IN ('proportion', 'rate') OR multiplier > 0",
            name="metric_version_ratio_has_multiplier",
        ),
        sa.CheckConstraint("decimals BETWEEN 0 AND 6", name="metric_version_decimals_range"),
        sa.CheckConstraint(
            "submission_deadline_days >= 0", name="metric_version_deadline_nonnegative"
        ),
    )


def downgrade() -> None:
    op.drop_table("metric_version")
    op.drop_table("metric")
    op.drop_table("area")
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION audit_log_is_append_only()")
    op.drop_table("api_key")
