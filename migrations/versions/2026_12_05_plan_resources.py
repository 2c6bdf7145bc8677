"""targets_api: the resources behind a plan (partners' contributions, planned spend by scheme)

Revision ID: 20261205_plan_resources
Revises: 20261204_place_arrangements
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "20261205_plan_resources"
down_revision = "20261205_key_lifecycle"
branch_labels = None
depends_on = None

# services/common/vocabulary.py Scheme, as it was when this revision was written.
SCHEMES = (
    "'home_care', 'reablement', 'carers', 'assistive_technology', "
    "'disabled_facilities_grants', 'residential_placements', 'intermediate_care', 'other'"
)
# FY2025-26: the financial year's form in services/common/periods.py.
FINANCIAL_YEAR = "financial_year ~ '^FY[0-9]{4}-[0-9]{2}$'"


def _rows(name: str, *columns: sa.Column, checks: list[sa.Constraint]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("plan_id", sa.Integer, sa.ForeignKey("plan.id"), nullable=False),
        sa.Column("financial_year", sa.String(9), nullable=False),
        *columns,
        sa.Column("amount_gbp", sa.Numeric(14, 2), nullable=False),
        sa.CheckConstraint(FINANCIAL_YEAR, name=f"{name}_financial_year"),
        sa.CheckConstraint("amount_gbp >= 0", name=f"{name}_amount_not_negative"),
        *checks,
    )


def upgrade() -> None:
    _rows(
        "plan_contribution",
        sa.Column("organisation", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        checks=[
            sa.CheckConstraint("kind IN ('pooled', 'aligned')", name="plan_contribution_kind"),
            sa.UniqueConstraint(
                "plan_id", "financial_year", "organisation", "kind", name="plan_contribution_once"
            ),
        ],
    )
    _rows(
        "plan_spend",
        sa.Column("scheme", sa.Text, nullable=False),
        checks=[
            sa.CheckConstraint(f"scheme IN ({SCHEMES})", name="plan_spend_scheme"),
            sa.UniqueConstraint("plan_id", "financial_year", "scheme", name="plan_spend_once"),
        ],
    )


def downgrade() -> None:
    op.drop_table("plan_spend")
    op.drop_table("plan_contribution")
