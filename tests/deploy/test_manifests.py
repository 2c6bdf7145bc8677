"""The deployment files in deploy/: they parse, they agree with each other, and every PromQL
expression in the dashboards and alerts uses only the metrics the services promise to export.

Fast and offline: no Docker, no Kubernetes, no Prometheus. promtool and a real Prometheus check
the expressions' syntax and results elsewhere; here a small tokenizer checks the names.
"""

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.logs import LogSettings
from services.common.roles import SERVICE_ROLES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"

SERVICES = {  # compose / Kubernetes name: (module, port, Prometheus job)
    "metrics-api": ("metrics_api", 8001, "metrics_api"),
    "targets-api": ("targets_api", 8002, "targets_api"),
    "ingest": ("ingest", 8003, "ingest"),
}
# The background work, with only /healthz, /readyz and /metrics; its compose, Kubernetes and
# Prometheus job name.
WORKER, WORKER_PORT = "worker", 8004
WORKER_COMMAND = ["joinedup", "worker", "--host", "0.0.0.0", "--port", str(WORKER_PORT)]
# The web app: pages over the three APIs, no database, sessions in its one process's memory.
WEB, WEB_PORT = "web", 8000


def _histogram(name: str) -> set[str]:
    return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}


# The contract with the services: the only metric names a dashboard or an alert may use.
CONTRACT_METRICS = frozenset(
    {
        # targets_api: outcomes, labels place, metric, icb, region (status has `status` too)
        "joinedup_outcome_value",
        "joinedup_outcome_target",
        "joinedup_outcome_expected",
        "joinedup_outcome_progress_ratio",
        "joinedup_outcome_latest_period_end_timestamp_seconds",
        "joinedup_outcome_consecutive_off_track_periods",
        "joinedup_outcome_status",
        "joinedup_area_info",  # area, name, level, parent
        "joinedup_metric_info",  # metric, name, kind, unit, direction, periodicity
        "joinedup_national_value",  # metric
        "joinedup_progress_refreshes_total",  # result
        *_histogram("joinedup_progress_refresh_seconds"),
        "joinedup_progress_set_aside",  # kind
        # targets_api: places' arrangements, labels icb, region (and category)
        "joinedup_places_without_confirmed_leader",
        "joinedup_places_without_adopted_governance",
        "joinedup_places_missing_governance_member",
        # targets_api: escalations, labels level, reason
        "joinedup_escalations_open",
        "joinedup_escalations_acknowledgement_overdue",
        # ingest
        "joinedup_ingest_submissions_total",  # place, status
        "joinedup_ingest_rows_total",  # place, outcome
        "joinedup_ingest_last_submission_timestamp_seconds",  # place
        "joinedup_completeness_overdue",  # place, metric
        "joinedup_outbox_pending",
        "joinedup_outbox_deliveries_total",  # result
        # every service
        "joinedup_http_requests_total",  # service, method, route, status
        *_histogram("joinedup_http_request_duration_seconds"),
        "up",  # job (Prometheus)
    }
)

# Grafana variables a panel may use; anything else would not run against plain Prometheus.
ALLOWED_VARIABLES = frozenset({"icb", "place", "__rate_interval"})

PROMQL_FUNCTIONS = frozenset(
    {
        # aggregations
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
        # functions
        "abs",
        "absent",
        "absent_over_time",
        "ceil",
        "changes",
        "clamp",
        "clamp_max",
        "clamp_min",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "days_in_month",
        "delta",
        "deriv",
        "exp",
        "floor",
        "histogram_avg",
        "histogram_count",
        "histogram_fraction",
        "histogram_quantile",
        "histogram_stddev",
        "histogram_stdvar",
        "histogram_sum",
        "hour",
        "idelta",
        "increase",
        "irate",
        "label_join",
        "label_replace",
        "ln",
        "log2",
        "log10",
        "minute",
        "month",
        "predict_linear",
        "rate",
        "resets",
        "round",
        "scalar",
        "sgn",
        "sort",
        "sort_desc",
        "sqrt",
        "time",
        "timestamp",
        "vector",
        "year",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "sum_over_time",
        "count_over_time",
        "quantile_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "last_over_time",
        "present_over_time",
    }
)
PROMQL_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "atan2",
        "inf",
        "nan",
    }
)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-zA-Z_$]+")
_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*")
_VARIABLE = re.compile(r"\$\{?([A-Za-z_]\w*)")


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, function names) an expression uses: strings, label matchers, ranges,
    offsets and label lists are taken out, then every identifier left is a function (followed
    by a parenthesis), a keyword, or a metric."""
    assert _balanced(expr), f"unbalanced brackets in: {expr}"
    rest = _STRING.sub('""', expr)
    rest = _MATCHERS.sub("", rest)
    rest = _RANGE.sub("", rest)
    rest = _OFFSET.sub("", rest)
    rest = _LABEL_LIST.sub(" ", rest)
    metrics, functions = set(), set()
    for match in _IDENTIFIER.finditer(rest):
        name = match.group()
        if rest[match.end() :].lstrip().startswith("("):
            functions.add(name)
        elif name.lower() not in PROMQL_KEYWORDS:
            metrics.add(name)
    return metrics, functions


def _balanced(expr: str) -> bool:
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for char in _STRING.sub('""', expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack


def assert_contract(expr: str, where: str) -> None:
    metrics, functions = promql_names(expr)
    assert metrics, f"{where}: no metric in {expr!r}"
    assert metrics <= CONTRACT_METRICS, (
        f"{where}: {sorted(metrics - CONTRACT_METRICS)} not in the metrics contract: {expr}"
    )
    assert functions <= PROMQL_FUNCTIONS, (
        f"{where}: unknown PromQL functions {sorted(functions - PROMQL_FUNCTIONS)}: {expr}"
    )
    variables = set(_VARIABLE.findall(expr))
    assert variables <= ALLOWED_VARIABLES, (
        f"{where}: Grafana variables {sorted(variables - ALLOWED_VARIABLES)} would not run "
        f"against Prometheus: {expr}"
    )


def test_the_promql_check_finds_what_it_should() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (service, le) "
        '(rate(joinedup_http_request_duration_seconds_bucket{route!~"/x"}[5m]))) '
        '* on (service) group_left (name) label_replace(up, "a", "$1", "job", "(.*)") '
        "offset 1h > 1e3"
    )
    assert promql_names(expr) == (
        {"joinedup_http_request_duration_seconds_bucket", "up"},
        {"histogram_quantile", "sum", "rate", "label_replace"},
    )
    assert promql_names("sum(rate(process_cpu_seconds_total[5m])) by (job)")[0] == {
        "process_cpu_seconds_total"
    }
    with pytest.raises(AssertionError, match="not in the metrics contract"):
        assert_contract("process_cpu_seconds_total", "self-test")
    with pytest.raises(AssertionError, match="Grafana variables"):
        assert_contract("rate(joinedup_http_requests_total[$__interval])", "self-test")
    with pytest.raises(AssertionError, match="unbalanced"):
        assert_contract("sum(joinedup_outbox_pending", "self-test")


# ------------------------------------------------------------------------------ loading


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc is not None:
                documents.append((path, doc))
    return documents


def _of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in _k8s_documents() if doc["kind"] == kind]


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS.glob("*.json"))
    }


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # panels inside collapsed rows
    return panels


def _configmap_keys() -> set[str]:
    (configmap,) = _of_kind("ConfigMap")
    return set(configmap["data"])


def _secret_example() -> dict[str, Any]:
    (secret,) = [doc for doc in yaml.safe_load_all((K8S / "secret.example.yaml").read_text())]
    return secret


def _rules() -> list[dict[str, Any]]:
    return [
        rule
        for group in _yaml(DEPLOY / "prometheus" / "rules.yml")["groups"]
        for rule in group["rules"]
    ]


def test_every_yaml_file_parses() -> None:
    paths = sorted(p for p in DEPLOY.rglob("*") if p.suffix in {".yaml", ".yml"})
    assert len(paths) >= 12
    for path in paths:
        documents = [
            d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None
        ]
        assert documents and all(isinstance(d, dict) for d in documents), path


# ------------------------------------------------------------------------------ Dockerfile


def _dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, (INSTRUCTION, arguments), grouped by stage."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines, current = [], ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.rstrip().endswith("\\"):
            current += raw.rstrip()[:-1] + " "
            continue
        lines.append(current + raw.strip())
        current = ""
    stages: list[list[tuple[str, str]]] = [[]]
    for line in lines:
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def test_dockerfile_final_stage_runs_as_a_fixed_non_root_user() -> None:
    *_, final = _dockerfile_stages()
    users = [arguments for instruction, arguments in final if instruction == "USER"]
    assert users, "the runtime stage never sets USER, so it runs as root"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0, f"USER {users[-1]}: want a fixed non-root uid"
    # Kubernetes runs the pods as that same uid.
    for deployment in _of_kind("Deployment"):
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == int(user)


def test_dockerfile_builds_a_wheel_and_ships_no_build_tools() -> None:
    preamble, builder, final = _dockerfile_stages()
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in preamble
    assert final[0][1].startswith("${PYTHON_IMAGE}")
    assert any(i == "RUN" and "pip wheel" in a for i, a in builder)
    runs = " ".join(a for i, a in final if i == "RUN")
    assert "pip install --no-index" in runs
    for tool in ("build-essential", "gcc", "apt-get install"):
        assert tool not in runs, f"the runtime stage installs {tool}"
    exposed = {a for i, a in final if i == "EXPOSE"}
    assert exposed == {"8001 8002 8003 8004"}
    # The entrypoint is made executable in the image, whatever mode the checkout gave it.
    (entrypoint,) = [a for i, a in final if i == "COPY" and "docker-entrypoint.sh" in a]
    assert "--chmod=0755" in entrypoint
    assert ("ENTRYPOINT", '["/usr/local/bin/docker-entrypoint.sh"]') in final


def test_dockerignore_lets_in_everything_the_dockerfile_copies() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for stage in _dockerfile_stages():
        for instruction, arguments in stage:
            if instruction == "COPY" and "--from" not in arguments:
                *sources, _ = [a for a in arguments.split() if not a.startswith("--")]
                for source in sources:
                    path = source.rstrip("/")
                    assert any(path == a or path.startswith(a + "/") for a in allowed), (
                        f"COPY {source} is ignored"
                    )
                    assert (ROOT / source).exists(), source


def test_the_wheel_carries_the_migrations_the_image_runs() -> None:
    """`joinedup db upgrade` in the image finds the migrations as the installed `migrations`
    package (services/common/schema_version.py); the seed data and SQL are package data."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "migrations*" in setuptools["packages"]["find"]["include"]
    assert "script.py.mako" in setuptools["package-data"]["migrations"]
    assert "*.csv" in setuptools["package-data"]["services.data"]
    assert (ROOT / "migrations" / "versions" / "__init__.py").exists()


# ------------------------------------------------------------------------------ compose


def _compose() -> dict[str, Any]:
    return _yaml(DEPLOY / "compose.yaml")


def test_compose_services_start_after_the_migration() -> None:
    services = _compose()["services"]
    assert {"postgres", "migrate", "prometheus", "grafana", WORKER, *SERVICES} <= set(services)
    assert "healthcheck" in services["postgres"]
    assert services["postgres"]["image"].startswith("postgres:16")
    migrate = services["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "joinedup db upgrade" in " ".join(migrate["command"])
    assert "joinedup seed" in " ".join(migrate["command"])
    for name, (module, port, _) in SERVICES.items():
        service = services[name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        command = service["command"]
        assert command[:3] == ["uvicorn", f"services.{module}.main:create_app", "--factory"]
        assert command[command.index("--port") + 1] == str(port)
        assert "--workers" in command
        environment = service["environment"]
        assert environment["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
        assert "/tmp" in service["tmpfs"] and service["read_only"] is True
        for variable in (
            "JOINEDUP_DATABASE_URL",
            "JOINEDUP_SERVICE_KEY",
            "JOINEDUP_METRICS_API_URL",
            "JOINEDUP_TARGETS_API_URL",
        ):
            assert variable in environment, (name, variable)
        assert environment["JOINEDUP_METRICS_API_URL"] == "http://metrics-api:8001"
        assert environment["JOINEDUP_TARGETS_API_URL"] == "http://targets-api:8002"
        assert f"{port}/readyz" in " ".join(service["healthcheck"]["test"])
    worker = services[WORKER]
    assert worker["command"] == WORKER_COMMAND
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert f"{WORKER_PORT}/readyz" in " ".join(worker["healthcheck"]["test"])
    for variable in (
        "JOINEDUP_SERVICE_KEY",
        "JOINEDUP_METRICS_API_URL",
        "JOINEDUP_TARGETS_API_URL",
    ):
        assert variable in worker["environment"], variable
    assert WORKER in services["prometheus"]["depends_on"]


def test_compose_mounts_exist_and_grafana_is_provisioned() -> None:
    services = _compose()["services"]
    for name in ("prometheus", "grafana"):
        for volume in services[name]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).is_dir(), f"{name} mounts missing {source}"
    grafana = services["grafana"]["environment"]
    assert grafana["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD")
    # The dashboards provider reads the folder compose mounts the dashboards into.
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    (provider,) = _yaml(DEPLOY / "grafana/provisioning/dashboards/joinedup.yml")["providers"]
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    home = grafana["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (DASHBOARDS / Path(home).relative_to(provider["options"]["path"])).exists()
    (datasource,) = _yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert datasource["uid"] == "prometheus" and datasource["type"] == "prometheus"


def test_no_real_key_is_shipped() -> None:
    example = (DEPLOY / ".env.example").read_text()
    assert re.search(r"^JOINEDUP_SERVICE_KEY=$", example, re.MULTILINE)
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()
    for path in [DEPLOY / ".env.example", K8S / "secret.example.yaml", DEPLOY / "compose.yaml"]:
        # A real key reads jdu_<12 hex digits>_<43 URL-safe characters> (common/auth.py).
        assert not re.search(r"jdu_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", path.read_text()), path


# ------------------------------------------------------------------------------ Prometheus


def test_prometheus_scrapes_the_three_services_the_worker_and_web_every_15s() -> None:
    config = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
    for rule_file in config["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).is_file(), rule_file
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {job for _, _, job in SERVICES.values()} | {WORKER, WEB}
    compose = _compose()["services"]
    others = {WORKER: (WORKER, WORKER_PORT, WORKER), WEB: (WEB, WEB_PORT, WEB)}
    for name, (_, port, job) in {**SERVICES, **others}.items():
        interval = jobs[job].get("scrape_interval", config["global"]["scrape_interval"])
        assert interval == "15s"
        assert jobs[job].get("metrics_path", "/metrics") == "/metrics"
        (static,) = jobs[job]["static_configs"]
        assert static["targets"] == [f"{name}:{port}"]
        assert name in compose


def test_every_alert_has_severity_summary_and_a_contract_expression() -> None:
    rules = _rules()
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
        assert "{{ $" in rule["annotations"]["summary"], (
            f"{rule['alert']}: say which place, metric or service, or how bad"
        )
        assert_contract(rule["expr"], rule["alert"])


def test_the_required_alerts_are_there() -> None:
    by_expr = {" ".join(rule["expr"].split()): rule for rule in _rules()}

    def find(*fragments: str) -> dict[str, Any]:
        matches = [r for e, r in by_expr.items() if all(f in e for f in fragments)]
        assert matches, f"no alert with {fragments}"
        return matches[0]

    find("joinedup_outcome_consecutive_off_track_periods", ">= 3")
    find("joinedup_places_without_confirmed_leader", "> 0")
    find("joinedup_places_without_adopted_governance", "> 0")
    assert find("joinedup_completeness_overdue", "== 1")["for"] == "1h"
    assert find('up{job=~"metrics_api|targets_api|ingest|worker|web"} == 0')["for"] == "1m"
    find('absent(up{job="worker"})', 'absent(up{job="web"})')
    assert find('status=~"5.."', "> 0.05", "sum by (service)")["for"] == "5m"


def test_operations_doc_says_what_to_do_for_every_alert() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for rule in _rules():
        assert rule["alert"] in operations, f"docs/operations.md says nothing of {rule['alert']}"


# ------------------------------------------------------------------------------ Grafana


def test_the_dashboards_are_the_expected_five_with_unique_uids_and_titles() -> None:
    dashboards = _dashboards()
    assert set(dashboards) == {
        "england-overview.json",
        "icb-system.json",
        "place-scorecard.json",
        "data-completeness.json",
        "service-health.json",
    }
    uids = [d["uid"] for d in dashboards.values()]
    titles = [d["title"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids) and len(set(titles)) == len(titles)
    assert all(0 < len(uid) <= 40 for uid in uids)  # Grafana's limit


def test_every_panel_queries_only_contract_metrics() -> None:
    for file, dashboard in _dashboards().items():
        panels = [p for p in _panels(dashboard) if p.get("type") != "row"]
        assert panels, file
        ids = [panel["id"] for panel in panels]
        assert len(set(ids)) == len(ids), f"{file}: duplicate panel ids"
        for panel in panels:
            where = f"{file} panel {panel['id']} {panel['title']!r}"
            assert panel["targets"], where
            refs = [target["refId"] for target in panel["targets"]]
            assert len(set(refs)) == len(refs), where
            for target in panel["targets"]:
                datasource = target.get("datasource") or panel.get("datasource")
                assert datasource["uid"] == "prometheus", where
                assert_contract(target["expr"], where)


def _variables(dashboard: dict[str, Any]) -> dict[str, str]:
    found = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable["query"]
        found[variable["name"]] = query["query"] if isinstance(query, dict) else query
    return found


def test_template_variables_select_icb_then_place() -> None:
    dashboards = _dashboards()
    icb_query = "label_values(joinedup_outcome_status, icb)"
    assert _variables(dashboards["icb-system.json"]) == {"icb": icb_query}
    assert _variables(dashboards["place-scorecard.json"]) == {
        "icb": icb_query,
        "place": 'label_values(joinedup_outcome_status{icb="$icb"}, place)',
    }
    for file, dashboard in dashboards.items():
        for name, query in _variables(dashboard).items():
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", query)
            assert match, f"{file} ${name}: {query}"
            assert_contract(match.group(1), f"{file} ${name}")


def test_dashboards_show_names_not_only_codes() -> None:
    scorecard = json.dumps(_dashboards()["place-scorecard.json"])
    assert "joinedup_area_info" in scorecard and "label_replace(" in scorecard
    assert "joinedup_metric_info" in scorecard


# ------------------------------------------------------------------------------ Kubernetes


def test_every_kubernetes_document_is_named_and_listed_in_the_kustomization() -> None:
    for path, doc in _k8s_documents():
        assert {"apiVersion", "kind", "metadata"} <= set(doc), path
        assert doc["metadata"]["name"], path
    kustomization = _yaml(K8S / "kustomization.yaml")
    listed = set(kustomization["resources"])
    for resource in listed:
        assert (K8S / resource).is_file(), resource
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == manifests - {"secret.example.yaml"}, (
        "every manifest but the example Secret belongs in kustomization.yaml"
    )
    assert kustomization["namespace"] == "joinedup"


def _pod_specs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for doc in _of_kind("Deployment") + _of_kind("Job")
    ]


def test_deployments_probe_the_right_paths_and_run_their_service() -> None:
    deployments = {d["metadata"]["name"]: d for d in _of_kind("Deployment")}
    assert set(deployments) == set(SERVICES) | {WORKER, WEB}
    (worker,) = deployments[WORKER]["spec"]["template"]["spec"]["containers"]
    assert worker["args"] == WORKER_COMMAND and "command" not in worker
    assert {p["name"]: p["containerPort"] for p in worker["ports"]} == {"http": WORKER_PORT}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert worker[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    annotations = deployments[WORKER]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(WORKER_PORT)
    for name, (module, port, _) in SERVICES.items():
        template = deployments[name]["spec"]["template"]
        (container,) = template["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": port}
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            http_get = container[probe]["httpGet"]
            assert http_get["path"] == path, (name, probe)
            assert ports.get(http_get["port"], http_get["port"]) == port, (name, probe)
        # `command` would bypass the entrypoint that empties PROMETHEUS_MULTIPROC_DIR.
        assert "command" not in container, name
        args = container["args"]
        assert args[:3] == ["uvicorn", f"services.{module}.main:create_app", "--factory"]
        assert args[args.index("--port") + 1] == str(port)
        assert "--workers" in args
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)


def test_the_web_app_runs_one_process_over_the_apis_with_no_database_or_service_key() -> None:
    (container,) = {d["metadata"]["name"]: d for d in _of_kind("Deployment")}[WEB]["spec"][
        "template"
    ]["spec"]["containers"]
    args = container["args"]
    assert args[:3] == ["uvicorn", "services.web.main:create_app", "--factory"]
    assert args[args.index("--port") + 1] == str(WEB_PORT)
    assert args[args.index("--workers") + 1] == "1"
    assert "env" not in container  # nothing secret: no database URL, no service key
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    web = _compose()["services"][WEB]
    command = web["command"]
    assert command[command.index("--workers") + 1] == "1"
    assert command[command.index("--port") + 1] == str(WEB_PORT)
    assert not {"JOINEDUP_DATABASE_URL", "JOINEDUP_SERVICE_KEY"} & set(web["environment"])
    assert web["environment"]["JOINEDUP_TARGETS_API_URL"] == "http://targets-api:8002"
    assert set(web["depends_on"]) == set(SERVICES)


def test_every_uvicorn_formats_its_lines_like_the_services_in_the_format_chosen() -> None:
    """uvicorn's own lines (start-up, errors) follow services/common/log_config.json only when
    it is given ``--log-config``: the file the image copies there, the package's own."""
    [copied] = [
        arguments.split()[-1]
        for stage in _dockerfile_stages()
        for instruction, arguments in stage
        if instruction == "COPY" and "services/common/log_config.json" in arguments.split()
    ]
    deployments = {d["metadata"]["name"]: d for d in _of_kind("Deployment")}
    commands = {
        f"k8s {name}": container["args"]
        for name in (*SERVICES, WEB)
        for container in deployments[name]["spec"]["template"]["spec"]["containers"]
    } | {f"compose {name}": _compose()["services"][name]["command"] for name in (*SERVICES, WEB)}
    for where, command in commands.items():
        assert command[0] == "uvicorn", where
        assert command[command.index("--log-config") + 1] == copied, where
    # A cluster's collector reads JSON; a person reading `docker compose logs`, text.
    in_cluster = _yaml(DEPLOY / "k8s" / "configmap.yaml")["data"]["JOINEDUP_LOG_FORMAT"]
    assert LogSettings(log_format=in_cluster).log_format == "json"
    in_compose = _compose()["x-joinedup-database"]["JOINEDUP_LOG_FORMAT"]
    assert in_compose == "${JOINEDUP_LOG_FORMAT:-text}"


def test_pods_run_as_non_root_with_a_read_only_root() -> None:
    for name, spec in _pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        mounts_by_volume = {}
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            mounts_by_volume.update({m["name"]: m["mountPath"] for m in container["volumeMounts"]})
        empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        writable = {path for volume, path in mounts_by_volume.items() if volume in empty_dirs}
        assert "/tmp" in writable, name
        for container in spec["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            if multiproc := env.get("PROMETHEUS_MULTIPROC_DIR"):
                assert any(multiproc["value"].startswith(path + "/") for path in writable), name


def test_pods_use_only_keys_that_the_configmap_and_secret_define() -> None:
    (configmap,) = _of_kind("ConfigMap")
    config_keys = _configmap_keys()
    secret = _secret_example()
    secret_keys = set(secret["stringData"])
    assert secret_keys == {"database-url", "service-key"} | {
        f"{service.replace('_', '-')}-database-url" for service in SERVICE_ROLES
    }
    assert all("CHANGE-ME" in value for value in secret["stringData"].values())
    for name, spec in _pod_specs():
        for container in spec["containers"]:
            defined = set()
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] == configmap["metadata"]["name"], name
                defined |= config_keys
            for variable in container.get("env", []):
                defined.add(variable["name"])
                reference = variable.get("valueFrom", {})
                if "configMapKeyRef" in reference:
                    assert reference["configMapKeyRef"]["name"] == configmap["metadata"]["name"]
                    assert reference["configMapKeyRef"]["key"] in config_keys, (name, variable)
                if "secretKeyRef" in reference:
                    assert reference["secretKeyRef"]["name"] == secret["metadata"]["name"], name
                    assert reference["secretKeyRef"]["key"] in secret_keys, (name, variable)
            # Each service reaches the database as its own role, the migrations as the owner;
            # the web app asks the APIs and must not be able to reach the database at all.
            databases = {variable for variable in defined if variable.endswith("DATABASE_URL")}
            role = SERVICE_ROLES.get(name.replace("-", "_"))
            if role is not None:
                assert databases == {role.url_variable}, name
            else:
                assert databases == (set() if name == WEB else {"JOINEDUP_DATABASE_URL"}), name
            for used in re.findall(r"\$\((\w+)\)", " ".join(container.get("args", []))):
                assert used in defined, f"{name}: $({used}) is not defined"
    callers = {d["metadata"]["name"]: d for d in _of_kind("Deployment")}
    for name in ("targets-api", "ingest", WORKER):  # they call their peers
        (container,) = callers[name]["spec"]["template"]["spec"]["containers"]
        assert "JOINEDUP_SERVICE_KEY" in {e["name"] for e in container["env"]}, name
    assert config_keys >= {"JOINEDUP_METRICS_API_URL", "JOINEDUP_TARGETS_API_URL"}


def test_services_and_autoscalers_cover_every_api_deployment() -> None:
    """The worker answers no requests and its work does not grow with CPU: no Service, no
    autoscaler, a fixed replica count."""
    deployments = {d["metadata"]["name"]: d for d in _of_kind("Deployment")}
    assert deployments.pop(WORKER)["spec"]["replicas"] >= 1
    services = {s["metadata"]["name"]: s for s in _of_kind("Service")}
    # The web app's sessions live in its process: one replica, no autoscaler, sticky clients.
    web = deployments.pop(WEB)
    assert web["spec"]["replicas"] == 1
    web_service = services.pop(WEB)["spec"]
    assert web_service["selector"].items() <= web["spec"]["template"]["metadata"]["labels"].items()
    assert web_service["sessionAffinity"] == "ClientIP"
    assert [(p["port"], p["targetPort"]) for p in web_service["ports"]] == [(WEB_PORT, "http")]
    autoscalers = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in _of_kind("HorizontalPodAutoscaler")
    }
    assert set(services) == set(deployments) == set(autoscalers)
    for name, deployment in deployments.items():
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        service = services[name]["spec"]
        assert service["selector"].items() <= pod_labels.items(), name
        (port,) = service["ports"]
        assert port["port"] == SERVICES[name][1] and port["targetPort"] == "http"
        autoscaler = autoscalers[name]
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert autoscaler["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 2 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
        (metric,) = autoscaler["spec"]["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
        # With an autoscaler, a fixed replica count would fight it on every apply.
        assert "replicas" not in deployment["spec"], name
    # The URLs the services find each other by are these Services.
    config = _of_kind("ConfigMap")[0]["data"]
    for name, (module, port, _) in SERVICES.items():
        variable = "JOINEDUP_INGEST_URL" if module == "ingest" else f"JOINEDUP_{module.upper()}_URL"
        assert config[variable] == f"http://{name}:{port}"


def test_the_migration_job_upgrades_and_seeds() -> None:
    (job,) = _of_kind("Job")
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    script = " ".join(container["args"])
    assert "joinedup db upgrade" in script and "joinedup seed" in script
    assert script.index("db upgrade") < script.index("seed")
