"""A Prometheus scrape of targets_api at national scale: every place with an agreed target on
each of 50 metrics.

    python bench/scrape.py --metrics 50 --scrapes 30

Starts `joinedup up` on a fresh embedded database and creates ``--metrics`` national metrics
through metrics_api. The progress a refresh would leave (one agreed plan per place, one
``target_progress`` row per place and metric) is then written straight into the tables, since
only its size matters here. It scrapes `/metrics` ``--scrapes`` times over HTTP and, as the
baseline, runs the scrape's own reads with psycopg on the same server (the floor any exposition
of this data has to pay), and prints both. targets_api keeps the exposition it built until the
figures change (a refresh moves the generation on), so each timed scrape follows a move of the
generation and builds it afresh; the same number of scrapes with nothing changed since give
``cached_p50_s``.

Last line: scrape series=N p50_s=X max_s=Y baseline_p50_s=Z ratio=X/Z cached_p50_s=C
"""

import argparse
import statistics
import time

import httpx
import psycopg
from suite import Suite, say

from services.targets_api.progress import store as progress_store

STATUSES = ("on_track", "at_risk", "off_track", "achieved")

_PLANS = """
    INSERT INTO plan (place_code, title, starts_on, ends_on, revision, status, agreed_at)
    SELECT code, 'Benchmark plan', '2025-04-01', '2027-03-31', 1, 'agreed', now()
    FROM area WHERE level = 'place'
"""
# What a refresh's commit does to the reads' key, without a refresh.
_NEW_GENERATION = "UPDATE progress_generation SET generation = generation + 1, refreshed_at = now()"
_PROGRESS = """
    INSERT INTO target_progress (plan_id, metric_code, place_code, latest_period, latest_value,
        baseline_period, baseline_value, target_period, target_value, expected_value,
        progress_pct, status, consecutive_off_track, comparison)
    SELECT p.id, m.code, p.place_code, '2026-09', 80 + random() * 15, '2025-03', 85, '2027-03',
           90, 87, random() * 100, (%(statuses)s::text[])[1 + floor(random() * 4)::int], 0,
           'similar'
    FROM plan p CROSS JOIN unnest(%(metrics)s::text[]) AS m(code)
"""


def baseline_reads(database_url: str) -> float:
    """The scrape's reads, fetched whole, without building an exposition."""
    started = time.perf_counter()
    with psycopg.connect(database_url) as conn:
        for statement in (
            progress_store._TARGETS,
            progress_store._AREAS,
            progress_store._METRICS,
            progress_store._NATIONAL,
        ):
            conn.execute(statement.text).fetchall()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--scrapes", type=int, default=30)
    args = parser.parse_args()
    with Suite() as suite:
        say(suite.describe())
        metrics = suite.create_monthly_proportions(args.metrics)
        with psycopg.connect(suite.database_url) as conn:
            conn.execute(_PLANS)
            conn.execute(_PROGRESS, {"metrics": metrics, "statuses": list(STATUSES)})
            conn.execute("ANALYZE target_progress")
            targets = conn.execute("SELECT count(*) FROM target_progress").fetchone()[0]
        say(f"{targets} agreed targets ({args.metrics} metrics x every place)")

        url = f"{suite.url('targets_api')}/metrics"
        with (
            httpx.Client(timeout=30) as client,
            psycopg.connect(suite.database_url, autocommit=True) as conn,
        ):
            client.get(url).raise_for_status()  # the first scrape warms the connection pool
            scrape_s, cached_s, series = [], [], 0
            for _ in range(args.scrapes):
                conn.execute(_NEW_GENERATION)
                started = time.perf_counter()
                response = client.get(url)
                scrape_s.append(time.perf_counter() - started)
                response.raise_for_status()
                series = sum(
                    1 for line in response.text.splitlines() if line and not line.startswith("#")
                )
            for _ in range(args.scrapes):
                started = time.perf_counter()
                client.get(url).raise_for_status()
                cached_s.append(time.perf_counter() - started)
        baseline_s = [baseline_reads(suite.database_url) for _ in range(args.scrapes)]

    p50, base = statistics.median(scrape_s), statistics.median(baseline_s)
    say(
        f"scrape: {len(response.content) / 1e6:.1f} MB, {series} samples; "
        f"min {min(scrape_s):.3f} s, max {max(scrape_s):.3f} s"
    )
    say(
        f"scrape series={series} p50_s={p50:.3f} max_s={max(scrape_s):.3f} "
        f"baseline_p50_s={base:.3f} ratio={p50 / base:.1f} "
        f"cached_p50_s={statistics.median(cached_s):.3f}"
    )


if __name__ == "__main__":
    main()
