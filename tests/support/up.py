"""`joinedup up` as a real process: its output as it comes, its supervised processes (the three
services and the worker), and the PostgreSQL processes of an embedded data folder. The
fixtures that start and clean up after it are in tests/e2e/conftest.py."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import psutil

from tests.support.services import free_port
from tests.support.waiting import eventually

JOINEDUP = [sys.executable, "-c", "from services.cli import app; app(prog_name='joinedup')"]
SERVICES = ("metrics_api", "targets_api", "ingest", "worker", "web")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, none handed out before in this run."""
    return [free_port() for _ in range(count)]


def is_alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Up:
    """One `joinedup up` process; its stdout and stderr are collected as they are written.
    One uvicorn process per service unless ``workers`` says more: tests share two cores."""

    def __init__(self, env: dict[str, str], workers: int = 1) -> None:
        self.ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
        options = [
            f"--metrics-port={self.ports['metrics_api']}",
            f"--targets-port={self.ports['targets_api']}",
            f"--ingest-port={self.ports['ingest']}",
            f"--worker-port={self.ports['worker']}",
            f"--web-port={self.ports['web']}",
            f"--workers={workers}",
        ]
        self.process = subprocess.Popen(
            [*JOINEDUP, "up", *options],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._lines: list[str] = []
        self._services_seen: dict[int, psutil.Process] = {}
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def is_ready(self, service: str) -> bool:
        try:
            return httpx.get(f"{self.url(service)}/readyz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_for_output(self, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
        eventually(
            lambda: text in self.output or self.process.poll() is not None,
            what=f"{text!r} in the output",
            timeout_s=timeout_s,
        )
        assert text in self.output, f"exited with {self.process.returncode}:\n{self.output}"

    def wait_until_running(self) -> None:
        """Every service answers /readyz and the supervisor has said so."""
        self.wait_for_output("Press Ctrl-C to stop.")
        assert all(self.is_ready(service) for service in SERVICES), self.output

    def service(self, name: str) -> psutil.Process | None:
        """The live process running service ``name``, if there is one now."""
        factory = f"services.{name}.main:create_app"
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if factory in child.cmdline() and is_alive(child):
                    self._services_seen[child.pid] = child
                    return child
            except psutil.NoSuchProcess:
                continue
        return None

    def services(self) -> dict[str, psutil.Process]:
        """Every supervised process, by name; fails unless all five are running."""
        found = {name: self.service(name) for name in SERVICES}
        running = {name: process for name, process in found.items() if process is not None}
        assert running.keys() == found.keys(), f"not every service is running: {found}"
        return running

    def descendants(self) -> list[psutil.Process]:
        """Every process `up` has started that is still there (a service's uvicorn workers
        too), but the database's: an embedded server is looked for by its data folder."""
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                if is_alive(child) and child.name() != "postgres":
                    found.append(child)
        return found

    def stop(self, signum: int = signal.SIGINT) -> int:
        os.kill(self.process.pid, signum)
        code = self.process.wait(timeout=STOP_TIMEOUT_S)
        self._reader.join(timeout=STOP_TIMEOUT_S)
        return code

    def kill_everything(self) -> None:
        """Teardown for a test that failed half-way: nothing it started may outlive it."""
        leftovers = list(self._services_seen.values())
        if self.process.poll() is None:
            leftovers += psutil.Process(self.process.pid).children(recursive=True)
            self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_S)
        for process in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()


def server_env(database_url: str) -> dict[str, str]:
    return {**os.environ, "JOINEDUP_DATABASE_URL": database_url}


def keys_create(env: dict[str, str], name: str) -> str:
    """`joinedup keys create` beside `up`, as an operator would run it; returns the key."""
    result = subprocess.run(
        [*JOINEDUP, "keys", "create", "--role=viewer", f"--name={name}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """Every PostgreSQL process working in the data folder: the server and its backends (which
    work in the folder but do not name it on their command line)."""
    folder = data_dir.resolve()
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if (
                process.info["name"] == "postgres"
                and is_alive(process)
                and folder in Path(process.cwd()).parents
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def postmaster(data_dir: Path) -> psutil.Process:
    """The server itself: the one PostgreSQL process whose parent is not one of them."""
    processes = postgres_processes(data_dir)
    pids = {process.pid for process in processes}
    [server] = [process for process in processes if process.ppid() not in pids]
    return server
