"""Rolling upgrades: a revision may declare that services built for an earlier head keep working

Revision ID: 20261205_service_roles
Revises: 20261204_place_arrangements
Create Date: 2026-12-05

A row (revision, compatible_with) says that a schema at ``revision`` still serves a service
built for the head ``compatible_with``: its /readyz stays ready (services/common/schema_version.py).
A migration that only expands the schema (docs/operations.md, "Rolling upgrades") inserts one
such row for each earlier head it keeps working; one that contracts inserts none. The services'
login roles and their rights are applied after every migration (migrations/env.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "20261205_service_roles"
down_revision = "20261205_plan_resources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schema_compatibility",
        sa.Column("revision", sa.Text, primary_key=True),
        sa.Column("compatible_with", sa.Text, primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("schema_compatibility")
