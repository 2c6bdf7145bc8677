"""What both ingest benchmarks share: a throwaway `joinedup up` and the data they send it.

The suite runs on a fresh embedded database in a temporary data folder, on ports the kernel
picks, so a benchmark never touches a developer's own data and can run beside `joinedup up`.
"""

import argparse
import collections
import contextlib
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import httpx
import psutil
import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[1]
# Run from the checkout this file is in, whatever `joinedup` the environment has installed.
JOINEDUP = [sys.executable, "-c", "from services.cli import app; app(prog_name='joinedup')"]
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
KEY_PREFIX = "jdu_"
METRIC_PREFIX = "bench-m"


def say(message: str) -> None:
    print(message, flush=True)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Suite:
    """One `joinedup up` on its own data folder; a context manager that always cleans up."""

    def __init__(self, *, pg_settings: dict[str, str] | None = None) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="joinedup-bench-"))
        names = ("metrics_api", "targets_api", "ingest", "worker")
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        self.pg_settings = pg_settings or {}
        self.admin_key = ""
        self.output: collections.deque[str] = collections.deque(maxlen=200)
        self._running = threading.Event()
        self.process: subprocess.Popen[str] | None = None
        self.startup_s = 0.0

    def __enter__(self) -> "Suite":
        # A SIGTERM (a CI timeout, say) would otherwise end us without stopping the suite.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        started = time.perf_counter()
        env = {**os.environ, "JOINEDUP_DATA_DIR": str(self.data_dir)}
        env.pop("JOINEDUP_DATABASE_URL", None)  # always the embedded server, always fresh
        options = [f"--{name.split('_')[0]}-port={port}" for name, port in self.ports.items()]
        self.process = subprocess.Popen(
            [*JOINEDUP, "up", *options],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read_output, daemon=True).start()
        self._wait_until_running()
        if self.pg_settings:
            self._apply_pg_settings()
        self.startup_s = time.perf_counter() - started

    def _apply_pg_settings(self) -> None:
        """Server settings for every session, set as the superuser. They cannot go in PGOPTIONS:
        the services connect as their own roles (services/common/roles.py), which may not set
        superuser-only parameters such as ``session_preload_libraries``, so every connection
        would be refused. The services' open connections are ended so that each pool opens
        new ones with the settings (pool_pre_ping finds them closed)."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            for name, value in self.pg_settings.items():
                conn.execute(
                    # The names are this module's own, dotted ones included, so not quoted.
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.SQL(name), sql.Literal(value))
                )
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE backend_type = 'client backend' AND usename <> current_user"
            )

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            if line.startswith(KEY_PREFIX):
                self.admin_key = line.strip()
            elif line.startswith("joinedup is running"):
                self._running.set()

    def _wait_until_running(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._running.wait(0.2):
            assert self.process is not None
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("joinedup up did not start:\n" + "".join(self.output))
        if not self.admin_key:
            raise RuntimeError("joinedup up printed no admin key on a fresh data folder")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    @property
    def database_url(self) -> str:
        """The embedded server listens only on a Unix socket in its data folder."""
        return f"postgresql://postgres@/joinedup?host={self.data_dir / 'postgres'}"

    @property
    def server_log(self) -> Path:
        return self.data_dir / "postgres" / "log"

    def ingest_process(self) -> psutil.Process:
        assert self.process is not None
        for child in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.Error):
                if any("services.ingest.main" in part for part in child.cmdline()):
                    return child
        raise RuntimeError("no ingest process under joinedup up")

    def postgres_processes(self) -> list[psutil.Process]:
        """The server and its backends; the pid file's first line is the postmaster's."""
        pid_file = self.data_dir / "postgres" / "postmaster.pid"
        postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
        return [postmaster, *postmaster.children()]

    def place_codes(self) -> list[str]:
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute("SELECT code FROM area WHERE level = 'place' ORDER BY code")
            return [code for (code,) in rows]

    def create_monthly_proportions(self, count: int) -> list[str]:
        """National monthly proportion metrics ``bench-m01``...; they die with the database."""
        codes = [f"{METRIC_PREFIX}{i:02d}" for i in range(1, count + 1)]
        with httpx.Client(
            base_url=self.url("metrics_api"), headers=self.headers, timeout=30.0
        ) as client:
            for code in codes:
                client.post("/v1/metrics", json=_proportion_definition(code)).raise_for_status()
        return codes

    def describe(self) -> str:
        with psycopg.connect(self.database_url) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        return (
            f"suite: up in {self.startup_s:.1f} s on PostgreSQL {version} "
            f"({self.data_dir}); load average {os.getloadavg()[0]:.1f}"
        )


class CpuUse:
    """CPU seconds the ingest process, the database server and this process use over a block."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite
        self.used: dict[str, float] = {}

    def _groups(self) -> dict[str, list[psutil.Process]]:
        ingest = self.suite.ingest_process()
        return {
            # With several uvicorn processes, its children answer the requests.
            "ingest": [ingest, *ingest.children(recursive=True)],
            "postgres": self.suite.postgres_processes(),
            "client": [psutil.Process()],
        }

    def _sample(self) -> dict[str, dict[int, float]]:
        return {
            name: {p.pid: _cpu_seconds(p) for p in group} for name, group in self._groups().items()
        }

    def __enter__(self) -> "CpuUse":
        self._start = self._sample()
        return self

    def __exit__(self, *exc_info: object) -> None:
        end = self._sample()
        self.used = {
            name: sum(cpu - self._start[name].get(pid, 0.0) for pid, cpu in pids.items())
            for name, pids in end.items()
        }

    def summary(self, elapsed_s: float) -> str:
        return "cpu: " + ", ".join(
            f"{name} {cpu:.1f} s ({cpu / elapsed_s:.0%} of a core)"
            for name, cpu in self.used.items()
        )


def _cpu_seconds(process: psutil.Process) -> float:
    """Its own CPU time and that of children it has reaped (backends that have exited)."""
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system + times.children_user + times.children_system


def add_server_options(parser: argparse.ArgumentParser, *, plan_ms: int) -> None:
    """--explain and --pg, which benchmarks that run statements on the server share."""
    parser.add_argument(
        "--explain",
        action="store_true",
        help=f"print the server's time by statement during the load, and the plans of "
        f"statements over {plan_ms} ms (slows the load: for profiling, not for the figures)",
    )
    parser.add_argument(
        "--pg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting for every session, e.g. --pg work_mem=64MB (repeatable; the "
        "baseline runs with it too): to try a setting against the figures",
    )


def server_settings(args: argparse.Namespace, *, plan_ms: int) -> dict[str, str]:
    """The settings --explain and --pg asked for."""
    settings = explain_options(plan_ms) if args.explain else {}
    for setting in args.pg:
        name, equals, value = setting.partition("=")
        if not equals:
            raise SystemExit(f"--pg {setting}: expected NAME=VALUE")
        settings[name.strip()] = value.strip()
    return settings


def explain_options(plan_ms: int) -> dict[str, str]:
    """Server settings that log every statement's duration, and the plan of those over
    ``plan_ms``."""
    return {
        "log_min_duration_statement": "0",
        "session_preload_libraries": "auto_explain",
        "auto_explain.log_min_duration": str(plan_ms),
        "auto_explain.log_analyze": "on",
        "auto_explain.log_buffers": "on",
    }


class ServerLog:
    """What the server logs from now on (the embedded server writes one file)."""

    def __init__(self, suite: Suite) -> None:
        self.path = suite.server_log
        self.offset = self.path.stat().st_size

    def entries(self) -> list[str]:
        """Entries from the mark on, each with its continuation lines (which start with a tab)."""
        with self.path.open(encoding="utf-8", errors="replace") as log:
            log.seek(self.offset)
            text = log.read()
        return [entry for entry in re.split(r"\n(?!\t)", text) if entry.strip()]

    def statement_times(self) -> list[tuple[str, int, float]]:
        """(statement, calls, total ms) from the duration entries, the most time first."""
        calls: collections.Counter[str] = collections.Counter()
        total_ms: dict[str, float] = collections.defaultdict(float)
        for entry in self.entries():
            if match := _DURATION.search(entry):
                statement = " ".join(_COMMENT.sub("", match[2]).split())[:90]
                calls[statement] += 1
                total_ms[statement] += float(match[1])
        by_time = sorted(total_ms.items(), key=lambda item: item[1], reverse=True)
        return [(statement, calls[statement], ms) for statement, ms in by_time]

    def plans(self) -> list[str]:
        return [entry for entry in self.entries() if " plan:" in entry.split("\n", 1)[0]]

    def report(self, *, top: int = 15) -> None:
        times = self.statement_times()
        grand_ms = sum(ms for _, _, ms in times) or 1.0
        say(f"server time by statement ({grand_ms / 1000:.1f} s in all):")
        for statement, count, ms in times[:top]:
            say(
                f"  {ms / 1000:7.2f} s {ms / grand_ms:4.0%} {count:6d} x {ms / count:8.1f} ms  "
                f"{statement}"
            )
        for plan in self.plans():
            say(plan)


_DURATION = re.compile(r"duration: ([0-9.]+) ms  (?:statement|execute [^:]*): (.*)", re.S)
_COMMENT = re.compile(r"--[^\n]*")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _proportion_definition(code: str) -> dict[str, object]:
    return {
        "code": code,
        "scope": "national",
        "name": f"Benchmark proportion {code}",
        "domain": "Benchmark",
        "kind": "proportion",
        "multiplier": 100,
        "unit": "%",
        "direction": "higher_is_better",
        "periodicity": "monthly",
        "decimals": 1,
    }


def ended_months(count: int, *, today: date | None = None) -> list[str]:
    """The ``count`` most recent months that have ended, oldest first (``2025-07`` form)."""
    today = today or date.today()
    last = today.year * 12 + today.month - 2  # months since year 0 of last month
    return [f"{m // 12}-{m % 12 + 1:02d}" for m in range(last - count + 1, last + 1)]


def months_needed(rows: int, places: int, metrics: int) -> int:
    return math.ceil(rows / (places * metrics))


def proportion(seed: int) -> tuple[float, int, int]:
    """A valid (value, numerator, denominator) for a proportion x 100 to one decimal."""
    numerator = seed % 1000
    return numerator / 10, numerator, 1000
