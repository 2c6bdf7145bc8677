"""The services behind PgBouncer in transaction pooling mode (Debian's pgbouncer): every
transaction may run on another server connection, so nothing may outlive one (no server-side
prepared statements, no session advisory locks, no session settings, temporary tables dropped at
commit). Submissions in both formats, the worker's refreshes and an admin's refresh all go
through it, and give the figures they give straight to the server."""

from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.common.config import CommonSettings
from services.common.db import create_engine, libpq_url
from tests.support.areas import BRADFORD, LEEDS
from tests.support.database import database_url_for
from tests.support.server_programs import PgBouncer
from tests.support.submissions import DISCHARGE, csv_body, json_submission, observation

pytestmark = pytest.mark.e2e

# More submissions than psycopg's prepare_threshold (5): with server-side prepares on, a
# statement prepared on one server connection would be run on another.
MONTHS = [f"2025-{month:02d}" for month in range(1, 10)]
PREPARE_THRESHOLD = 5  # psycopg's default: a query run more often than this is prepared


def _pooler(pg_server_url: str, **options: int) -> PgBouncer:
    server = conninfo_to_dict(libpq_url(pg_server_url))
    return PgBouncer(str(server.get("host", "127.0.0.1")), int(server.get("port", 5432)), **options)


@pytest.fixture
def pgbouncer(pg_server_url: str) -> Iterator[PgBouncer]:
    with _pooler(pg_server_url) as pooler:
        yield pooler


@pytest.fixture(scope="module")
def one_server_connection(pg_server_url: str) -> Iterator[PgBouncer]:
    """A pooler whose clients take turns on a single server connection: what a busy pool
    does to some of them sooner or later, here on the first transaction."""
    with _pooler(pg_server_url, pool_size=1) as pooler:
        yield pooler


@pytest.fixture
def database_url(database_url: str, pgbouncer: PgBouncer) -> str:
    """The test's database, reached through the pooler by everything: services and fixtures."""
    name = make_url(database_url).database
    assert name is not None
    return database_url_for(pgbouncer.url("postgres"), name)


@pytest.fixture
def behind_pooler(monkeypatch: pytest.MonkeyPatch) -> None:
    # Read by every service process started after this (tests/support/services.py).
    monkeypatch.setenv("JOINEDUP_DB_SERVER_SIDE_PREPARES", "false")


async def _prepares_its_query_alongside_another_client(url: str, *, prepares: bool) -> None:
    """Two clients, one after the other, each running its own query in transactions of its
    own until psycopg would prepare it (its 6th run, prepare_threshold 5). Each client names
    its first prepared statement ``_pg3_0``: on one server connection the second one collides
    with the first's, which PgBouncer 1.18 in transaction mode does not keep apart."""
    settings = CommonSettings(database_url=url, db_server_side_prepares=prepares)
    for query in ("SELECT 1 AS first_client", "SELECT 2 AS second_client"):
        engine = create_engine(url, settings)
        try:
            async with engine.connect() as conn:
                for _ in range(PREPARE_THRESHOLD + 1):
                    await conn.execute(text(query))
                    await conn.commit()
        finally:
            await engine.dispose()


async def test_server_side_prepares_break_behind_pgbouncer_and_the_setting_turns_them_off(
    one_server_connection,
):
    url = one_server_connection.url("postgres")
    with pytest.raises(DBAPIError) as refused:
        await _prepares_its_query_alongside_another_client(url, prepares=True)
    assert isinstance(refused.value.orig, psycopg.errors.DuplicatePreparedStatement)
    # JOINEDUP_DB_SERVER_SIDE_PREPARES=false: psycopg prepares nothing, and nothing collides.
    await _prepares_its_query_alongside_another_client(url, prepares=False)


def _transactions(pooler: PgBouncer, database: str) -> int:
    # The console speaks the simple query protocol only: a client-side binding cursor.
    with psycopg.connect(
        pooler.url("pgbouncer"), autocommit=True, cursor_factory=psycopg.ClientCursor
    ) as conn:
        cursor = conn.execute("SHOW STATS")
        names = [column.name for column in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return sum(int(row["total_xact_count"]) for row in rows if row["database"] == database)


def test_submissions_and_refreshes_through_pgbouncer_give_the_direct_figures(
    behind_pooler, pgbouncer, database_url, start_suite, query
):
    suite = start_suite()
    by_json = [suite.submit_json(json_submission(observation(period=month))) for month in MONTHS]
    by_csv = suite.submit_csv(
        csv_body(
            f"{LEEDS},{DISCHARGE},2025-10,,450,500,", f"{BRADFORD},{DISCHARGE},2025-07,,500,1000,"
        )
    )
    assert [r.status_code for r in by_json] == [201] * len(MONTHS), by_json[-1].text
    assert by_csv.status_code == 201, by_csv.text

    # 912 / 1003 x 100 for each of Leeds's months by JSON, 450 / 500 and 500 / 1000 by CSV.
    expected = {(LEEDS, DISCHARGE, month): 90.927 for month in MONTHS} | {
        (LEEDS, DISCHARGE, "2025-10"): 90.0,
        (BRADFORD, DISCHARGE, "2025-07"): 50.0,
    }
    assert len(suite.wait_until_delivered()) == len(MONTHS) + 1
    suite.wait_for_place_values(expected)

    # An admin's full refresh through the pooler recomputes the same figures.
    refreshed = httpx.post(
        f"{suite.targets_api.url}/v1/progress/refresh", headers=suite.admin, timeout=60
    )
    assert refreshed.status_code == 200, refreshed.text
    assert {k: round(v, 3) for k, v in suite.place_values().items()} == expected
    # The ICB's July: (500 + 912) / (1000 + 1003) x 100
    assert query(
        "SELECT round(value::numeric, 3)::float8, places_reported FROM area_value "
        "WHERE area_code = 'E54000054' AND period = '2025-07'"
    ) == [(70.494, 2)]
    assert query("SELECT count(*) FROM observation") == [(len(MONTHS) + 2,)]

    # It all went through the pooler.
    assert _transactions(pgbouncer, make_url(database_url).database or "") > 0
