"""ingest's database pool runs dry: a request waiting for a connection gives up after
``JOINEDUP_DB_POOL_TIMEOUT_S`` with a 503 and ``Retry-After``, never a hang or a 500, and the
service serves normally once the connection is free again."""

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from services.common.db import libpq_url
from tests.support.submissions import json_submission, observation
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

POOL_TIMEOUT_S = 1.0
PROMPTLY_S = POOL_TIMEOUT_S + 1.5  # a hang would be the 30 s client timeout
HELD_KEY = "held-by-the-test"


def idempotency_lock(key_id: int, key: str) -> str:
    """The advisory lock ingest takes for (API key, Idempotency-Key); see
    services/ingest/submissions/service.py."""
    return f"SELECT pg_advisory_lock(hashtextextended('idempotency:{key_id}:{key}', 0))"


def timed(send) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def test_requests_beyond_the_pool_get_a_prompt_503_with_retry_after(start_suite, database_url):
    suite = start_suite(
        down=("targets_api", "worker"), db_pool_size=1, db_pool_timeout_s=POOL_TIMEOUT_S
    )
    ((key_id,),) = suite.query("SELECT id FROM api_key WHERE role = 'submitter'")
    body = json_submission(observation())

    with (
        psycopg.connect(libpq_url(database_url), autocommit=True) as holder,
        ThreadPoolExecutor(4) as pool,
    ):
        holder.execute(idempotency_lock(key_id, HELD_KEY))
        # This request takes ingest's only connection and waits on the lock the test holds.
        blocked = pool.submit(
            lambda: httpx.post(
                f"{suite.ingest.url}/v1/submissions",
                json=body,
                timeout=30.0,
                headers={**suite.submitter, "Idempotency-Key": HELD_KEY},
            )
        )
        eventually(
            lambda: holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()[0],
            lambda waiting: waiting == 1,
            what="the submission waiting on the lock",
        )

        starved = [
            pool.submit(timed, send)
            for send in (
                lambda: suite.submit_json(json_submission(observation(period="2025-08"))),
                lambda: httpx.get(
                    f"{suite.ingest.url}/v1/submissions", headers=suite.submitter, timeout=30.0
                ),
                lambda: httpx.get(
                    f"{suite.ingest.url}/v1/observations",
                    headers=suite.submitter,
                    params={"place_code": "E08000035"},
                    timeout=30.0,
                ),
            )
        ]
        for future in starved:
            response, elapsed_s = future.result(timeout=30.0)
            assert response.status_code == 503, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert int(response.headers["retry-after"]) > 0
            assert elapsed_s < PROMPTLY_S, f"answered after {elapsed_s:.1f} s"
        assert not blocked.done()

        holder.execute("SELECT pg_advisory_unlock_all()")
        first = blocked.result(timeout=30.0)

    assert first.status_code == 201, first.text
    after = suite.submit_json(json_submission(observation(period="2025-08")))
    assert after.status_code == 201, after.text
    assert suite.query("SELECT period FROM observation ORDER BY period") == [
        ("2025-07",),
        ("2025-08",),
    ]
