"""A plan's way to agreement through real metrics_api and targets_api processes: targets_api
checks every target against the catalogue it reads from metrics_api over HTTP, and shows a
metric's new version on the agreed plan once metrics_api has it."""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.metrics_api.metrics.schemas import MetricUpdate
from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.clients import bearer
from tests.support.services import ServiceProcess
from tests.support.waiting import eventually
from tests.targets_api.plan_support import FALLS, PLAN, TARGETS

pytestmark = pytest.mark.e2e

FRESH_S = 0.3  # targets_api's fresh window for its copy of the catalogue
TIMEOUT = httpx.Timeout(15.0)


@pytest.fixture
async def admin(make_key) -> dict[str, str]:
    return bearer(await make_key("admin"))


@pytest.fixture
async def services(database_url: str, make_key) -> AsyncIterator[tuple[httpx.Client, httpx.Client]]:
    """Clients for metrics_api and targets_api, each a uvicorn process on the test database."""
    service_key = await make_key("service", name="targets_api")
    metrics_api = ServiceProcess.for_service("metrics_api", database_url)
    targets_api = ServiceProcess.for_service(
        "targets_api",
        database_url,
        env={
            "JOINEDUP_SERVICE_KEY": service_key,
            "JOINEDUP_METRICS_API_URL": metrics_api.url,
            "JOINEDUP_CATALOGUE_FRESH_S": str(FRESH_S),
        },
    )
    with (
        metrics_api,
        targets_api,
        httpx.Client(base_url=metrics_api.url, timeout=TIMEOUT) as metrics,
        httpx.Client(base_url=targets_api.url, timeout=TIMEOUT) as targets,
    ):
        try:
            yield metrics, targets
        finally:  # before the logs are deleted: what the services said explains a failure
            for process in (metrics_api, targets_api):
                print(f"--- {process.factory} ---\n{process.log()}")


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def test_a_plan_is_agreed_by_the_place_and_its_icb(services, plan_keys, admin):
    metrics, targets = services

    plan = ok(targets.post(f"/v1/places/{LEEDS}/plans", json=PLAN, headers=plan_keys.steward), 201)
    refused = targets.put(
        f"/v1/plans/{plan['id']}/targets/{FALLS}",
        headers=plan_keys.steward,
        json=TARGETS[FALLS] | {"target_period": "2026-11"},
    )
    assert refused.status_code == 422, refused.text
    assert [e["loc"] for e in refused.json()["errors"]] == [["target_period"]]
    for code, body in TARGETS.items():
        set_ = ok(
            targets.put(
                f"/v1/plans/{plan['id']}/targets/{code}", json=body, headers=plan_keys.steward
            )
        )
        assert set_["metric_version"] == 1
    ok(targets.post(f"/v1/plans/{plan['id']}/submit", headers=plan_keys.steward))
    for organisation, signatory in (
        (LEEDS, plan_keys.place_signatory),
        (WEST_YORKSHIRE, plan_keys.icb_signatory),
    ):
        decided = ok(
            targets.post(
                f"/v1/plans/{plan['id']}/approvals",
                headers=signatory,
                json={
                    "organisation_code": organisation,
                    "decision": "approve",
                    "signatory": "A. Signatory",
                },
            ),
            201,
        )

    assert decided["status"] == "agreed"
    agreed = ok(targets.get(f"/v1/plans/{plan['id']}", headers=plan_keys.steward))
    assert (agreed["status"], len(agreed["targets"]), len(agreed["approvals"])) == (
        "agreed",
        len(TARGETS),
        2,
    )
    assert not agreed["metric_version_changed"]

    current = ok(metrics.get(f"/v1/metrics/{FALLS}", headers=admin))
    definition = {k: v for k, v in current.items() if k in MetricUpdate.model_fields}
    ok(
        metrics.put(
            f"/v1/metrics/{FALLS}",
            json=definition | {"name": "Falls, redefined"},
            headers=admin,
        )
    )

    # Once targets_api's fresh window has passed it reads the catalogue again.
    seen = eventually(
        lambda: ok(targets.get(f"/v1/plans/{plan['id']}", headers=plan_keys.steward)),
        lambda plan: plan["metric_version_changed"],
        what="the new metric version shown on the plan",
    )
    assert seen["metric_version_changes"] == [
        {"metric_code": FALLS, "metric_version": 1, "current_metric_version": 2}
    ]
    assert seen["status"] == "agreed"
