"""targets_api: the generation of the materialised progress, bumped by every committed refresh

Revision ID: 20261202_progress_generation
Revises: 20261201_coverage
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "20261202_progress_generation"
down_revision = "20261201_coverage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row. A refresh increments it in its own transaction (it holds the refresh lock, so
    # there is no contention), so a reader that reads the generation before the figures knows
    # which refresh produced them: the reads' ETags and in-process caches are keyed on it.
    op.create_table(
        "progress_generation",
        # Always true: the primary key then admits one row only.
        sa.Column("singleton", sa.Boolean, primary_key=True, server_default=sa.true()),
        sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
        # When the generation was made; null before the first refresh. With the generation it
        # tells a database rebuilt from scratch (generation 0 again) from the one before.
        sa.Column("refreshed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("singleton", name="progress_generation_one_row"),
    )
    op.execute("INSERT INTO progress_generation DEFAULT VALUES")


def downgrade() -> None:
    op.drop_table("progress_generation")
