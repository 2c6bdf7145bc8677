"""Run a service as a real uvicorn process for tests that cross a process boundary.

    with ServiceProcess.for_service("metrics_api", database_url) as metrics_api:
        httpx.get(f"{metrics_api.url}/readyz")
        metrics_api.stop()      # SIGTERM: a clean shutdown
        metrics_api.restart()   # the same port, so clients built with its URL reconnect
        metrics_api.kill()      # SIGKILL: a crash

Every wait is bounded; a service that fails to become ready raises with the tail of its log.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from typing import IO

import httpx
import psutil

from services.common.logs import LOG_CONFIG_FILE
from services.common.roles import role_urls

FACTORIES = {
    "metrics_api": "services.metrics_api.main:create_app",
    "targets_api": "services.targets_api.main:create_app",
    "ingest": "services.ingest.main:create_app",
    "worker": "services.worker.main:create_app",  # the refresher and the outbox deliverer
}
API_SERVICES = ("metrics_api", "targets_api", "ingest")  # the ones that answer the API
READY_TIMEOUT_S = 60.0
PORT_ATTEMPTS = 3


class PortTaken(RuntimeError):
    """The service could not bind its port: another process took it first."""


STOP_TIMEOUT_S = 10.0


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on right now (another process could take it, but rarely does),
    and never one handed out before in this process: a service kept down for a test holds no
    socket, so the kernel may offer its port again, to the next service started."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


class ServiceProcess:
    """One uvicorn process serving an app factory on 127.0.0.1."""

    def __init__(
        self,
        factory: str,
        *,
        env: Mapping[str, str],
        port: int | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
        workers: int = 1,
    ) -> None:
        self.factory = factory
        self.workers = workers
        self.env = {**os.environ, "JOINEDUP_LOG_LEVEL": "WARNING", **env}
        self._port_was_free_choice = port is None
        self.port = port or free_port()
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen | None = None
        # One log across restarts, so a failure late in a test still shows the whole story.
        # log() reads it through its own handle: seeking the one the child shares would move
        # where the child writes.
        fd, self.log_path = tempfile.mkstemp(prefix="joinedup-service-", suffix=".log")
        os.close(fd)
        self._log: IO[bytes] = open(self.log_path, "ab")  # noqa: SIM115 (closed in __exit__)

    @classmethod
    def for_service(cls, name: str, database_url: str, **kwargs) -> "ServiceProcess":
        """A joinedup service by name (``metrics_api``, ``targets_api``, ``ingest``, ``worker``),
        connected as its own database role (services/common/roles.py), as in production."""
        env = {
            "JOINEDUP_DATABASE_URL": database_url,
            **role_urls(database_url),
            **kwargs.pop("env", {}),
        }
        return cls(FACTORIES[name], env=env, **kwargs)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "ServiceProcess":
        if self.running:
            raise RuntimeError(f"{self.factory} is already running on port {self.port}")
        for attempt in range(PORT_ATTEMPTS):
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                self.factory,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-config",  # as `joinedup up` and the deploy manifests run them
                str(LOG_CONFIG_FILE),
                "--timeout-graceful-shutdown",
                "5",
                "--workers",
                str(self.workers),
            ]
            self.process = subprocess.Popen(
                command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
            )
            try:
                self.wait_ready()
                return self
            except PortTaken:
                # Another test's process took the port between free_port() and our bind.
                if not self._port_was_free_choice or attempt == PORT_ATTEMPTS - 1:
                    raise
                self.port = free_port()
        raise AssertionError("unreachable")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.running:
                log = self.log()
                error = PortTaken if "address already in use" in log.lower() else RuntimeError
                raise error(
                    f"{self.factory} exited with code "
                    f"{self.process and self.process.returncode}:\n{log}"
                )
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2.0)
            except httpx.HTTPError as exc:  # most often: not listening yet
                last = repr(exc)
            else:
                # Only our own server counts: another test's, on a port both found free, would
                # answer 200 while ours fails to bind (and its tests would talk to the wrong
                # database).
                if response.status_code == 200 and self._listening():
                    return
                last = f"{response.status_code} {response.text}"
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(
            f"{self.factory} was not ready within {self.ready_timeout_s} s "
            f"(last /readyz: {last}):\n{self.log()}"
        )

    def _listening(self) -> bool:
        """Whether our process (or one of its workers) holds the listening socket."""
        assert self.process is not None
        try:
            parent = psutil.Process(self.process.pid)
            processes = [parent, *parent.children(recursive=True)]
            return any(
                c.status == psutil.CONN_LISTEN and c.laddr.port == self.port
                for p in processes
                for c in p.net_connections(kind="tcp")
            )
        except psutil.NoSuchProcess:
            return False

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM and wait for a graceful exit; SIGKILL if it does not come in time."""
        self._end(signal.SIGTERM, timeout_s)

    def kill(self) -> None:
        self._end(signal.SIGKILL, STOP_TIMEOUT_S)

    def restart(self) -> "ServiceProcess":
        self.stop()
        return self.start()

    def _end(self, signum: int, timeout_s: float) -> None:
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signum)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def log(self, tail_bytes: int = 4000) -> str:
        """The end of what the process printed (uvicorn's own messages and errors)."""
        with open(self.log_path, "rb") as log:
            log.seek(max(0, os.path.getsize(self.log_path) - tail_bytes))
            return log.read().decode(errors="replace")

    def __enter__(self) -> "ServiceProcess":
        return self.start()

    def close(self) -> None:
        """Stop the process and delete its log."""
        self.stop()
        self._log.close()
        os.unlink(self.log_path)

    def __exit__(self, *_: object) -> None:
        self.close()
