"""Many small JSON submissions at once: what a place system waits for while others submit too.

    python bench/ingest_small.py --clients 50 --seconds 30 --values 60

Starts `joinedup up` on a fresh embedded database; each client posts one atomic JSON submission
after another (one place, one metric, ``--values`` consecutive months, an Idempotency-Key each)
until the time is up. Consecutive submissions name different places, so clients rarely queue on
the same place's lock; once every combination has been sent, the next lap corrects them.

Last line: ingest_small submissions_per_s=X p50_ms=Y p99_ms=Z errors=E
"""

import argparse
import asyncio
import collections
import itertools
import json
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psycopg
from suite import CpuUse, ServerLog, Suite, ended_months, explain_options, proportion, say

METRICS = 10
WINDOWS = 2  # of --values months each: METRICS x WINDOWS x places submissions per lap
SHOWN_ERRORS = 5
EXPLAIN_PLAN_MS = 200


@dataclass
class Tally:
    latencies_s: list[float] = field(default_factory=list)
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: list[str] = field(default_factory=list)

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


def submission(place: str, metric: str, months: list[str], lap: int) -> bytes:
    observations = []
    for i, period in enumerate(months):
        value, numerator, denominator = proportion(lap * 7 + i)
        observations.append(
            {
                "metric_code": metric,
                "period": period,
                "value": value,
                "numerator": numerator,
                "denominator": denominator,
            }
        )
    return json.dumps(
        {"place_code": place, "mode": "atomic", "observations": observations}
    ).encode()


def submissions(places: list[str], metrics: list[str], values: int) -> Iterator[bytes]:
    """Endless bodies; each lap over every (metric, window, place) corrects the one before."""
    months = ended_months(values * WINDOWS)
    windows = [months[i : i + values] for i in range(0, len(months), values)]
    for lap in itertools.count():
        for metric, window, place in itertools.product(metrics, windows, places):
            yield submission(place, metric, window, lap)


async def client(
    http: httpx.AsyncClient, bodies: Iterator[bytes], deadline: float, tally: Tally
) -> None:
    while time.perf_counter() < deadline:
        body = next(bodies)  # one event loop, so clients share the iterator safely
        headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        started = time.perf_counter()
        try:
            response = await http.post("/v1/submissions", content=body, headers=headers)
            status, detail = str(response.status_code), response.text
        except httpx.HTTPError as exc:
            status, detail = type(exc).__name__, str(exc)
        tally.record(time.perf_counter() - started, status, detail)


async def load(
    suite: Suite, bodies: Iterator[bytes], clients: int, seconds: float
) -> tuple[Tally, float]:
    """Run the clients until ``seconds`` have passed; returns the tally and the elapsed time."""
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=suite.url("ingest"), headers=suite.headers, limits=limits, timeout=60.0
    ) as http:
        warm_up = await http.post(
            "/v1/submissions",
            params={"dry_run": "true"},
            content=next(bodies),
            headers={"Content-Type": "application/json"},
        )
        warm_up.raise_for_status()  # the catalogue is fetched before the clock starts
        say(f"load: ingest pid {suite.ingest_process().pid}")
        with CpuUse(suite) as cpu:
            started = time.perf_counter()
            deadline = started + seconds
            await asyncio.gather(*(client(http, bodies, deadline, tally) for _ in range(clients)))
            elapsed_s = time.perf_counter() - started
    say(f"load: {cpu.summary(elapsed_s)}")
    return tally, elapsed_s


def stored_versions(suite: Suite) -> tuple[int, int]:
    with psycopg.connect(suite.database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE superseded_at IS NULL) FROM observation"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def report(suite: Suite, tally: Tally, elapsed_s: float, clients: int) -> None:
    latencies_ms = sorted(s * 1000 for s in tally.latencies_s)
    versions, current = stored_versions(suite)
    say(
        f"load: {len(latencies_ms)} submissions from {clients} clients in {elapsed_s:.1f} s; "
        f"statuses {dict(tally.statuses)}"
    )
    say(
        f"latency ms: p50 {percentile(latencies_ms, 0.5):.0f}, p90 "
        f"{percentile(latencies_ms, 0.9):.0f}, p99 {percentile(latencies_ms, 0.99):.0f}, "
        f"max {latencies_ms[-1]:.0f}"
    )
    say(f"stored: {versions} observation versions, {current} current")
    for example in tally.examples:
        say(f"error: {example}")
    say(
        f"ingest_small submissions_per_s={tally.accepted / elapsed_s:.1f} "
        f"p50_ms={percentile(latencies_ms, 0.5):.0f} p99_ms={percentile(latencies_ms, 0.99):.0f} "
        f"errors={tally.errors}"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--values", type=int, default=60)
    parser.add_argument(
        "--explain",
        action="store_true",
        help=f"print the server's time by statement during the load, and the "
        f"plans of statements over {EXPLAIN_PLAN_MS} ms (for profiling)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with Suite(pg_options=explain_options(EXPLAIN_PLAN_MS) if args.explain else None) as suite:
        say(suite.describe())
        places = suite.place_codes()
        metrics = suite.create_monthly_proportions(METRICS)
        say(
            f"plan: {args.clients} clients, {args.values} values a submission, "
            f"{len(places) * len(metrics) * WINDOWS} distinct submissions a lap"
        )
        bodies = submissions(places, metrics, args.values)
        log = ServerLog(suite)
        tally, elapsed_s = asyncio.run(load(suite, bodies, args.clients, args.seconds))
        if args.explain:
            log.report()
        report(suite, tally, elapsed_s, args.clients)


if __name__ == "__main__":
    main()
