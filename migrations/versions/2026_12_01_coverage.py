"""targets_api: how many places each area value's metric applies to (coverage)

Revision ID: 20261201_coverage
Revises: 20261201_reporting_from
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "20261201_coverage"
down_revision = "20261201_reporting_from"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # coverage = places_reported / places_expected (API.md amendments); null until the next
    # refresh recomputes the row (`joinedup progress refresh` after upgrading).
    op.add_column("area_value", sa.Column("places_expected", sa.Integer))


def downgrade() -> None:
    op.drop_column("area_value", "places_expected")
