"""`joinedup up` end to end: real processes on real ports, stopped by real signals."""

import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from services.supervisor import MAX_RESTARTS
from tests.support.clients import bearer
from tests.support.up import (
    JOINEDUP,
    SERVICES,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    Up,
    free_ports,
    is_alive,
    keys_create,
    postgres_processes,
    postmaster,
    server_env,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e

KEY_LINE = re.compile(r"^(jdu_[0-9a-f]{12}_[A-Za-z0-9_-]{43})$", re.MULTILINE)


def printed_keys(up: Up) -> list[str]:
    return KEY_LINE.findall(up.output)


def areas_status(up: Up, key: str) -> int:
    """What the running metrics_api answers to GET /v1/areas with ``key``."""
    return httpx.get(
        f"{up.url('metrics_api')}/v1/areas", headers=bearer(key), timeout=5.0
    ).status_code


def assert_stops_cleanly(up: Up, signum: int = signal.SIGINT) -> None:
    started = up.descendants()
    assert up.services().keys() == set(SERVICES)
    assert up.stop(signum) == 0, up.output
    assert "joinedup stopped." in up.output
    assert [p.pid for p in started if is_alive(p)] == []


def uvicorn_workers(master: psutil.Process) -> list[psutil.Process]:
    """The worker processes uvicorn spawned (not multiprocessing's resource tracker)."""
    return [p for p in master.children() if "spawn_main" in " ".join(p.cmdline())]


def test_first_run_prints_the_services_and_an_admin_key_that_works(start_up, empty_database_url):
    up = start_up(server_env(empty_database_url))
    up.wait_until_running()

    for service in ("metrics_api", "targets_api", "ingest"):
        url = up.url(service)
        assert re.search(rf"{service}\s+{url}\s+docs: {url}/docs", up.output)
        assert httpx.get(f"{url}/docs", timeout=5.0).status_code == 200
    # The fourth supervised process: the worker, with its health and metrics.
    worker = up.url("worker")
    assert re.search(rf"worker\s+{worker}\s+metrics: {worker}/metrics", up.output)
    assert "joinedup_progress_refresh_seconds_count" in httpx.get(f"{worker}/metrics").text
    # The fifth: the web app, which asks the APIs and needs no database of its own.
    web = up.url("web")
    assert re.search(rf"web\s+{web}\s+sign-in: {web}/sign-in", up.output)
    assert httpx.get(f"{web}/sign-in", timeout=5.0).status_code == 200
    assert httpx.get(f"{web}/readyz", timeout=5.0).json()["status"] == "ok"
    assert len(up.services()) == 5
    [key] = printed_keys(up)
    assert areas_status(up, key) == 200
    assert_stops_cleanly(up)


def test_a_killed_service_and_a_killed_worker_are_restarted_loudly(start_up, database_url):
    up = start_up(server_env(database_url))
    up.wait_until_running()
    [key] = printed_keys(up)
    victims = {name: up.services()[name] for name in ("metrics_api", "worker")}

    for victim in victims.values():
        victim.kill()

    for name, victim in victims.items():
        up.wait_for_output(f"!!! {name} (port {up.ports[name]}) exited with code -9; restarting it")
        eventually(
            lambda name=name: up.is_ready(name),
            what=f"{name} ready again",
            timeout_s=START_TIMEOUT_S,
        )
        assert up.services()[name].pid != victim.pid
    assert areas_status(up, key) == 200
    assert_stops_cleanly(up, signal.SIGTERM)  # as a container runtime or systemd stops it


def test_a_service_of_several_processes_adds_up_restarts_whole_and_stops_whole(
    start_up, database_url
):
    up = start_up(server_env(database_url), workers=2)
    up.wait_until_running()
    targets_api = up.url("targets_api")
    assert re.search(rf"targets_api\s+{targets_api}\s+docs: .*\(2 processes\)", up.output)
    master = up.services()["targets_api"]
    workers = uvicorn_workers(master)
    assert len(workers) == 2, workers

    # Killed outright, its uvicorn workers would keep the port: `up` ends them and starts anew.
    master.kill()

    up.wait_for_output(
        f"!!! targets_api (port {up.ports['targets_api']}) exited with code -9; restarting it"
    )
    eventually(
        lambda: up.is_ready("targets_api"),
        what="targets_api ready again",
        timeout_s=START_TIMEOUT_S,
    )
    assert [p.pid for p in workers if is_alive(p)] == []
    assert len(uvicorn_workers(up.services()["targets_api"])) == 2
    assert_stops_cleanly(up)


def test_a_crash_looping_service_stops_everything_with_exit_code_1(start_up, database_url):
    up = start_up(server_env(database_url))
    up.wait_until_running()
    bystanders = [process for name, process in up.services().items() if name != "metrics_api"]
    killed: set[int] = set()

    deadline = time.monotonic() + START_TIMEOUT_S
    while up.process.poll() is None and time.monotonic() < deadline:
        service = up.service("metrics_api")
        if service is not None and service.pid not in killed:
            killed.add(service.pid)
            service.kill()
        time.sleep(0.05)

    assert up.process.wait(timeout=STOP_TIMEOUT_S) == 1
    assert len(killed) == MAX_RESTARTS + 1
    assert f"metrics_api died {MAX_RESTARTS + 1} times" in up.output
    assert "stopping everything" in up.output
    assert [p.pid for p in bystanders if is_alive(p)] == []


def test_a_closed_terminal_stops_everything(start_up, database_url):
    up = start_up(server_env(database_url))
    up.wait_until_running()

    assert_stops_cleanly(up, signal.SIGHUP)


def test_services_stop_when_the_supervisor_is_killed_outright(start_up, database_url):
    up = start_up(server_env(database_url))
    up.wait_until_running()
    services = up.services().values()

    up.process.kill()

    eventually(
        lambda: not any(is_alive(p) for p in services),
        what="every service has exited",
        timeout_s=STOP_TIMEOUT_S,
    )


def test_a_busy_port_is_refused_before_anything_starts(database_url):
    targets, ingest = free_ports(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        result = subprocess.run(
            [
                *JOINEDUP,
                "up",
                f"--metrics-port={busy}",
                f"--targets-port={targets}",
                f"--ingest-port={ingest}",
            ],
            env=server_env(database_url),
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode == 1
    assert f"port {busy} on 127.0.0.1 is already in use" in result.stderr
    assert "database:" not in result.stdout


def test_embedded_database_stops_with_up_and_keeps_its_data(start_up, embedded_env):
    data_dir = Path(embedded_env["JOINEDUP_DATA_DIR"])

    first = start_up(embedded_env)
    first.wait_until_running()
    assert postmaster(data_dir).is_running()
    [key] = printed_keys(first)
    assert areas_status(first, key) == 200
    beside = keys_create(embedded_env, "beside up")
    # The command let go of the server when it ended; the server stays up for `up`.
    assert areas_status(first, beside) == 200
    assert_stops_cleanly(first)
    assert postgres_processes(data_dir) == []

    second = start_up(embedded_env)
    second.wait_until_running()
    assert printed_keys(second) == []
    assert areas_status(second, key) == 200
    assert_stops_cleanly(second)
    assert postgres_processes(data_dir) == []
