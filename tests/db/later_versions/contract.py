"""test: a contract step after the expand one, which declares nothing compatible

Revision ID: 29991231_test_contract
"""

import sqlalchemy as sa
from alembic import op

revision = "29991231_test_contract"
down_revision = "29991231_test_expand"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_column("area", "nickname")


def downgrade() -> None:
    op.add_column("area", sa.Column("nickname", sa.Text, nullable=True))
