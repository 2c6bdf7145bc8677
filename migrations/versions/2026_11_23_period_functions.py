"""period functions: period_periodicity, period_start, period_end and period_index in SQL

The same semantics as services/common/periods.py, for set-based validation of whole submissions.
Plain SQL expressions, not STRICT and with schema-qualified calls, so the planner inlines them
into the calling query; the CASEs guard every cast, so a malformed code gives NULL, never an error.

Revision ID: 20261123_period_functions
Revises: 20261123_foundation
Create Date: 2026-11-23
"""

from alembic import op

revision = "20261123_period_functions"
down_revision = "20261123_foundation"
branch_labels = None
depends_on = None

# [0-9], never \d or [[:digit:]]: those follow the locale and would accept other scripts' digits.
YEAR = "(19[0-9][0-9]|20[0-9][0-9]|2100)"

FUNCTIONS = {
    # The length tells the forms apart cheaply, so a row pays for one regex (two for a quarter).
    "public.period_periodicity(code text)": (
        "text",
        f"""
        SELECT CASE length(code)
            WHEN 7 THEN CASE WHEN code ~ '^{YEAR}-(0[1-9]|1[0-2])$' THEN 'monthly'
                             WHEN code ~ '^{YEAR}-Q[1-4]$' THEN 'quarterly' END
            WHEN 4 THEN CASE WHEN code ~ '^{YEAR}$' THEN 'annual' END
            -- Nested CASEs, not AND: only a CASE promises the casts run after the regex.
            WHEN 9 THEN CASE WHEN code ~ '^FY{YEAR}-[0-9][0-9]$' THEN
                CASE WHEN right(code, 2)::int = (substr(code, 3, 4)::int + 1) % 100
                     THEN 'financial_year' END END
        END
    """,
    ),
    "public.period_start(code text)": (
        "date",
        """
        SELECT CASE public.period_periodicity(code)
            WHEN 'monthly' THEN make_date(left(code, 4)::int, right(code, 2)::int, 1)
            WHEN 'quarterly' THEN make_date(left(code, 4)::int, right(code, 1)::int * 3 - 2, 1)
            WHEN 'annual' THEN make_date(code::int, 1, 1)
            WHEN 'financial_year' THEN make_date(substr(code, 3, 4)::int, 4, 1)
        END
    """,
    ),
    # Inclusive, like Period.end: the day before the next period starts. period_start is NULL
    # unless the code is valid, so the length and the Q alone can tell the length of the period.
    "public.period_end(code text)": (
        "date",
        """
        SELECT (public.period_start(code) + CASE
                    WHEN length(code) <> 7 THEN interval '1 year'
                    WHEN substr(code, 6, 1) = 'Q' THEN interval '3 months'
                    ELSE interval '1 month'
                END)::date - 1
    """,
    ),
    "public.period_index(code text)": (
        "integer",
        """
        SELECT CASE public.period_periodicity(code)
            WHEN 'monthly' THEN left(code, 4)::int * 12 + right(code, 2)::int - 1
            WHEN 'quarterly' THEN left(code, 4)::int * 4 + right(code, 1)::int - 1
            WHEN 'annual' THEN code::int
            WHEN 'financial_year' THEN substr(code, 3, 4)::int
        END
    """,
    ),
}


def upgrade() -> None:
    for signature, (returns, body) in FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {signature} RETURNS {returns} "
            f"LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $${body}$$"
        )


def downgrade() -> None:
    for signature in reversed(FUNCTIONS):
        op.execute(f"DROP FUNCTION {signature}")
