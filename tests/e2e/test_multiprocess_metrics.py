"""Several uvicorn workers behind one port: with PROMETHEUS_MULTIPROC_DIR set, every scrape
reports the counts of all workers together, whichever worker answers it."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import bearer
from tests.ingest.conftest import LEEDS, json_submission, observation
from tests.services import ServiceProcess

pytestmark = pytest.mark.e2e

SUBMISSIONS = 8  # at least; more until both workers have answered some
MAX_SUBMISSIONS = 60


def accepted_submissions(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "joinedup_ingest_submissions_total"
        and sample.labels == {"place": LEEDS, "status": "accepted"}
    )


@pytest.fixture
async def keys(make_key) -> tuple[dict[str, str], str]:
    return bearer(await make_key("submitter", LEEDS)), await make_key("service", name="ingest")


def test_counters_add_up_across_workers(database_url, keys, tmp_path):
    submitter, service_key = keys
    with (
        ServiceProcess.for_service("metrics_api", database_url) as metrics_api,
        ServiceProcess.for_service(
            "ingest",
            database_url,
            workers=2,
            env={
                "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
                "JOINEDUP_SERVICE_KEY": service_key,
                "JOINEDUP_METRICS_API_URL": metrics_api.url,
            },
        ) as ingest,
    ):
        # A new connection each time, so the requests spread over both workers; on a busy
        # machine the second worker may still be starting, or the kernel may hand one worker
        # many connections in a row, so go on until both have counted something.
        sent = 0
        while sent < SUBMISSIONS or (len(counter_files(tmp_path)) < 2 and sent < MAX_SUBMISSIONS):
            period = f"{2020 + sent // 12}-{sent % 12 + 1:02d}"
            stored = httpx.post(
                f"{ingest.url}/v1/submissions",
                headers=submitter,
                timeout=15,
                json=json_submission(observation(period=period)),
            )
            assert stored.status_code == 201, stored.text
            sent += 1

        readings = {accepted_submissions(ingest.url) for _ in range(6)}

    assert len(counter_files(tmp_path)) >= 2, f"one worker answered all {sent} submissions"
    assert readings == {sent}


def counter_files(folder) -> list:
    """Each worker process that has counted something has its own file."""
    return list(folder.glob("counter_*.db"))
