"""A mixed load on a suite full of demo data, as its three kinds of user make it at once.

    python bench/load.py --clients 20 --seconds 60

Starts `joinedup up` on a fresh embedded database and loads `joinedup demo` into it (all 153
places, about a minute). Then ``--clients`` asyncio clients, sharing one connection pool, each
pick their next request by weight until the time is up:

- 70 % reads: a place's progress (targets_api) or its observations of a metric (ingest), for a
  random place;
- 20 % small submissions: one place, one monthly national metric, one recent month (a correction
  of the demo's value), atomic JSON with an Idempotency-Key each;
- 10 % scrapes of a random service's `/metrics`.

Any answer but 2xx, or a transport error, is an error; the first few are printed.

Last line: load requests_per_s=X p50_ms=Y p99_ms=Z errors=E
"""

import argparse
import asyncio
import collections
import math
import os
import random
import subprocess
import time
import uuid

import httpx
from suite import JOINEDUP, REPO, Suite, ended_months, say

SHOWN_ERRORS = 5
MONTHLY_NATIONAL = "bcf-discharge-usual-residence"


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[max(1, math.ceil(fraction * len(sorted_values))) - 1]


class Load:
    def __init__(self, suite: Suite, places: list[str], seed: int) -> None:
        self.suite = suite
        self.places = places
        self.rng = random.Random(seed)
        self.months = ended_months(3)
        self.latencies: list[float] = []
        self.by_kind: collections.Counter[str] = collections.Counter()
        self.errors: list[str] = []

    def request(self) -> tuple[str, str, str, dict | None]:
        """(kind, method, url, json body) of the next request, by the mix's weights."""
        place = self.rng.choice(self.places)
        roll = self.rng.random()
        if roll < 0.35:
            return (
                "progress",
                "GET",
                f"{self.suite.url('targets_api')}/v1/places/{place}/progress",
                None,
            )
        if roll < 0.70:
            return (
                "observations",
                "GET",
                f"{self.suite.url('ingest')}/v1/observations?"
                f"place_code={place}&metric_code={MONTHLY_NATIONAL}",
                None,
            )
        if roll < 0.90:
            denominator = self.rng.randint(500, 2000)
            body = {
                "place_code": place,
                "observations": [
                    {
                        "metric_code": MONTHLY_NATIONAL,
                        "period": self.rng.choice(self.months),
                        "numerator": round(denominator * self.rng.uniform(0.85, 0.95)),
                        "denominator": denominator,
                    }
                ],
            }
            return "submission", "POST", f"{self.suite.url('ingest')}/v1/submissions", body
        service = self.rng.choice(["metrics_api", "targets_api", "ingest"])
        return "scrape", "GET", f"{self.suite.url(service)}/metrics", None

    async def client(self, http: httpx.AsyncClient, deadline: float) -> None:
        while time.monotonic() < deadline:
            kind, method, url, body = self.request()
            headers = {"Idempotency-Key": str(uuid.uuid4())} if body else {}
            started = time.perf_counter()
            try:
                response = await http.request(method, url, json=body, headers=headers)
                failed = (
                    None if response.is_success else f"{response.status_code} {response.text[:200]}"
                )
            except httpx.HTTPError as error:
                failed = f"{type(error).__name__}: {error}"
            self.latencies.append(time.perf_counter() - started)
            self.by_kind[kind] += 1
            if failed:
                self.errors.append(f"{kind} {method} {url}: {failed}")

    async def run(self, clients: int, seconds: float) -> float:
        deadline = time.monotonic() + seconds
        started = time.perf_counter()
        async with httpx.AsyncClient(
            headers=self.suite.headers, timeout=60, limits=httpx.Limits(max_connections=clients)
        ) as http:
            await asyncio.gather(*(self.client(http, deadline) for _ in range(clients)))
        return time.perf_counter() - started


def load_demo(suite: Suite) -> None:
    started = time.perf_counter()
    subprocess.run(
        [
            *JOINEDUP,
            "demo",
            "--metrics-url",
            suite.url("metrics_api"),
            "--targets-url",
            suite.url("targets_api"),
            "--ingest-url",
            suite.url("ingest"),
        ],
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "JOINEDUP_DATA_DIR": str(suite.data_dir)},
    )
    say(f"demo loaded in {time.perf_counter() - started:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with Suite() as suite:
        say(suite.describe())
        load_demo(suite)
        load = Load(suite, suite.place_codes(), args.seed)
        elapsed = asyncio.run(load.run(args.clients, args.seconds))

    latencies = sorted(load.latencies)
    say(f"requests by kind: {dict(load.by_kind)}")
    for error in load.errors[:SHOWN_ERRORS]:
        say(f"error: {error}")
    say(
        f"load requests_per_s={len(latencies) / elapsed:.1f} "
        f"p50_ms={percentile(latencies, 0.5) * 1000:.0f} "
        f"p99_ms={percentile(latencies, 0.99) * 1000:.0f} errors={len(load.errors)}"
    )


if __name__ == "__main__":
    main()
