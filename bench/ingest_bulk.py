"""A bulk CSV through ingest's HTTP endpoint against a plain COPY of the same rows, in one run.

    python bench/ingest_bulk.py --rows 1000000

Starts `joinedup up` on a fresh embedded database, uploads N generated rows (places x metrics x
months, all valid) as one atomic CSV submission, then the same N keys again with other values
(N corrections: each supersedes a current version) while the worker is paused, then COPYs the
first file's bytes with psycopg into ``bench_observation``, a table shaped and indexed like
``observation``, on the same server. The COPY is the floor: the ratios say what validation,
versioning and HTTP cost on top of it, for a first load and for corrections.

Last line: ingest_bulk rows=N http_rows_per_s=X copy_rows_per_s=Y ratio=X/Y
corrections_rows_per_s=C corrections_ratio=C/Y peak_rss_mb=Z
"""

import argparse
import contextlib
import dataclasses
import itertools
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psutil
import psycopg
from psycopg import sql
from suite import (
    CpuUse,
    ServerLog,
    Suite,
    add_server_options,
    ended_months,
    months_needed,
    proportion,
    say,
    server_settings,
)

HEADER = b"place_code,metric_code,period,value,numerator,denominator,note\n"
CHUNK_ROWS = 20_000
METRICS = 50
UPLOAD_TIMEOUT_S = 3600.0
RSS_INTERVAL_S = 0.05
MB = 1024 * 1024
EXPLAIN_PLAN_MS = 250


@dataclass(frozen=True)
class Rows:
    """The N rows both paths load: every place, metric and month, in key order, cut at N."""

    places: list[str]
    metrics: list[str]
    periods: list[str]
    count: int
    lap: int = 0  # 1: every value differs from lap 0's, so each row is a correction

    def corrections(self) -> "Rows":
        return dataclasses.replace(self, lap=self.lap + 1)

    def keys(self) -> Iterator[tuple[str, str, str]]:
        every = itertools.product(self.places, self.metrics, self.periods)
        return itertools.islice(every, self.count)

    def csv_chunks(self) -> Iterator[bytes]:
        """The CSV body, made as it is sent: never more than one chunk in memory."""
        yield HEADER
        lines: list[str] = []
        for i, (place, metric, period) in enumerate(self.keys()):
            value, numerator, denominator = proportion(i + self.lap)
            lines.append(f"{place},{metric},{period},{value},{numerator},{denominator},\n")
            if len(lines) == CHUNK_ROWS:
                yield "".join(lines).encode()
                lines.clear()
        if lines:
            yield "".join(lines).encode()


class PeakRss:
    """Samples, in a thread while the block runs, the largest resident set among a process and
    its children: with several uvicorn processes, one child takes the upload."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = self._largest()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(RSS_INTERVAL_S):
            self.peak = max(self.peak, self._largest())

    def _largest(self) -> int:
        largest = 0
        for process in (self.process, *self.process.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):
                largest = max(largest, process.memory_info().rss)
        return largest


def plan_rows(suite: Suite, count: int) -> Rows:
    places = suite.place_codes()
    started = time.perf_counter()
    metrics = suite.create_monthly_proportions(METRICS)
    periods = ended_months(months_needed(count, len(places), len(metrics)))
    say(
        f"metrics: created {len(metrics)} monthly proportions in "
        f"{time.perf_counter() - started:.1f} s; rows span {len(places)} places x "
        f"{len(metrics)} metrics x {len(periods)} months ({periods[0]} to {periods[-1]})"
    )
    return Rows(places, metrics, periods, count)


def time_generation(rows: Rows) -> None:
    """How long the client alone takes to make the body: part of both timings below."""
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in rows.csv_chunks())
    say(
        f"csv: {rows.count} rows, {size / MB:.1f} MB, generated alone in "
        f"{time.perf_counter() - started:.2f} s"
    )


def checkpoint(suite: Suite) -> None:
    """Start each timed load with no dirty pages left over from the one before."""
    with psycopg.connect(suite.database_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")


@contextlib.contextmanager
def progress_paused(suite: Suite) -> Iterator[None]:
    """The worker stopped (SIGSTOP) while the block runs: the progress refresh the first load
    sets off would otherwise share the cores with the corrections and the COPY timed after it.
    Notices meanwhile wait in the outbox, which the worker delivers."""
    worker = next(
        child
        for child in psutil.Process(suite.process.pid).children()  # type: ignore[union-attr]
        if any("services.worker.main" in part for part in child.cmdline())
    )
    worker.suspend()
    try:
        yield
    finally:
        worker.resume()


def upload(suite: Suite, rows: Rows, what: str) -> tuple[float, int]:
    """POST the CSV as one atomic submission; returns (seconds, peak RSS of ingest)."""
    checkpoint(suite)
    ingest = suite.ingest_process()
    say(f"{what}: ingest pid {ingest.pid}, RSS {ingest.memory_info().rss / MB:.0f} MB before")
    with (
        PeakRss(ingest) as rss,
        CpuUse(suite) as cpu,
        httpx.Client(timeout=UPLOAD_TIMEOUT_S) as client,
    ):
        started = time.perf_counter()
        response = client.post(
            f"{suite.url('ingest')}/v1/submissions",
            params={"mode": "atomic"},
            content=rows.csv_chunks(),
            headers={**suite.headers, "Content-Type": "text/csv"},
        )
        elapsed = time.perf_counter() - started
    superseded = rows.count if rows.lap else 0
    if response.status_code != 201 or (
        response.json()["accepted"],
        response.json()["superseded"],
    ) != (rows.count, superseded):
        raise RuntimeError(f"upload failed: {response.status_code} {response.text[:2000]}")
    say(
        f"{what}: {rows.count} rows accepted in {elapsed:.2f} s "
        f"({rows.count / elapsed:,.0f} rows/s), {superseded} superseded; "
        f"ingest peak RSS {rss.peak / MB:.0f} MB"
    )
    say(f"{what}: {cpu.summary(elapsed)}")
    return elapsed, rss.peak


def copy_baseline(suite: Suite, rows: Rows) -> float:
    """COPY the same CSV into a table shaped and indexed like observation; returns seconds.

    Columns the CSV lacks take constant defaults, so the server parses the very same bytes.
    """
    with psycopg.connect(suite.database_url) as conn:
        conn.execute("CREATE TABLE bench_observation (LIKE observation INCLUDING ALL)")
        conn.execute(
            sql.SQL(
                "ALTER TABLE bench_observation ALTER version SET DEFAULT 1, "
                "ALTER metric_version SET DEFAULT 1, "
                "ALTER submission_id SET DEFAULT {}"
            ).format(sql.Literal(str(uuid.uuid4())))
        )
        conn.commit()
        checkpoint(suite)
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY bench_observation (place_code, metric_code, period, value, numerator, "
                "denominator, note) FROM STDIN (FORMAT csv, HEADER true)"
            ) as copy,
        ):
            for chunk in rows.csv_chunks():
                copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - started
    say(f"copy: {rows.count} rows in {elapsed:.2f} s ({rows.count / elapsed:,.0f} rows/s)")
    return elapsed


def verify_counts(suite: Suite, expected: int) -> None:
    """After the load and the corrections: each key twice in observation, once current."""
    with psycopg.connect(suite.database_url) as conn:
        for table, versions in (("observation", 2), ("bench_observation", 1)):
            query = sql.SQL(
                "SELECT count(*), count(*) FILTER (WHERE superseded_at IS NULL) FROM {}"
            ).format(sql.Identifier(table))
            found = conn.execute(query).fetchone()
            if found != (expected * versions, expected):
                raise RuntimeError(f"{table} has (rows, current) {found}, not {expected} current")
    say(
        f"check: observation holds {expected} current versions and {expected} superseded ones, "
        f"bench_observation {expected} rows"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    add_server_options(parser, plan_ms=EXPLAIN_PLAN_MS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with Suite(pg_settings=server_settings(args, plan_ms=EXPLAIN_PLAN_MS)) as suite:
        say(suite.describe())
        rows = plan_rows(suite, args.rows)
        time_generation(rows)
        log = ServerLog(suite)
        http_s, peak_rss = upload(suite, rows, "http")
        if args.explain:
            log.report()
        with progress_paused(suite):
            log = ServerLog(suite)
            corrections_s, corrections_rss = upload(suite, rows.corrections(), "corrections")
            if args.explain:
                log.report()
            copy_s = copy_baseline(suite, rows)
            verify_counts(suite, args.rows)
    http_rate, copy_rate = args.rows / http_s, args.rows / copy_s
    corrections_rate = args.rows / corrections_s
    say(
        f"ingest_bulk rows={args.rows} http_rows_per_s={http_rate:.0f} "
        f"copy_rows_per_s={copy_rate:.0f} ratio={http_rate / copy_rate:.2f} "
        f"corrections_rows_per_s={corrections_rate:.0f} "
        f"corrections_ratio={corrections_rate / copy_rate:.2f} "
        f"peak_rss_mb={max(peak_rss, corrections_rss) / MB:.0f}"
    )


if __name__ == "__main__":
    main()
