"""Several uvicorn workers behind one port: with PROMETHEUS_MULTIPROC_DIR set, every scrape
reports the counts of all workers together, whichever worker answers it, and the figures read
from the database at scrape time are reported once, not once per worker."""

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from tests.support.areas import LEEDS
from tests.support.clients import bearer
from tests.support.prometheus import counted
from tests.support.services import ServiceProcess
from tests.support.submissions import json_submission, observation

pytestmark = pytest.mark.e2e

REQUESTS = 8  # at least; more until both workers have answered some
MAX_REQUESTS = 60


def workers_that_answered(folder: Path, route: str) -> int:
    """How many worker processes have counted a request to ``route``: each process writes its
    counters to a file of its own."""
    answered = 0
    for path in folder.glob("counter_*.db"):
        if path.stat().st_size == 0:  # being made by a worker that has yet to count
            continue
        for key, value, _timestamp, _position in MmapedDict.read_all_values_from_file(str(path)):
            _metric, name, labels, _help = json.loads(key)
            if name == "joinedup_http_requests_total" and labels["route"] == route and value:
                answered += 1
                break
    return answered


def send_until_both_workers_answered(send: Callable[[int], None], folder: Path, route: str) -> int:
    """A new connection each time, so the requests spread over both workers; on a busy machine
    the second worker may still be starting, or the kernel may hand one worker many connections
    in a row, so go on until both have counted something. Returns how many were sent."""
    sent = 0
    while sent < REQUESTS or (workers_that_answered(folder, route) < 2 and sent < MAX_REQUESTS):
        send(sent)
        sent += 1
    assert workers_that_answered(folder, route) == 2, f"one worker answered all {sent}"
    return sent


@contextlib.contextmanager
def two_workers(
    service: str, database_url: str, service_key: str, folder: Path
) -> Iterator[ServiceProcess]:
    """``service`` as two uvicorn workers counting in ``folder``, reading its catalogue from a
    metrics_api of its own."""
    with (
        ServiceProcess.for_service("metrics_api", database_url) as metrics_api,
        ServiceProcess.for_service(
            service,
            database_url,
            workers=2,
            env={
                "PROMETHEUS_MULTIPROC_DIR": str(folder),
                "JOINEDUP_SERVICE_KEY": service_key,
                "JOINEDUP_METRICS_API_URL": metrics_api.url,
            },
        ) as process,
    ):
        yield process


@pytest.fixture
async def keys(make_key) -> tuple[dict[str, str], str]:
    return bearer(await make_key("submitter", LEEDS)), await make_key("service", name="ingest")


def test_counters_add_up_across_workers(database_url, keys, tmp_path):
    submitter, service_key = keys
    with two_workers("ingest", database_url, service_key, tmp_path) as ingest:

        def submit(n: int) -> None:
            stored = httpx.post(
                f"{ingest.url}/v1/submissions",
                headers=submitter,
                timeout=15,
                json=json_submission(observation(period=f"{2020 + n // 12}-{n % 12 + 1:02d}")),
            )
            assert stored.status_code == 201, stored.text

        sent = send_until_both_workers_answered(submit, tmp_path, "/v1/submissions")
        readings = {
            counted(
                httpx.get(f"{ingest.url}/metrics", timeout=10).text,
                "joinedup_ingest_submissions_total",
                place=LEEDS,
                status="accepted",
            )
            for _ in range(6)
        }

    assert readings == {sent}


def test_targets_api_adds_up_and_reports_its_database_figures_once(database_url, keys, tmp_path):
    _, service_key = keys
    with two_workers("targets_api", database_url, service_key, tmp_path) as targets_api:

        def ask(_: int) -> None:
            assert httpx.get(f"{targets_api.url}/healthz", timeout=15).status_code == 200

        sent = send_until_both_workers_answered(ask, tmp_path, "/healthz")
        scrapes = [httpx.get(f"{targets_api.url}/metrics", timeout=10).text for _ in range(6)]

    healthz = {"service": "targets_api", "route": "/healthz", "status": "200"}
    assert {counted(text, "joinedup_http_requests_total", **healthz) for text in scrapes} == {sent}
    for text in scrapes:
        # Read from the database by the one process that answers the scrape.
        assert text.count("# TYPE joinedup_progress_set_aside gauge") == 1
        assert text.count('joinedup_progress_set_aside{kind="area_value"} 0.0') == 1
        assert text.count("# TYPE joinedup_outcome_status gauge") == 1
        assert text.count('joinedup_scrape_collector_success{collector="outcome_metrics"} 1') == 1
