"""ingest killed with SIGKILL during a 200,000-row CSV upload: once while the body is still
arriving, once while the rows are being written. After a restart the submission is wholly
present or wholly absent (never some of its observations, never a submission row without
them), and the database takes new submissions.

A submission is one transaction that commits before the response is sent
(services/common/db.py), so a process that dies before it commits leaves nothing behind."""

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date

import httpx
import pytest

from tests.support.areas import ENGLAND
from tests.support.clients import bearer
from tests.support.submissions import json_submission, observation
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

ROWS = 200_000
METRICS = 12  # x 153 places x 109 months is just over 200,000 keys
MONTHS = 109
CHUNK_ROWS = 10_000
HEADER = b"place_code,metric_code,period,value,numerator,denominator,note\n"
UPLOAD_TIMEOUT = httpx.Timeout(120.0)
WAIT_S = 30.0

STAGING = "COPY staged FROM STDIN%"
WRITING = "%superseded AS (%"  # store.py's UPDATE ... INSERT of the new versions


def ended_months(count: int) -> list[str]:
    """The ``count`` months before this one, oldest first."""
    last = date.today().year * 12 + date.today().month - 2
    return [f"{m // 12}-{m % 12 + 1:02d}" for m in range(last - count + 1, last + 1)]


def csv_chunks(places: list[str], metrics: list[str]) -> Iterator[bytes]:
    """ROWS valid rows, one per (place, metric, month), made as they are sent."""
    keys = itertools.islice(itertools.product(places, metrics, ended_months(MONTHS)), ROWS)
    rows = (
        f"{place},{metric},{period},{i % 1000 / 10},{i % 1000},1000,\n"
        for i, (place, metric, period) in enumerate(keys)
    )
    yield HEADER
    while chunk := "".join(itertools.islice(rows, CHUNK_ROWS)):
        yield chunk.encode()


def create_metrics(suite) -> list[str]:
    codes = [f"fault-monthly-{i:02d}" for i in range(METRICS)]
    for code in codes:
        response = httpx.post(
            f"{suite.metrics_api.url}/v1/metrics",
            headers=suite.admin,
            timeout=30.0,
            json={
                "code": code,
                "scope": "national",
                "name": f"Fault {code}",
                "domain": "Tests",
                "kind": "proportion",
                "multiplier": 100,
                "unit": "%",
                "direction": "higher_is_better",
                "periodicity": "monthly",
                "decimals": 1,
            },
        )
        assert response.status_code == 201, response.text
    return codes


def active(suite, pattern: str) -> bool:
    """Whether some backend is running a statement like ``pattern`` right now."""
    return (
        suite.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' "
            "AND query LIKE %s AND pid <> pg_backend_pid()",
            pattern,
        )[0][0]
        > 0
    )


def upload(suite, key: dict[str, str], body: Iterator[bytes]) -> httpx.Response | None:
    """POST the CSV; None when ingest died before it answered."""
    try:
        return httpx.post(
            f"{suite.ingest.url}/v1/submissions",
            content=body,
            headers={**key, "Content-Type": "text/csv"},
            timeout=UPLOAD_TIMEOUT,
        )
    except httpx.TransportError:
        return None


def killing_after(suite, body: Iterator[bytes], *, sent_bytes: int) -> Iterator[bytes]:
    """The body, with ingest killed once ``sent_bytes`` have gone and it is COPYing them."""
    sent = 0
    for chunk in body:
        yield chunk
        sent += len(chunk)
        if sent >= sent_bytes and suite.ingest.running:
            eventually(lambda: active(suite, STAGING), bool, what="ingest staging the rows")
            suite.ingest.kill()


def kill_when(suite, condition: Callable[[], bool], done: threading.Event) -> threading.Thread:
    """A watcher that kills ingest as soon as ``condition`` holds, unless ``done`` first."""

    def watch() -> None:
        deadline = time.monotonic() + WAIT_S * 2
        while not done.is_set() and time.monotonic() < deadline:
            if condition():
                suite.ingest.kill()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def submissions(suite) -> list[tuple[int, int, int]]:
    """(accepted, observations stored with it, outbox notices naming it) per submission."""
    return suite.query("""
        SELECT s.accepted,
               (SELECT count(*) FROM observation o WHERE o.submission_id = s.id),
               (SELECT count(*) FROM outbox n WHERE n.payload->>'submission_id' = s.id::text)
        FROM submission s ORDER BY s.received_at""")


def orphans(suite) -> int:
    """Observations whose submission does not exist."""
    return suite.query(
        "SELECT count(*) FROM observation o WHERE NOT EXISTS "
        "(SELECT 1 FROM submission s WHERE s.id = o.submission_id)"
    )[0][0]


@pytest.fixture
async def england_submitter(make_key) -> dict[str, str]:
    return bearer(await make_key("submitter", ENGLAND))


def test_ingest_killed_mid_upload_stores_the_submission_wholly_or_not_at_all(
    start_suite, england_submitter
):
    suite = start_suite(down=("targets_api", "worker"))  # its outbox notices can wait
    key = england_submitter
    metrics = create_metrics(suite)
    places = [
        code for (code,) in suite.query("SELECT code FROM area WHERE level = 'place' ORDER BY code")
    ]
    size = sum(len(chunk) for chunk in csv_chunks(places, metrics))

    # Killed half-way through the body: it cannot have committed.
    assert (
        upload(suite, key, killing_after(suite, csv_chunks(places, metrics), sent_bytes=size // 2))
        is None
    )
    assert not suite.ingest.running
    assert submissions(suite) == [] and orphans(suite) == 0
    suite.ingest.start()

    # Killed once the whole body is in and the rows are being written: all or nothing.
    done = threading.Event()
    watcher = kill_when(suite, lambda: active(suite, WRITING), done)
    response = upload(suite, key, csv_chunks(places, metrics))
    done.set()
    watcher.join()
    stored = submissions(suite)
    assert stored in ([], [(ROWS, ROWS, 1)]), stored
    assert orphans(suite) == 0
    if response is not None:  # answered before the watcher saw the write: it must be whole
        assert response.status_code == 201, response.text
        assert stored == [(ROWS, ROWS, 1)]
    else:
        suite.ingest.start()

    small = suite.submit_json(json_submission(observation()))
    assert small.status_code == 201, small.text
    assert submissions(suite)[-1] == (1, 1, 1)
    assert orphans(suite) == 0
