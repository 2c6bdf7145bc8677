"""Many small JSON submissions at once: what a place system waits for while others submit too.

    python bench/ingest_small.py --clients 50 --seconds 30 --values 60

Starts `joinedup up` on a fresh embedded database; each client posts one atomic JSON submission
after another (one place, one metric, ``--values`` consecutive months, an Idempotency-Key each)
until the time is up. Consecutive submissions name different places, so clients rarely queue on
the same place's lock; once every combination has been sent, the next lap corrects them.

Then, on the same server, the raw baseline: as many clients, each with its own psycopg
connection, write the same submissions for as long into ``bench_observation`` (shaped and
indexed like ``observation``), one transaction each: supersede the current versions and insert
the new ones, in one statement, and commit. No HTTP, no checks, no audit, no outbox: the ratio
says what those cost on top of the database's own work.

Last line: ingest_small submissions_per_s=X raw_per_s=Y ratio=X/Y p50_ms=.. p99_ms=..
raw_p99_ms=.. errors=E ingest_cpu_ms=.. pg_cpu_ms=.. raw_pg_cpu_ms=.. client_cpu_ms=..
raw_client_cpu_ms=.. http_floor_per_s=.. (CPU per accepted submission, or per raw transaction,
of ingest's processes, PostgreSQL's and this script's own, which shares the cores; and, last, as
many clients asking ingest's /healthz for as long: what HTTP through uvicorn, FastAPI and httpx
allows before any work)
"""

import argparse
import asyncio
import collections
import itertools
import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import psycopg
from suite import (
    CpuUse,
    ServerLog,
    Suite,
    add_server_options,
    ended_months,
    proportion,
    say,
    server_settings,
)

METRICS = 10
WINDOWS = 2  # of --values months each: METRICS x WINDOWS x places submissions per lap
SHOWN_ERRORS = 5
EXPLAIN_PLAN_MS = 200


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: list[str] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)  # by process group, over the run

    def record(self, latency_s: float, status: str, detail: str = "") -> None:
        self.latencies_s.append(latency_s)
        self.statuses[status] += 1
        if status != "201" and len(self.examples) < SHOWN_ERRORS:
            self.examples.append(f"{status} {detail[:300]}")

    @property
    def accepted(self) -> int:
        return self.statuses["201"]

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) - self.accepted


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of values already sorted."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(1, math.ceil(fraction * len(sorted_values))) - 1]


@dataclass(frozen=True)
class Batch:
    """One submission's content: a place, a metric and consecutive months of proportions."""

    place: str
    metric: str
    months: list[str]
    lap: int

    def values(self) -> list[tuple[str, float, int, int]]:
        return [(period, *proportion(self.lap * 7 + i)) for i, period in enumerate(self.months)]

    def body(self) -> bytes:
        observations = [
            {
                "metric_code": self.metric,
                "period": period,
                "value": value,
                "numerator": numerator,
                "denominator": denominator,
            }
            for period, value, numerator, denominator in self.values()
        ]
        return json.dumps(
            {"place_code": self.place, "mode": "atomic", "observations": observations}
        ).encode()


def batches(places: list[str], metrics: list[str], values: int) -> Iterator[Batch]:
    """Endless batches; each lap over every (metric, window, place) corrects the one before."""
    months = ended_months(values * WINDOWS)
    windows = [months[i : i + values] for i in range(0, len(months), values)]
    for lap in itertools.count():
        for metric, window, place in itertools.product(metrics, windows, places):
            yield Batch(place, metric, window, lap)


async def closed_loop(
    send: Callable[[Batch], Awaitable[tuple[str, str]]],
    batches: Iterator[Batch],
    deadline: float,
    tally: Tally,
) -> None:
    """One client: send a batch, wait for the answer, send the next, until the deadline."""
    while time.perf_counter() < deadline:
        batch = next(batches)  # one event loop, so clients share the iterator safely
        started = time.perf_counter()
        status, detail = await send(batch)
        tally.record(time.perf_counter() - started, status, detail)


async def run_clients(
    clients: list[Callable[[Batch], Awaitable[tuple[str, str]]]],
    batches: Iterator[Batch],
    seconds: float,
) -> tuple[Tally, float]:
    tally = Tally()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(closed_loop(send, batches, deadline, tally) for send in clients))
    return tally, time.perf_counter() - started


def http_client(suite: Suite, clients: int) -> httpx.AsyncClient:
    """One connection to ingest for each client, as a place system would keep."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    return httpx.AsyncClient(
        base_url=suite.url("ingest"), headers=suite.headers, limits=limits, timeout=60.0
    )


async def floor_load(
    suite: Suite, batches: Iterator[Batch], clients: int, seconds: float
) -> tuple[Tally, float]:
    """What HTTP alone allows: the same clients asking ingest's /healthz, which does no work.
    No service behind uvicorn, FastAPI and this client can answer faster on this machine."""
    async with http_client(suite, clients) as http:

        async def send(batch: Batch) -> tuple[str, str]:
            try:
                response = await http.get("/healthz")
            except httpx.HTTPError as exc:
                return type(exc).__name__, str(exc)
            # Counted as accepted, as a stored submission is.
            return "201" if response.status_code == 200 else str(response.status_code), ""

        with CpuUse(suite) as cpu:
            tally, elapsed_s = await run_clients([send] * clients, batches, seconds)
    say(f"floor: {cpu.summary(elapsed_s)}")
    tally.cpu_s = cpu.used
    return tally, elapsed_s


async def load(
    suite: Suite, batches: Iterator[Batch], clients: int, seconds: float
) -> tuple[Tally, float]:
    """Run the clients until ``seconds`` have passed; returns the tally and the elapsed time."""
    async with http_client(suite, clients) as http:

        async def send(batch: Batch) -> tuple[str, str]:
            headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
            try:
                response = await http.post("/v1/submissions", content=batch.body(), headers=headers)
            except httpx.HTTPError as exc:
                return type(exc).__name__, str(exc)
            return str(response.status_code), response.text

        warm_up = await http.post(
            "/v1/submissions",
            params={"dry_run": "true"},
            content=next(batches).body(),
            headers={"Content-Type": "application/json"},
        )
        warm_up.raise_for_status()  # the catalogue is fetched before the clock starts
        say(f"load: ingest pid {suite.ingest_process().pid}")
        with CpuUse(suite) as cpu:
            tally, elapsed_s = await run_clients([send] * clients, batches, seconds)
    say(f"load: {cpu.summary(elapsed_s)}")
    tally.cpu_s = cpu.used
    return tally, elapsed_s


# The same versioning as ingest's write, for one place and metric: supersede the current
# versions that differ, insert the next ones.
RAW_WRITE = """
    WITH given AS (
        SELECT * FROM unnest(%(periods)s::text[], %(values)s::float8[], %(numerators)s::float8[],
                             %(denominators)s::float8[]) AS g(period, value, numerator, denominator)
    ), superseded AS (
        UPDATE bench_observation o SET superseded_at = now()
        FROM given g
        WHERE o.place_code = %(place)s AND o.metric_code = %(metric)s AND o.period = g.period
          AND o.superseded_at IS NULL
          AND (o.value, o.numerator, o.denominator) IS DISTINCT FROM
              (g.value, g.numerator, g.denominator)
        RETURNING o.period, o.version
    )
    INSERT INTO bench_observation (place_code, metric_code, period, version, value, numerator,
                                   denominator, metric_version, submission_id)
    SELECT %(place)s, %(metric)s, g.period, coalesce(s.version, 0) + 1, g.value, g.numerator,
           g.denominator, 1, %(submission_id)s
    FROM given g LEFT JOIN superseded s USING (period)
         LEFT JOIN bench_observation c ON c.place_code = %(place)s
             AND c.metric_code = %(metric)s AND c.period = g.period AND c.superseded_at IS NULL
    WHERE s.version IS NOT NULL OR c.place_code IS NULL
"""


async def raw_load(
    suite: Suite, batches: Iterator[Batch], clients: int, seconds: float
) -> tuple[Tally, float]:
    """The baseline: the same batches written straight to the database, one connection each."""
    with psycopg.connect(suite.database_url) as conn:
        conn.execute("CREATE TABLE bench_observation (LIKE observation INCLUDING ALL)")
    connections = [
        await psycopg.AsyncConnection.connect(suite.database_url) for _ in range(clients)
    ]

    def sender(conn: psycopg.AsyncConnection) -> Callable[[Batch], Awaitable[tuple[str, str]]]:
        async def send(batch: Batch) -> tuple[str, str]:
            periods, values, numerators, denominators = zip(*batch.values(), strict=True)
            parameters = {
                "place": batch.place,
                "metric": batch.metric,
                "periods": list(periods),
                "values": list(values),
                "numerators": list(numerators),
                "denominators": list(denominators),
                "submission_id": uuid.uuid4(),
            }
            try:
                async with conn.transaction():
                    await conn.execute(RAW_WRITE, parameters)
            except psycopg.Error as exc:
                return type(exc).__name__, str(exc)
            return "201", ""

        return send

    try:
        with CpuUse(suite) as cpu:
            tally, elapsed_s = await run_clients(
                [sender(conn) for conn in connections], batches, seconds
            )
    finally:
        for connection in connections:
            await connection.close()
    say(f"raw: {cpu.summary(elapsed_s)}")
    tally.cpu_s = cpu.used
    return tally, elapsed_s


def stored_versions(suite: Suite) -> tuple[int, int]:
    with psycopg.connect(suite.database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE superseded_at IS NULL) FROM observation"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def report(
    suite: Suite,
    tally: Tally,
    elapsed_s: float,
    raw: Tally,
    raw_elapsed_s: float,
    floor: Tally,
    floor_elapsed_s: float,
    clients: int,
) -> None:
    latencies_ms = sorted(s * 1000 for s in tally.latencies_s)
    raw_ms = sorted(s * 1000 for s in raw.latencies_s)
    versions, current = stored_versions(suite)
    say(
        f"load: {len(latencies_ms)} submissions from {clients} clients in {elapsed_s:.1f} s; "
        f"statuses {dict(tally.statuses)}"
    )
    for name, values in (("latency", latencies_ms), ("raw latency", raw_ms)):
        say(
            f"{name} ms: p50 {percentile(values, 0.5):.0f}, p90 {percentile(values, 0.9):.0f}, "
            f"p99 {percentile(values, 0.99):.0f}, max {values[-1]:.0f}"
        )
    say(f"stored: {versions} observation versions, {current} current")
    say(
        f"raw: {len(raw_ms)} transactions from {clients} clients in {raw_elapsed_s:.1f} s; "
        f"statuses {dict(raw.statuses)}"
    )
    for example in tally.examples + raw.examples:
        say(f"error: {example}")
    say(
        f"floor: {floor.accepted} answers from /healthz in {floor_elapsed_s:.1f} s; "
        f"statuses {dict(floor.statuses)}; ingest {cpu_ms(floor, 'ingest')} ms and client "
        f"{cpu_ms(floor, 'client')} ms of CPU an answer"
    )
    per_s, raw_per_s = tally.accepted / elapsed_s, raw.accepted / raw_elapsed_s
    say(
        f"ingest_small submissions_per_s={per_s:.1f} raw_per_s={raw_per_s:.1f} "
        f"ratio={per_s / raw_per_s:.2f} p50_ms={percentile(latencies_ms, 0.5):.0f} "
        f"p99_ms={percentile(latencies_ms, 0.99):.0f} "
        f"raw_p99_ms={percentile(raw_ms, 0.99):.0f} errors={tally.errors + raw.errors} "
        f"ingest_cpu_ms={cpu_ms(tally, 'ingest')} pg_cpu_ms={cpu_ms(tally, 'postgres')} "
        f"raw_pg_cpu_ms={cpu_ms(raw, 'postgres')} client_cpu_ms={cpu_ms(tally, 'client')} "
        f"raw_client_cpu_ms={cpu_ms(raw, 'client')} "
        f"http_floor_per_s={floor.accepted / floor_elapsed_s:.1f}"
    )


def cpu_ms(tally: Tally, group: str) -> str:
    """CPU milliseconds the group used per accepted submission (or raw transaction)."""
    return f"{tally.cpu_s[group] * 1000 / max(tally.accepted, 1):.1f}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--values", type=int, default=60)
    add_server_options(parser, plan_ms=EXPLAIN_PLAN_MS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with Suite(pg_settings=server_settings(args, plan_ms=EXPLAIN_PLAN_MS)) as suite:
        say(suite.describe())
        places = suite.place_codes()
        metrics = suite.create_monthly_proportions(METRICS)
        say(
            f"plan: {args.clients} clients, {args.values} values a submission, "
            f"{len(places) * len(metrics) * WINDOWS} distinct submissions a lap"
        )
        log = ServerLog(suite)
        tally, elapsed_s = asyncio.run(
            load(suite, batches(places, metrics, args.values), args.clients, args.seconds)
        )
        if args.explain:
            log.report()
        raw, raw_elapsed_s = asyncio.run(
            raw_load(suite, batches(places, metrics, args.values), args.clients, args.seconds)
        )
        floor, floor_elapsed_s = asyncio.run(
            floor_load(suite, batches(places, metrics, args.values), args.clients, args.seconds)
        )
        report(suite, tally, elapsed_s, raw, raw_elapsed_s, floor, floor_elapsed_s, args.clients)


if __name__ == "__main__":
    main()
