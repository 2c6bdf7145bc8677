"""Progress at national scale: 153 places x 50 monthly metrics x 60 months, every place with an
agreed plan that has a target on each metric.

    python bench/progress.py --metrics 50 --months 60 --readers 20 --seconds 10

Starts `joinedup up` on a fresh embedded database and creates the metrics through metrics_api.
The observations and the agreed plans are written straight into their tables (COPY and INSERT
... SELECT): only their size matters here, and ingest has benchmarks of its own. Then:

- full: `POST /v1/progress/refresh` (everything), timed from the client;
- select: a plain SELECT of the same current observations with psycopg, fetched whole, in the
  same run (the floor for reading them);
- incremental: one place submits one new month of every metric through ingest; the time the
  worker's refresher spent on it (its `joinedup_progress_refresh_seconds` histogram);
- readers: ``--readers`` concurrent clients reading `GET /v1/places/{code}/progress` (a random
  place each time), then `GET /v1/areas/E92000001/performance`, for ``--seconds`` each;
- during refresh: the same readers, each alternating a random place's progress and England's
  performance, while one client submits a correction of a random place's latest month of every
  metric through ingest, one after another, so that the worker keeps refreshing; the line says
  how many refreshes ran meanwhile.

Last line: progress full_s=X select_s=Y ratio=X/Y incremental_ms=Z place_p99_ms=P
england_p99_ms=Q during_refresh_p99_ms=R refreshes_during=N errors=E
"""

import argparse
import asyncio
import io
import math
import random
import time
import uuid

import httpx
import psycopg
from prometheus_client.parser import text_string_to_metric_families
from suite import Suite, ended_months, say

ENGLAND = "E92000001"

_PLANS = """
    INSERT INTO plan (place_code, title, starts_on, ends_on, revision, status, agreed_at)
    SELECT code, 'Benchmark plan', %(starts_on)s, %(ends_on)s, 1, 'agreed', now()
    FROM area WHERE level = 'place'
"""
_TARGETS = """
    INSERT INTO plan_target (plan_id, metric_code, metric_version, baseline_period,
                             baseline_value, target_period, target_value, trajectory)
    SELECT p.id, m.code, 1, %(baseline)s, 50, %(target)s, 60, '[]'
    FROM plan p CROSS JOIN unnest(%(metrics)s::text[]) AS m(code)
"""


def observations_csv(places: list[str], metrics: list[str], months: list[str]) -> bytes:
    """A gently rising proportion with noise for each place and metric, as COPY text."""
    rows = io.StringIO()
    submission = uuid.uuid4()
    rng = random.Random(1)
    for place in places:
        for metric in metrics:
            level = rng.uniform(40, 60)
            for i, month in enumerate(months):
                numerator = max(0, min(1000, round(10 * (level + 0.1 * i + rng.gauss(0, 2)))))
                rows.write(
                    f"{place}\t{metric}\t{month}\t1\t{numerator / 10}\t{numerator}\t1000"
                    f"\t1\t{submission}\n"
                )
    return rows.getvalue().encode()


def refresh_seconds(worker: str) -> tuple[float, float]:
    """(count, sum) of the refresher's histogram, on the worker that runs it."""
    found = {}
    text = httpx.get(f"{worker}/metrics", timeout=60).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("joinedup_progress_refresh_seconds_"):
                found[sample.name.rsplit("_", 1)[1]] = sample.value
    return found.get("count", 0.0), found.get("sum", 0.0)


async def submitting(
    ingest: str, headers: dict[str, str], bodies, deadline: float
) -> tuple[int, int]:
    """Submissions made one after another until the deadline, and how many failed."""
    made = failed = 0
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        while time.monotonic() < deadline:
            response = await client.post(f"{ingest}/v1/submissions", json=bodies())
            made += 1
            failed += response.status_code != 201
    return made, failed


async def during_refresh(
    url_of, ingest: str, bodies, headers: dict[str, str], count: int, seconds: float
) -> tuple[list[float], int, int]:
    """Readers' latencies and errors while submissions keep the worker refreshing, and the
    number of submissions."""
    deadline = time.monotonic() + seconds
    (latencies, errors), (made, failed) = await asyncio.gather(
        readers(url_of, headers, count, seconds),
        submitting(ingest, headers, bodies, deadline),
    )
    return latencies, errors + failed, made


async def readers(
    url_of, headers: dict[str, str], count: int, seconds: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(
        headers=headers, timeout=60, limits=httpx.Limits(max_connections=count)
    ) as client:

        async def read() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url_of())
                    if response.status_code != 200:
                        errors += 1
                        if errors <= 3:
                            say(f"reader: {response.status_code} {response.text[:300]}")
                except httpx.HTTPError as error:
                    errors += 1
                    if errors <= 3:
                        say(f"reader: {type(error).__name__}: {error}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(read() for _ in range(count)))
    return sorted(latencies), errors


def p(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[max(1, math.ceil(fraction * len(sorted_values))) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--months", type=int, default=60)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with Suite() as suite:
        say(suite.describe())
        metrics = suite.create_monthly_proportions(args.metrics)
        places = suite.place_codes()
        months = ended_months(args.months + 1)
        history, latest = months[:-1], months[-1]
        with psycopg.connect(suite.database_url) as conn:
            with conn.cursor().copy(
                "COPY observation (place_code, metric_code, period, version, value, "
                "numerator, denominator, metric_version, submission_id) FROM STDIN"
            ) as copy:
                copy.write(observations_csv(places, metrics, history))
            conn.execute(_PLANS, {"starts_on": f"{history[0]}-01", "ends_on": "2030-12-31"})
            conn.execute(
                _TARGETS, {"baseline": history[0], "target": "2030-12", "metrics": metrics}
            )
            conn.execute("ANALYZE")
        say(
            f"{len(places) * len(metrics) * len(history)} observations, "
            f"{len(places) * len(metrics)} agreed targets"
        )

        targets_api = suite.url("targets_api")
        started = time.perf_counter()
        full = httpx.post(f"{targets_api}/v1/progress/refresh", headers=suite.headers, timeout=3600)
        full_s = time.perf_counter() - started
        full.raise_for_status()
        say(f"full refresh: {full.json()}")

        started = time.perf_counter()
        with psycopg.connect(suite.database_url) as conn:
            selected = len(
                conn.execute(
                    "SELECT place_code, metric_code, period, value, "
                    "numerator, denominator FROM observation "
                    "WHERE superseded_at IS NULL"
                ).fetchall()
            )
        select_s = time.perf_counter() - started

        worker = suite.url("worker")
        count_before, sum_before = refresh_seconds(worker)
        rng = random.Random(2)

        def latest_month(place: str) -> dict:
            numerator = rng.randint(400, 700)
            return {
                "place_code": place,
                "observations": [
                    {
                        "metric_code": m,
                        "period": latest,
                        "numerator": numerator,
                        "denominator": 1000,
                    }
                    for m in metrics
                ],
            }

        httpx.post(
            f"{suite.url('ingest')}/v1/submissions",
            json=latest_month(places[0]),
            headers=suite.headers,
            timeout=60,
        ).raise_for_status()
        deadline = time.monotonic() + 120
        while (count := refresh_seconds(worker))[0] == count_before:
            if time.monotonic() > deadline:
                raise SystemExit("the incremental refresh did not happen within 120 s")
            time.sleep(0.2)
        incremental_ms = (count[1] - sum_before) * 1000
        say(f"incremental: {count[0] - count_before:.0f} refresh(es), {incremental_ms:.0f} ms")

        place_lat, place_errors = asyncio.run(
            readers(
                lambda: f"{targets_api}/v1/places/{rng.choice(places)}/progress",
                suite.headers,
                args.readers,
                args.seconds,
            )
        )
        england_lat, england_errors = asyncio.run(
            readers(
                lambda: f"{targets_api}/v1/areas/{ENGLAND}/performance",
                suite.headers,
                args.readers,
                args.seconds,
            )
        )

        reads = iter(range(10**9))
        refreshes_before = refresh_seconds(worker)[0]
        mixed_lat, mixed_errors, submissions = asyncio.run(
            during_refresh(
                lambda: (
                    f"{targets_api}/v1/areas/{ENGLAND}/performance"
                    if next(reads) % 2
                    else f"{targets_api}/v1/places/{rng.choice(places)}/progress"
                ),
                suite.url("ingest"),
                lambda: latest_month(rng.choice(places)),
                suite.headers,
                args.readers,
                args.seconds,
            )
        )
        refreshes_during = refresh_seconds(worker)[0] - refreshes_before

    say(f"select: {selected} rows")
    say(
        f"during refresh: {len(mixed_lat)} reads, p50 {p(mixed_lat, 0.5) * 1000:.0f} ms, "
        f"{submissions} submissions, {refreshes_during:.0f} refreshes, errors {mixed_errors}"
    )
    say(
        f"place progress: {len(place_lat)} reads, p50 {p(place_lat, 0.5) * 1000:.0f} ms, "
        f"errors {place_errors}"
    )
    say(
        f"England performance: {len(england_lat)} reads, p50 {p(england_lat, 0.5) * 1000:.0f} "
        f"ms, errors {england_errors}"
    )
    say(
        f"progress full_s={full_s:.1f} select_s={select_s:.2f} ratio={full_s / select_s:.1f} "
        f"incremental_ms={incremental_ms:.0f} place_p99_ms={p(place_lat, 0.99) * 1000:.0f} "
        f"england_p99_ms={p(england_lat, 0.99) * 1000:.0f} "
        f"during_refresh_p99_ms={p(mixed_lat, 0.99) * 1000:.0f} "
        f"refreshes_during={refreshes_during:.0f} "
        f"errors={place_errors + england_errors + mixed_errors}"
    )


if __name__ == "__main__":
    main()
