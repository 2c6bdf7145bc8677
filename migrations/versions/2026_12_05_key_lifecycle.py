"""kernel: when each API key was last used and when it expires

Revision ID: 20261205_key_lifecycle
Revises: 20261204_place_arrangements
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "20261205_key_lifecycle"
down_revision = "20261204_place_arrangements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Both NULL for the keys there are: never used since it was recorded, and never expiring.
    # last_used_at is written at most once a minute per key (services/common/auth.py).
    op.add_column("api_key", sa.Column("last_used_at", sa.DateTime(timezone=True)))
    op.add_column("api_key", sa.Column("expires_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("api_key", "expires_at")
    op.drop_column("api_key", "last_used_at")
