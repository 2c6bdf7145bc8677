"""targets_api: the recent-trend marker of each target's series

Revision ID: 20261201_trend
Revises: 20261201_refresh_isolation
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "20261201_trend"
down_revision = "20261201_refresh_isolation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Fingertips' recent-trend marker (API.md amendments): null for kinds it does not apply to.
    op.add_column("target_progress", sa.Column("trend", sa.Text))


def downgrade() -> None:
    op.drop_column("target_progress", "trend")
