"""metrics_api: each metric version's reporting_from, the first period for which data is expected

Existing versions get the period (of their own periodicity) containing the day the version was
made, in England's calendar, as API.md's amendment defines the default; the five seeded national
metrics get the seed's own value (services/data/national_metrics.csv), as long as the version is
still of the seed's periodicity.

Revision ID: 20261201_reporting_from
Revises: 20261201_trend
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "20261201_reporting_from"
down_revision = "20261201_trend"
branch_labels = None
depends_on = None

# A copy, not an import: a migration must say the same thing for ever, whatever the seed file
# says later.
SEEDED = {
    "bcf-avoidable-admissions": "2023-Q2",
    "bcf-discharge-usual-residence": "2023-04",
    "bcf-falls-65plus": "2023-Q2",
    "bcf-residential-admissions-65plus": "2023",
    "bcf-reablement-91-days": "2023",
}

# The period containing a day, as services/common/periods.py `containing` computes it.
_CONTAINING = """
    CASE periodicity
        WHEN 'monthly' THEN to_char(day, 'YYYY-MM')
        WHEN 'quarterly' THEN to_char(day, 'YYYY-"Q"Q')
        WHEN 'annual' THEN to_char(day, 'YYYY')
        -- January to March belong to the financial year that started the April before.
        WHEN 'financial_year' THEN 'FY' || to_char(day - interval '3 months', 'YYYY') || '-'
                                   || to_char(day + interval '9 months', 'YY')
    END
"""


def upgrade() -> None:
    op.add_column("metric_version", sa.Column("reporting_from", sa.Text))
    seeded = ", ".join(f"('{code}', '{period}')" for code, period in SEEDED.items())
    op.execute(f"""
        UPDATE metric_version v
        SET reporting_from = coalesce(
            (SELECT s.period FROM metric m, (VALUES {seeded}) AS s(code, period)
             WHERE m.code = v.metric_code AND m.scope = 'national' AND s.code = v.metric_code
               AND public.period_periodicity(s.period) = v.periodicity),
            (SELECT {_CONTAINING}
             FROM (SELECT v.periodicity,
                          (v.created_at AT TIME ZONE 'Europe/London')::date AS day) AS made))
    """)
    op.alter_column("metric_version", "reporting_from", nullable=False)
    # The database keeps the rule too, so no writer can store a period of another form.
    op.create_check_constraint(
        "metric_version_reporting_from_form",
        "metric_version",
        "public.period_periodicity(reporting_from) = periodicity",
    )


def downgrade() -> None:
    op.drop_constraint("metric_version_reporting_from_form", "metric_version")
    op.drop_column("metric_version", "reporting_from")
