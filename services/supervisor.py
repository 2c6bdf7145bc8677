"""Runs the three services as separate uvicorn processes for `joinedup up`.

Policy when a service dies: it is restarted at once, loudly, because a crash of one service
should not take the others down (ingest keeps taking data while targets_api restarts). If the
same service dies ``MAX_RESTARTS`` times within ``RESTART_WINDOW_S`` it is crash-looping, and
everything stops with exit code 1 so the operator sees the fault instead of a flapping suite.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import httpx

MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
STOP_GRACE_S = 10.0


@dataclass
class ServiceProcess:
    name: str
    factory: str
    port: int
    process: subprocess.Popen | None = None
    restarts: deque[float] = field(default_factory=deque)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def say(message: str) -> None:
    print(message, flush=True)


def shout(message: str) -> None:
    print(f"\n!!! {message}\n", file=sys.stderr, flush=True)


class Supervisor:
    def __init__(self, services: list[ServiceProcess], *, host: str, env: dict[str, str]) -> None:
        self.services = services
        self.host = host
        self.env = env
        self.stopping = threading.Event()

    def start(self, service: ServiceProcess) -> None:
        command = [sys.executable, "-m", "uvicorn", service.factory, "--factory",
                   "--host", self.host, "--port", str(service.port), "--no-access-log",
                   "--log-level", "warning", "--timeout-graceful-shutdown", "5"]
        # Its own session: a terminal's Ctrl-C reaches only the supervisor, which then stops
        # the services in order instead of all of them racing to exit.
        service.process = subprocess.Popen(command, env=self.env, start_new_session=True)

    def wait_until_ready(self, timeout_s: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout_s
        pending = {s.name: s for s in self.services}
        while pending and time.monotonic() < deadline and not self.stopping.is_set():
            for name, service in list(pending.items()):
                try:
                    if httpx.get(f"{service.url}/readyz", timeout=1.0).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
                if service.process and service.process.poll() is not None:
                    return False
            time.sleep(0.2)
        return not pending

    def handle_exit(self, service: ServiceProcess) -> bool:
        """Restart a service that died; False when it is crash-looping."""
        code = service.process.returncode if service.process else None
        now = time.monotonic()
        while service.restarts and now - service.restarts[0] > RESTART_WINDOW_S:
            service.restarts.popleft()
        if len(service.restarts) >= MAX_RESTARTS:
            shout(f"{service.name} died {MAX_RESTARTS + 1} times within {RESTART_WINDOW_S:.0f} s "
                  f"(last exit code {code}); stopping everything.")
            return False
        service.restarts.append(now)
        shout(f"{service.name} (port {service.port}) exited with code {code}; restarting it "
              f"({len(service.restarts)} of {MAX_RESTARTS} restarts allowed per "
              f"{RESTART_WINDOW_S:.0f} s).")
        self.start(service)
        return True

    def run(self) -> int:
        """Start everything and watch it until a signal or a crash loop; returns the exit code."""
        for service in self.services:
            self.start(service)
        exit_code = 0
        try:
            if not self.wait_until_ready():
                if not self.stopping.is_set():
                    shout("a service failed to start; see its log above.")
                    exit_code = 1
                return exit_code
            self.announce()
            while not self.stopping.wait(0.5):
                for service in self.services:
                    if service.process and service.process.poll() is not None \
                            and not self.handle_exit(service):
                        return 1
            return 0
        finally:
            self.stop_all()

    def announce(self) -> None:
        say("\njoinedup is running:")
        for service in self.services:
            say(f"  {service.name:<12} {service.url}   docs: {service.url}/docs")
        say("Press Ctrl-C to stop.\n")

    def stop_all(self) -> None:
        running = [s.process for s in self.services if s.process and s.process.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stopping.set())


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)
