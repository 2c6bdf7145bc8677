"""Runs the three services and the worker as separate uvicorn processes for `joinedup up`.

A service may be served by several uvicorn worker processes behind its one port (``workers``,
`joinedup up --workers N`); it then gets a directory of its own for prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR), emptied whenever the service starts, so its
/metrics adds up all its processes whichever one answers.

Policy when a service dies: it is restarted at once, loudly, because a crash of one service
should not take the others down (ingest keeps taking data while targets_api restarts). A service
is restarted at most ``MAX_RESTARTS`` times within ``RESTART_WINDOW_S``; dying once more in that
window means it is crash-looping, and everything stops with exit code 1 so the operator sees the
fault instead of a flapping suite.

The embedded PostgreSQL, when `up` uses it, is watched the same way: if its server dies it is
started again, loudly, on the same socket (the services reconnect by themselves), under the same
crash-loop policy. A server some other joinedup command started meanwhile is adopted, not
doubled. A database of one's own (JOINEDUP_DATABASE_URL) is not ours to manage and is not watched.

A service's processes are its own session: what a dead one leaves behind (uvicorn's worker
processes outlive their parent killed outright, and keep its port) is killed before it starts
again.

Ctrl-C, SIGTERM and SIGHUP (a closed terminal) stop every service and exit 0 (the embedded server
is stopped when `up` lets go of it at exit, see services/common/embedded.py). The services run in
their own sessions, so a terminal's signals reach only the supervisor; on Linux the kernel also
stops each service if the supervisor itself is killed outright, so none is left holding its port.
"""

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.common.embedded import EmbeddedServer
from services.common.logs import LOG_CONFIG_FILE

MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
STOP_GRACE_S = 10.0
READY_TIMEOUT_S = 60.0
_PR_SET_PDEATHSIG = 1
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


@dataclass
class RestartBudget:
    """The crash-loop policy, one per watched process: at most ``MAX_RESTARTS`` restarts within
    ``RESTART_WINDOW_S``."""

    times: deque[float] = field(default_factory=deque)

    def spend(self) -> bool:
        """Count one more restart; False (and nothing counted) when none is left."""
        now = time.monotonic()
        while self.times and now - self.times[0] > RESTART_WINDOW_S:
            self.times.popleft()
        if len(self.times) >= MAX_RESTARTS:
            return False
        self.times.append(now)
        return True

    def __str__(self) -> str:
        return f"{len(self.times)} of {MAX_RESTARTS} restarts allowed per {RESTART_WINDOW_S:.0f} s"


def _crash_looping(name: str, detail: str) -> None:
    shout(
        f"{name} died {MAX_RESTARTS + 1} times within {RESTART_WINDOW_S:.0f} s ({detail}); "
        f"stopping everything."
    )


@dataclass
class ServiceProcess:
    name: str
    factory: str
    port: int
    workers: int = 1  # uvicorn worker processes behind the port
    env: dict[str, str] = field(default_factory=dict)  # beside the supervisor's own
    page: str = "docs"  # what `announce` points at: /docs, or /metrics for the worker
    process: subprocess.Popen | None = None
    restarts: RestartBudget = field(default_factory=RestartBudget)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def say(message: str) -> None:
    print(message, flush=True)


def shout(message: str) -> None:
    print(f"\n!!! {message}\n", file=sys.stderr, flush=True)


def busy_ports(host: str, ports: list[int]) -> list[int]:
    """The ports a service could not listen on (a port named twice counts as busy)."""
    busy = []
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.ExitStack() as held:
        for port in ports:
            probe = held.enter_context(socket.socket(family, socket.SOCK_STREAM))
            # As uvicorn does, so a port left in TIME_WAIT by a previous run is not "busy".
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
                probe.listen()
            except OSError:
                busy.append(port)
    return busy


class Supervisor:
    def __init__(
        self,
        services: list[ServiceProcess],
        *,
        host: str,
        env: dict[str, str],
        on_ready: Callable[[], None] | None = None,
        database: EmbeddedServer | None = None,
    ) -> None:
        self.services = services
        self.database = database
        self.database_restarts = RestartBudget()
        self.host = host
        # One multiprocess directory per run would be counted by every service: each service
        # that needs one gets its own below this, made when first needed, removed at the end.
        self.env = {name: value for name, value in env.items() if name != MULTIPROC_DIR}
        self.metrics_root: Path | None = None
        self.stopping = threading.Event()
        # Called once, in the supervising thread, when every service is first ready (as
        # `joinedup up --demo` starts its loader). It must return at once: start a thread.
        self.on_ready = on_ready

    def start(self, service: ServiceProcess) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            service.factory,
            "--factory",
            "--host",
            self.host,
            "--port",
            str(service.port),
            "--no-access-log",
            "--log-config",
            str(LOG_CONFIG_FILE),
            "--log-level",
            "warning",
            "--timeout-graceful-shutdown",
            "5",
            "--workers",
            str(service.workers),
        ]
        env = {**self.env, **service.env}
        if service.workers > 1:
            env[MULTIPROC_DIR] = str(self._empty_metrics_dir(service))
        # Its own session: a terminal's Ctrl-C reaches only the supervisor, which then stops
        # the services in order instead of all of them racing to exit.
        service.process = subprocess.Popen(
            command,
            env=env,
            start_new_session=True,
            preexec_fn=_stop_with_parent(os.getpid()) if sys.platform == "linux" else None,
        )

    def _empty_metrics_dir(self, service: ServiceProcess) -> Path:
        """The service's multiprocess directory, emptied: files of processes that are gone
        would otherwise be added to the new ones' figures."""
        if self.metrics_root is None:
            self.metrics_root = Path(tempfile.mkdtemp(prefix="joinedup-metrics-"))
        directory = self.metrics_root / service.name
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir()
        return directory

    def wait_until_ready(self, timeout_s: float = READY_TIMEOUT_S) -> list[ServiceProcess]:
        """Wait until every service answers /readyz; returns those that did not."""
        deadline = time.monotonic() + timeout_s
        pending = list(self.services)
        while pending and time.monotonic() < deadline and not self.stopping.is_set():
            for service in list(pending):
                if service.process and service.process.poll() is not None:
                    return [service]
                try:
                    if httpx.get(f"{service.url}/readyz", timeout=1.0).status_code == 200:
                        pending.remove(service)
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)
        return pending

    def handle_exit(self, service: ServiceProcess) -> bool:
        """Restart a service that died; False when it is crash-looping."""
        code = service.process.returncode if service.process else None
        if not service.restarts.spend():
            _crash_looping(service.name, f"last exit code {code}")
            return False
        shout(
            f"{service.name} (port {service.port}) exited with code {code}; restarting it "
            f"({service.restarts})."
        )
        if service.process is not None:
            _end_leftovers(service.process)
        self.start(service)
        return True

    def handle_database_exit(self, database: EmbeddedServer) -> bool:
        """Start the embedded server again after it died; False when it is crash-looping.

        A start that fails is reported and counts: the next check finds the server still down
        and tries again, until the budget is spent."""
        if not self.database_restarts.spend():
            _crash_looping(
                database.name, f"data folder {database.pgdata}, log {database.server.log}"
            )
            return False
        shout(
            f"{database} died; restarting it ({self.database_restarts}). The services answer "
            f"503 until it is back."
        )
        try:
            say(f"database: {database.restart()}")
        except Exception as exc:  # reported loudly; the next check tries again
            shout(f"{database.name} did not start: {exc}")
        return True

    def run(self) -> int:
        """Start everything and watch it until a signal or a crash loop; returns the exit code."""
        try:
            for service in self.services:
                self.start(service)
            if failed := self.wait_until_ready():
                if self.stopping.is_set():
                    return 0
                shout(
                    f"{', '.join(_describe_failure(s) for s in failed)}; stopping everything. "
                    f"See the log above."
                )
                return 1
            self.announce()
            if self.on_ready is not None:
                self.on_ready()
            while not self.stopping.wait(0.5):
                if (
                    self.database
                    and not self.database.is_running()
                    and not self.handle_database_exit(self.database)
                ):
                    return 1
                for service in self.services:
                    if (
                        service.process
                        and service.process.poll() is not None
                        and not self.handle_exit(service)
                    ):
                        return 1
            return 0
        finally:
            self.stop_all()

    def announce(self) -> None:
        say("\njoinedup is running:")
        for service in self.services:
            processes = f" ({service.workers} processes)" if service.workers > 1 else ""
            say(
                f"  {service.name:<12} {service.url}   {service.page}: "
                f"{service.url}/{service.page}{processes}"
            )
        say("Press Ctrl-C to stop.\n")

    def stop_all(self) -> None:
        started = [s.process for s in self.services if s.process]
        running = [process for process in started if process.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
        for process in started:
            _end_leftovers(process)
        if self.metrics_root is not None:
            shutil.rmtree(self.metrics_root, ignore_errors=True)

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, lambda *_: self.stopping.set())


def _describe_failure(service: ServiceProcess) -> str:
    code = service.process.poll() if service.process else None
    if code is None:
        return f"{service.name} was not ready within {READY_TIMEOUT_S:.0f} s"
    return f"{service.name} (port {service.port}) failed to start (exit code {code})"


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def _end_leftovers(process: subprocess.Popen) -> None:
    """Kill whatever is left in the session of a service whose main process has ended (its
    uvicorn workers, when that process was killed outright), and wait until none is left, so
    the port is free for the next start."""
    _signal_group(process, signal.SIGKILL)
    deadline = time.monotonic() + STOP_GRACE_S
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _stop_with_parent(parent_pid: int) -> Callable[[], None]:
    """What a service runs before exec: SIGTERM from the kernel when the supervisor dies."""

    def arm() -> None:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:  # the supervisor died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    return arm
