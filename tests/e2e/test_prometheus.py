"""A real Prometheus (Debian's package; .ci/run installs it) scraping the three services, the
worker and the web app with the configuration and alert rules in deploy/prometheus/, and every
PromQL expression of the Grafana dashboards and the alert rules run through its HTTP API.

The scene is built so that every expression has something to show: Leeds has an agreed plan, its
falls target is off track for three quarters in a row, other places are overdue, a submission
is refused, and targets_api answers 503s once metrics_api has gone (so there is a 5xx rate and a
service down). The web app is stopped last, so the alert for a web app that is down fires too.
"""

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.services import ServiceProcess, free_port
from tests.support.submissions import json_submission, observation
from tests.support.suite import Suite
from tests.support.waiting import eventually
from tests.targets_api.plan_support import DISCHARGE, FALLS

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("prometheus") is None or shutil.which("promtool") is None,
        reason="needs Debian's prometheus package (.ci/run installs it)",
    ),
]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
RULES = DEPLOY / "prometheus" / "rules.yml"
# Grafana fills these in before a query reaches Prometheus.
VARIABLES = {
    "$icb": WEST_YORKSHIRE,
    "$place": LEEDS,
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
}
# Healthy answers that are empty, not broken queries: absent() answers only when a job has no
# target at all, the backlog alert needs the outbox undelivered for 30 minutes, and nothing is
# set aside by a healthy refresh, and no escalation of the scene is old enough to be overdue.
MAY_BE_EMPTY = (
    "absent(",
    "joinedup_outbox_pending)[30m",
    "joinedup_progress_set_aside) > 0",
    "joinedup_escalations_acknowledgement_overdue) > 0",
)

DATA_WAIT_S = 10.0
# Falls, lower is better, tolerance 0: expected 602.857, 595.714, 588.571, 581.429 for
# 2025-Q2 .. 2026-Q1 on the straight line from 610 to 560; the last three are worse.
FALLS_BY_QUARTER = [("2025-Q2", 600), ("2025-Q3", 596), ("2025-Q4", 590), ("2026-Q1", 585)]


def expressions() -> list[tuple[str, str]]:
    """(where, PromQL) for every dashboard panel and variable, and every alert rule."""
    found = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        panels = [p for top in board["panels"] for p in [top, *top.get("panels", [])]]
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((f"{path.name}: {panel.get('title')}", target["expr"]))
        for variable in board.get("templating", {}).get("list", []):
            query = variable.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            if query and query.startswith("label_values("):
                # label_values(selector, label) is Grafana's; Prometheus answers the selector.
                selector = query.removeprefix("label_values(").rsplit(",", 1)[0]
                found.append((f"{path.name}: variable {variable['name']}", selector))
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            found.append((f"rules.yml: {rule.get('alert') or rule.get('record')}", rule["expr"]))
    return found


def substituted(expr: str) -> str:
    for name, value in sorted(VARIABLES.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(name, value)
    return expr


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator:
    """Starts Prometheus on the suite's ports with the shipped rules; stops it after."""
    started: list[subprocess.Popen] = []

    def start(targets: dict[str, str]) -> str:
        config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="2s", evaluation_interval="1s", scrape_timeout="2s")
        for job in config["scrape_configs"]:
            job["scrape_interval"] = "2s"
            job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
        shutil.copy(RULES, tmp_path / "rules.yml")
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        checked = subprocess.run(
            ["promtool", "check", "config", tmp_path / "prometheus.yml"],
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        port = free_port()
        started.append(
            subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={tmp_path / 'prometheus.yml'}",
                    f"--storage.tsdb.path={tmp_path / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=(tmp_path / "prometheus.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def start_web() -> Iterator:
    """Starts the web app on a suite's three APIs (it needs no database); stops it after."""
    started: list[ServiceProcess] = []

    def start(suite: Suite) -> ServiceProcess:
        web = ServiceProcess(
            "services.web.main:create_app",
            env={
                "JOINEDUP_METRICS_API_URL": suite.metrics_api.url,
                "JOINEDUP_TARGETS_API_URL": suite.targets_api.url,
                "JOINEDUP_INGEST_URL": suite.ingest.url,
                "JOINEDUP_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            },
        )
        started.append(web)
        return web.start()

    yield start
    for process in started:
        print(f"--- {process.factory} (port {process.port}) ---\n{process.log()}")
        process.close()


def query(prometheus_url: str, expr: str) -> dict:
    response = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
    assert response.status_code == 200, f"{expr}: {response.text}"
    body = response.json()
    assert body["status"] == "success", f"{expr}: {body}"
    return body["data"]


def test_the_shipped_rules_pass_promtool():
    checked = subprocess.run(["promtool", "check", "rules", RULES], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_service_exposition_passes_promtool(start_suite, start_web, plan_keys):
    suite = start_suite()
    web = start_web(suite)
    suite.agree_plan(LEEDS, WEST_YORKSHIRE, plan_keys)
    assert suite.submit_json(json_submission(observation())).status_code == 201
    assert httpx.get(f"{web.url}/sign-in", timeout=10).status_code == 200

    for service in (suite.metrics_api, suite.targets_api, suite.ingest, suite.worker, web):
        exposition = httpx.get(f"{service.url}/metrics", timeout=10).text
        checked = subprocess.run(
            ["promtool", "check", "metrics"], input=exposition, capture_output=True, text=True
        )
        assert (checked.returncode, checked.stdout + checked.stderr) == (0, ""), service.factory


def test_every_dashboard_and_alert_expression_answers_with_data(
    start_suite, start_web, plan_keys, prometheus
):
    # targets_api keeps no copy of the catalogue once metrics_api has gone: it answers 503.
    suite = start_suite(targets_api_settings={"catalogue_fresh_s": 0.2, "catalogue_max_stale_s": 0})
    web = start_web(suite)
    suite.agree_plan(LEEDS, WEST_YORKSHIRE, plan_keys)
    falls = [
        observation(FALLS, period, numerator=value, denominator=100_000)
        for period, value in FALLS_BY_QUARTER
    ]
    assert suite.submit_json(json_submission(observation(), *falls)).status_code == 201
    refused = suite.submit_json(json_submission(observation(DISCHARGE, "2025-13")))
    assert refused.status_code == 422, refused.text
    eventually(
        lambda: suite.query(
            "SELECT consecutive_off_track FROM target_progress WHERE metric_code = %s", FALLS
        ),
        lambda rows: rows == [(3,)],
        what="Leeds's falls refreshed as off track three times",
    )

    url = prometheus(
        {
            "metrics_api": f"127.0.0.1:{suite.metrics_api.port}",
            "targets_api": f"127.0.0.1:{suite.targets_api.port}",
            "ingest": f"127.0.0.1:{suite.ingest.port}",
            "worker": f"127.0.0.1:{suite.worker.port}",
            "web": f"127.0.0.1:{web.port}",
        }
    )
    eventually(
        lambda: len(query(url, "up == 1")["result"]) if _ready(url) else 0,
        lambda n: n == 5,
        what="Prometheus scraping the three services, the worker and the web app",
    )
    suite.metrics_api.stop()
    # A rate needs the 5xx count to grow between scrapes (2 s apart), so three, spread out.
    for _ in range(3):
        time.sleep(2.2)
        answer = httpx.get(
            f"{suite.targets_api.url}/v1/places/{LEEDS}/progress", headers=suite.admin, timeout=10
        )
        assert answer.status_code == 503, answer.text
    web.stop()
    eventually(
        lambda: query(url, 'up{job="web"} == 0')["result"],
        bool,
        what="Prometheus seeing the web app down",
    )
    time.sleep(3)  # a few more scrapes and rule evaluations

    # A scrape that timed out on a busy machine leaves a gap: an expression gets a few seconds
    # of fresh scrapes to show its data before it counts as empty.
    empty = []
    for where, expr in expressions():
        if any(allowed in expr for allowed in MAY_BE_EMPTY):
            query(url, substituted(expr))
            continue
        deadline = time.monotonic() + DATA_WAIT_S
        while not query(url, substituted(expr))["result"]:
            if time.monotonic() > deadline:
                empty.append(f"{where}: {expr}")
                break
            time.sleep(0.5)
    assert not empty, "expressions without data:\n" + "\n".join(empty)
    # The worker's refresh ran the escalation rules: Leeds's falls, off track three quarters
    # running, is an open escalation at its ICB, with no one's action.
    escalated = query(url, 'joinedup_escalations_open{level="icb", reason="off_track"}')
    assert [sample["value"][1] for sample in escalated["result"]] == ["1"], escalated
    alerts = httpx.get(f"{url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    firing = {alert["labels"]["alertname"] for alert in alerts}
    down = {a["labels"]["job"] for a in alerts if a["labels"]["alertname"] == "JoinedupServiceDown"}
    assert {"metrics_api", "web"} <= down, alerts
    # No place of the scene has a confirmed leader or an adopted governance model.
    assert {
        "JoinedupTargetOffTrack",
        "JoinedupServiceDown",
        "JoinedupPlaceWithoutConfirmedLeader",
        "JoinedupPlaceWithoutAdoptedGovernance",
    } <= firing | _pending(url)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _pending(url: str) -> set[str]:
    rules = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    return {
        rule["name"]
        for group in rules
        for rule in group["rules"]
        if rule.get("state") in ("pending", "firing")
    }
