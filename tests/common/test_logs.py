"""The services' log lines (services/common/logs.py), read from real service processes started
as `joinedup up` starts them (uvicorn given log_config.json): JOINEDUP_LOG_FORMAT=json makes
every line, uvicorn's own too, one JSON object; JOINEDUP_ACCESS_LOG decides which requests get
an access line, and errors and slow requests always do."""

import json
import uuid
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest

from tests.support.services import ServiceProcess

ALL_OF_IT = 10**7  # bytes of a process's log: every line it wrote


@pytest.fixture
def metrics_api(database_url: str):
    """Start metrics_api with these JOINEDUP_* settings; it is stopped at the test's end."""
    started: list[ServiceProcess] = []

    def start(**settings: str) -> ServiceProcess:
        env = {"JOINEDUP_LOG_LEVEL": "INFO", **settings}
        service = ServiceProcess.for_service("metrics_api", database_url, env=env).start()
        started.append(service)
        return service

    yield start
    for service in started:
        service.close()


def lines_after_stopping(service: ServiceProcess) -> list[str]:
    service.stop()
    return service.log(ALL_OF_IT).splitlines()


def access_entries(lines: list[str], sent: list[str]) -> Iterator[dict]:
    """The access lines of the requests the test made (not of the checks that waited for the
    service to be ready)."""
    for line in lines:
        entry = json.loads(line)
        if entry["logger"] == "joinedup.access" and entry["request_id"] in sent:
            yield entry


def request_ids(n: int) -> list[str]:
    return [uuid.uuid4().hex for _ in range(n)]


def test_json_logs_are_one_object_a_line_with_the_request_in_each(metrics_api):
    service = metrics_api(JOINEDUP_LOG_FORMAT="json", JOINEDUP_ACCESS_LOG="all")
    ok, refused = request_ids(2)
    assert httpx.get(f"{service.url}/healthz", headers={"X-Request-ID": ok}).status_code == 200
    response = httpx.get(f"{service.url}/v1/areas", headers={"X-Request-ID": refused})
    assert response.status_code == 401

    lines = lines_after_stopping(service)

    entries = [json.loads(line) for line in lines]  # every line: uvicorn's, the app's
    assert any(entry["logger"].startswith("uvicorn") for entry in entries)
    for entry in entries:
        assert {"time", "level", "logger", "message", "request_id"} <= entry.keys(), entry
        assert datetime.fromisoformat(entry["time"]).utcoffset().total_seconds() == 0
    by_request = {entry["request_id"]: entry for entry in access_entries(lines, [ok, refused])}
    assert by_request[ok] | {"time": None, "duration_ms": None} == {
        "time": None,
        "level": "INFO",
        "logger": "joinedup.access",
        "service": "metrics_api",
        "message": by_request[ok]["message"],
        "request_id": ok,
        "method": "GET",
        "path": "/healthz",
        "status": 200,
        "duration_ms": None,
    }
    assert by_request[ok]["message"].startswith("GET /healthz 200 ")
    assert by_request[refused]["status"] == 401 and by_request[refused]["path"] == "/v1/areas"
    assert all(entry["duration_ms"] >= 0 for entry in by_request.values())


def test_text_logs_stay_the_default_with_the_request_id(metrics_api):
    service = metrics_api(JOINEDUP_ACCESS_LOG="all")
    [request_id] = request_ids(1)
    httpx.get(f"{service.url}/healthz", headers={"X-Request-ID": request_id})

    lines = lines_after_stopping(service)

    matching = [line for line in lines if f"request_id={request_id}" in line]
    assert len(matching) == 1, lines
    [line] = matching
    assert " INFO metrics_api " in line and "joinedup.access: GET /healthz 200 " in line


def test_errors_mode_logs_only_client_and_server_errors(metrics_api):
    service = metrics_api(JOINEDUP_LOG_FORMAT="json", JOINEDUP_ACCESS_LOG="errors")
    ids = request_ids(3)
    fine, refused, missing = ids
    httpx.get(f"{service.url}/healthz", headers={"X-Request-ID": fine})
    httpx.get(f"{service.url}/v1/areas", headers={"X-Request-ID": refused})
    httpx.get(f"{service.url}/no/such/path", headers={"X-Request-ID": missing})

    logged = {
        entry["request_id"]: entry["status"]
        for entry in access_entries(lines_after_stopping(service), ids)
    }

    assert logged == {refused: 401, missing: 404}


def test_a_slow_request_is_logged_whatever_the_mode(metrics_api):
    # A threshold of 0 ms makes every request slow: no request has to be made slow, or timed.
    service = metrics_api(
        JOINEDUP_LOG_FORMAT="json", JOINEDUP_ACCESS_LOG="errors", JOINEDUP_ACCESS_LOG_SLOW_MS="0"
    )
    ids = request_ids(3)
    for request_id in ids:
        httpx.get(f"{service.url}/healthz", headers={"X-Request-ID": request_id})

    logged = [entry["request_id"] for entry in access_entries(lines_after_stopping(service), ids)]

    assert logged == ids


def test_sampling_logs_a_share_chosen_by_request_id(metrics_api):
    service = metrics_api(
        JOINEDUP_LOG_FORMAT="json", JOINEDUP_ACCESS_LOG="sample", JOINEDUP_ACCESS_LOG_SAMPLE="0.5"
    )
    ids = request_ids(200)
    with httpx.Client(base_url=service.url) as client:
        for request_id in [*ids, *ids]:  # each id twice: both or neither are logged
            assert client.get("/healthz", headers={"X-Request-ID": request_id}).status_code == 200

    logged = [entry["request_id"] for entry in access_entries(lines_after_stopping(service), ids)]

    # At 0.5, fewer than 40 or more than 160 of 200 ids would be a 1-in-10^17 chance.
    assert 40 < len(set(logged)) < 160
    assert sorted(logged) == sorted([*set(logged), *set(logged)])


def test_a_sample_of_none_still_logs_the_errors(metrics_api):
    service = metrics_api(
        JOINEDUP_LOG_FORMAT="json", JOINEDUP_ACCESS_LOG="sample", JOINEDUP_ACCESS_LOG_SAMPLE="0"
    )
    ids = request_ids(20)
    with httpx.Client(base_url=service.url) as client:
        for request_id in ids:
            client.get("/healthz", headers={"X-Request-ID": request_id})
        client.get("/v1/areas", headers={"X-Request-ID": ids[0]})

    logged = [
        (e["request_id"], e["status"]) for e in access_entries(lines_after_stopping(service), ids)
    ]

    assert logged == [(ids[0], 401)]
