"""`joinedup up` runs its services with services/common/log_config.json: with
JOINEDUP_LOG_FORMAT=json each service's lines, uvicorn's own among them, are JSON objects (the
supervisor's own messages to the operator stay text), and JOINEDUP_ACCESS_LOG reaches them."""

import json
import uuid

import httpx
import pytest

from tests.support.up import server_env

pytestmark = pytest.mark.e2e


def test_up_passes_the_log_format_and_access_choice_to_every_service(start_up, database_url):
    env = {
        **server_env(database_url),
        "JOINEDUP_LOG_FORMAT": "json",
        "JOINEDUP_ACCESS_LOG": "errors",
    }
    up = start_up(env)
    up.wait_until_running()
    fine, refused = uuid.uuid4().hex, uuid.uuid4().hex
    metrics_api = up.url("metrics_api")
    assert httpx.get(f"{metrics_api}/healthz", headers={"X-Request-ID": fine}).status_code == 200
    response = httpx.get(f"{metrics_api}/v1/areas", headers={"X-Request-ID": refused})
    assert response.status_code == 401
    assert up.stop() == 0, up.output

    entries = [json.loads(line) for line in up.output.splitlines() if line.startswith("{")]
    access = [entry for entry in entries if entry["logger"] == "joinedup.access"]
    assert [(e["service"], e["status"]) for e in access if e["request_id"] == refused] == [
        ("metrics_api", 401)
    ]
    assert [e for e in access if e["request_id"] == fine] == []
    # Nothing a service wrote is in the text format (whose lines say "request_id=").
    assert [line for line in up.output.splitlines() if " request_id=" in line] == []
    assert len({e["service"] for e in entries}) > 1
