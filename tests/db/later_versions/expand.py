"""test: an expand step after this build's head, declaring that the build keeps working

Revision ID: 29991231_test_expand

A nullable column the build does not know: its reads list their columns and its inserts leave
the column to its default, so the build's services stay correct on this schema.
"""

import sqlalchemy as sa
from alembic import op

from services.common.schema_version import head_revision

revision = "29991231_test_expand"
down_revision = head_revision()  # whatever this build's head is
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("area", sa.Column("nickname", sa.Text, nullable=True))
    op.execute(
        sa.text(
            "INSERT INTO schema_compatibility (revision, compatible_with) VALUES (:r, :w)"
        ).bindparams(r=revision, w=down_revision)
    )


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM schema_compatibility WHERE revision = :r").bindparams(r=revision)
    )
    op.drop_column("area", "nickname")
