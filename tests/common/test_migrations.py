import psycopg
import pytest

from services.common import schema_version
from services.common.db import libpq_url


def _tables(url: str) -> set[str]:
    with psycopg.connect(libpq_url(url)) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {name for (name,) in rows}


def test_every_migration_is_reversible(empty_database_url):
    schema_version.upgrade(empty_database_url)
    at_head = _tables(empty_database_url)
    assert {"area", "metric", "metric_version", "api_key", "audit_log"} <= at_head

    schema_version.downgrade(empty_database_url, "base")
    assert _tables(empty_database_url) <= {"alembic_version"}

    schema_version.upgrade(empty_database_url)
    assert _tables(empty_database_url) == at_head


def _run(url: str, statement: str, *params: object) -> list[tuple]:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


_VERSION = """
    INSERT INTO metric_version (metric_code, version, name, description, domain, mandatory, kind,
        unit, direction, periodicity, aggregation, decimals, submission_deadline_days, source,
        created_at)
    VALUES (%s, %s, 'n', '', 'd', false, 'count', '', 'neutral', %s, 'sum', 0, 45, '', %s)
"""


def test_reporting_from_is_given_to_existing_versions_and_taken_away_again(empty_database_url):
    url = empty_database_url
    schema_version.upgrade(url, "20261201_trend")
    _run(url, "INSERT INTO area (code, name, level) VALUES ('E92000001', 'England', 'nation')")
    for code, scope in [
        ("bcf-falls-65plus", "national"),
        ("national-other", "national"),
        ("local-made", "local"),
    ]:
        _run(
            url,
            "INSERT INTO metric (code, scope, owner_area_code) VALUES (%s, %s, 'E92000001')",
            code,
            scope,
        )
    # 23:30 UTC on 31 March 2024 is 00:30 on 1 April in England (British Summer Time): April,
    # the second quarter and the financial year 2024-25 there, though still March in UTC.
    spring = "2024-03-31 23:30+00"
    for code, version, periodicity, created_at in [
        ("bcf-falls-65plus", 1, "quarterly", "2026-11-30 10:00+00"),  # the seed's own
        ("bcf-falls-65plus", 2, "monthly", spring),  # no longer of the seed's form
        ("national-other", 1, "annual", "2025-12-31 23:30+00"),  # GMT: still 2025
        ("local-made", 1, "monthly", spring),
        ("local-made", 2, "quarterly", spring),
        ("local-made", 3, "financial_year", spring),
    ]:
        _run(url, _VERSION, code, version, periodicity, created_at)

    schema_version.upgrade(url)
    assert _run(
        url,
        "SELECT metric_code, version, reporting_from FROM metric_version "
        "ORDER BY metric_code, version",
    ) == [
        ("bcf-falls-65plus", 1, "2023-Q2"),
        ("bcf-falls-65plus", 2, "2024-04"),
        ("local-made", 1, "2024-04"),
        ("local-made", 2, "2024-Q2"),
        ("local-made", 3, "FY2024-25"),
        ("national-other", 1, "2025"),
    ]
    with pytest.raises(psycopg.errors.CheckViolation):  # a code of another form is refused
        _run(
            url,
            "UPDATE metric_version SET reporting_from = '2024-Q2' "
            "WHERE metric_code = 'local-made' AND version = 1",
        )

    schema_version.downgrade(url, "20261201_trend")
    assert _run(
        url,
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_name = 'metric_version' AND column_name = 'reporting_from'",
    ) == [(0,)]
    assert _run(url, "SELECT count(*) FROM metric_version") == [(6,)]


def test_queued_notices_keep_what_they_name_across_the_move_to_ranges(empty_database_url):
    url = empty_database_url
    schema_version.upgrade(url, "20261202_progress_generation")
    submission = "00000000-0000-0000-0000-000000000001"
    for place, period, version, current in [
        ("E08000035", "2025-07", 1, True),
        ("E08000035", "2025-08", 1, False),  # corrected: version 2 is current
        ("E08000035", "2025-08", 2, True),
        ("E08000035", "2025-09", 1, True),  # after the range
        ("E08000032", "2025-08", 1, True),  # another place
    ]:
        _run(
            url,
            "INSERT INTO observation (place_code, metric_code, period, version, value, "
            "metric_version, submission_id, superseded_at) "
            "VALUES (%s, 'm', %s, %s, 1, 1, %s, CASE WHEN %s THEN NULL ELSE now() END)",
            place,
            period,
            version,
            submission,
            current,
        )
    queue = "INSERT INTO progress_refresh_queue (place_code, metric_code, periods) VALUES "
    _run(url, queue + "('E08000035', 'm', '{2025-08,2025-07}'), ('E08000035', 'm', '{}')")

    schema_version.upgrade(url)
    ranges = "SELECT period_from, period_to FROM progress_refresh_queue ORDER BY id"
    assert _run(url, ranges) == [("2025-07", "2025-08"), (None, None)]
    with pytest.raises(psycopg.errors.CheckViolation):  # a range has both ends or neither
        _run(url, "UPDATE progress_refresh_queue SET period_to = NULL")

    schema_version.downgrade(url, "20261202_progress_generation")
    assert _run(url, "SELECT periods FROM progress_refresh_queue ORDER BY id") == [
        (["2025-07", "2025-08"],),
        ([],),
    ]
