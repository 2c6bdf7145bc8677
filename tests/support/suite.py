"""metrics_api, targets_api, ingest and the worker as four real uvicorn processes on one test
database, for the end-to-end and fault tests: a plugin (tests/conftest.py registers it) whose
``start_suite`` fixture returns a ``Suite`` that reaches everything.

The worker alone refreshes progress and delivers ingest's outbox, as in production. It polls the
outbox every 0.2 s and backs off at most 1 s, so a notice held back by an outage goes out soon
after targets_api is back; everything that waits polls against a deadline.
"""

from collections.abc import AsyncIterator, Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.metrics_api.metrics.schemas import MetricUpdate
from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.clients import bearer
from tests.support.prometheus import counted
from tests.support.services import ServiceProcess
from tests.support.waiting import eventually
from tests.targets_api.plan_support import PLAN, TARGETS

Query = Callable[..., list[tuple]]

TIMEOUT = httpx.Timeout(15.0)
WORKER_ENV = {
    "JOINEDUP_OUTBOX_POLL_S": "0.2",
    "JOINEDUP_OUTBOX_MAX_BACKOFF_S": "1",
    "JOINEDUP_PROGRESS_POLL_S": "0.2",
}


@dataclass
class Suite:
    """The three services and the worker on one database, and the keys a test acts with."""

    metrics_api: ServiceProcess
    targets_api: ServiceProcess
    ingest: ServiceProcess
    worker: ServiceProcess
    submitter: dict[str, str]  # West Yorkshire ICB: Leeds and Bradford
    admin: dict[str, str]
    query: Query

    def submit_json(self, body: dict, **params: Any) -> httpx.Response:
        return httpx.post(
            f"{self.ingest.url}/v1/submissions",
            json=body,
            params=params,
            headers=self.submitter,
            timeout=TIMEOUT,
        )

    def submit_csv(self, body: str, **params: Any) -> httpx.Response:
        return httpx.post(
            f"{self.ingest.url}/v1/submissions",
            content=body.encode(),
            params=params,
            headers={**self.submitter, "Content-Type": "text/csv"},
            timeout=TIMEOUT,
        )

    def catalogue_reads(self, result: str) -> float:
        """ingest's reads of its catalogue through its peer cache that were answered ``result``
        (``fetched``: a changed page came from metrics_api), by its /metrics (which reads the
        catalogue itself, for the timeliness gauges)."""
        text = httpx.get(f"{self.ingest.url}/metrics", timeout=TIMEOUT).text
        return counted(text, "joinedup_peer_cache_results_total", peer="metrics_api", result=result)

    def version_metric(self, code: str, **changes: Any) -> dict:
        """PUT the metric's current definition back with ``changes``: its next version."""
        current = httpx.get(
            f"{self.metrics_api.url}/v1/metrics/{code}", headers=self.admin, timeout=TIMEOUT
        )
        current.raise_for_status()
        definition = {k: v for k, v in current.json().items() if k in MetricUpdate.model_fields}
        response = httpx.put(
            f"{self.metrics_api.url}/v1/metrics/{code}",
            headers=self.admin,
            json={**definition, **changes},
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def outbox(self) -> list[tuple[str, int, str | None, bool]]:
        """(submission id, attempts, last error, delivered?) of every notice, oldest first."""
        return self.query(
            "SELECT payload->>'submission_id', attempts, last_error, "
            "delivered_at IS NOT NULL FROM outbox ORDER BY id"
        )

    def wait_until_delivered(self) -> list[tuple[str, int, str | None, bool]]:
        return eventually(
            self.outbox,
            lambda notices: all(n[3] for n in notices),
            what="every outbox notice delivered to targets_api",
        )

    def agree_plan(self, place: str, icb: str, keys: "PlanKeys") -> int:
        """A plan for the place with a target for each national metric
        (tests/targets_api/plan_support.py), agreed by the place and its ICB."""
        with httpx.Client(base_url=self.targets_api.url, timeout=TIMEOUT) as client:
            plan = client.post(f"/v1/places/{place}/plans", json=PLAN, headers=keys.steward)
            assert plan.status_code == 201, plan.text
            plan_id = plan.json()["id"]
            for code, body in TARGETS.items():
                assert (
                    client.put(
                        f"/v1/plans/{plan_id}/targets/{code}", json=body, headers=keys.steward
                    ).status_code
                    == 200
                )
            submitted = client.post(f"/v1/plans/{plan_id}/submit", headers=keys.steward)
            assert submitted.status_code == 200, submitted.text
            for organisation, signatory in (
                (place, keys.place_signatory),
                (icb, keys.icb_signatory),
            ):
                decided = client.post(
                    f"/v1/plans/{plan_id}/approvals",
                    headers=signatory,
                    json={
                        "organisation_code": organisation,
                        "decision": "approve",
                        "signatory": "A. Signatory",
                    },
                )
                assert decided.status_code == 201, decided.text
            assert decided.json()["status"] == "agreed"
            return plan_id

    def place_values(self) -> dict[tuple[str, str, str], float]:
        """What targets_api's progress refresh has computed: (place, metric, period) -> value."""
        rows = self.query(
            "SELECT area_code, metric_code, period, value FROM area_value WHERE level = 'place'"
        )
        return {(place, metric, period): value for place, metric, period, value in rows}

    def wait_for_place_values(
        self, expected: dict[tuple[str, str, str], float]
    ) -> dict[tuple[str, str, str], float]:
        """Until the refresh has computed exactly ``expected`` (values to 3 decimals)."""

        def rounded() -> dict[tuple[str, str, str], float]:
            return {key: round(value, 3) for key, value in self.place_values().items()}

        return eventually(
            rounded, lambda found: found == expected, what=f"progress refreshed to {expected}"
        )


StartSuite = Callable[..., Suite]


def as_environment(settings: Mapping[str, object]) -> dict[str, str]:
    return {f"JOINEDUP_{name.upper()}": str(value) for name, value in settings.items()}


@dataclass
class PlanKeys:
    steward: dict[str, str]
    place_signatory: dict[str, str]
    icb_signatory: dict[str, str]


@pytest.fixture
async def plan_keys(make_key) -> PlanKeys:
    """Keys to make and agree a plan for Leeds."""
    return PlanKeys(
        bearer(await make_key("steward", WEST_YORKSHIRE)),
        bearer(await make_key("signatory", LEEDS)),
        bearer(await make_key("signatory", WEST_YORKSHIRE)),
    )


@pytest.fixture
async def start_suite(database_url: str, make_key, query: Query) -> AsyncIterator[StartSuite]:
    """``start_suite(catalogue_fresh_s=0.3, down=("metrics_api",))`` starts the services and
    the worker (all but those ``down``, whose ports are kept for a later ``start()``) with
    JOINEDUP_CATALOGUE_* and other ingest settings from the keyword arguments (targets_api's
    from ``targets_api_settings``). Every process is stopped after the test, and their logs are
    printed so a failure shows what the services said."""
    service_key = await make_key("service", name="ingest")
    submitter = bearer(await make_key("submitter", WEST_YORKSHIRE))
    admin = bearer(await make_key("admin"))
    started: list[ServiceProcess] = []

    def start(
        *,
        down: Collection[str] = (),
        targets_api_settings: Mapping[str, object] = {},
        **ingest_settings: object,
    ) -> Suite:
        metrics_api = ServiceProcess.for_service("metrics_api", database_url)
        peers = {
            "metrics_api": metrics_api,
            "targets_api": ServiceProcess.for_service(
                "targets_api",
                database_url,
                env={
                    "JOINEDUP_SERVICE_KEY": service_key,
                    "JOINEDUP_METRICS_API_URL": metrics_api.url,
                    **as_environment(targets_api_settings),
                },
            ),
        }
        peer_env = {
            "JOINEDUP_SERVICE_KEY": service_key,
            "JOINEDUP_METRICS_API_URL": peers["metrics_api"].url,
            "JOINEDUP_TARGETS_API_URL": peers["targets_api"].url,
        }
        ingest = ServiceProcess.for_service(
            "ingest", database_url, env={**as_environment(ingest_settings), **peer_env}
        )
        worker = ServiceProcess.for_service("worker", database_url, env={**WORKER_ENV, **peer_env})
        processes = {**peers, "ingest": ingest, "worker": worker}
        started.extend(processes.values())
        # Started side by side: each spends most of a second importing before it is ready.
        with ThreadPoolExecutor(len(processes)) as pool:
            list(
                pool.map(
                    ServiceProcess.start, [p for name, p in processes.items() if name not in down]
                )
            )
        return Suite(
            **peers, ingest=ingest, worker=worker, submitter=submitter, admin=admin, query=query
        )

    yield start
    for process in started:
        print(f"--- {process.factory} (port {process.port}) ---\n{process.log()}")
        process.close()
