"""What the web pages' charts cost to render (services/web/charts.py), in this process.

    python bench/charts.py --repeat 20

Renders a place scorecard's SPC chart (three years of monthly values with their SPC from
targets_api's own code, a target, a trajectory and a forecast) and a league table of 153
places, each ``--repeat`` times after one warm-up, and prints the first render in the process
(vl-convert starting its JavaScript engine) and the median of the rest (each with its own
title, so none is answered from the module's cache of charts), as wall-clock time and
as this process's CPU time (all its threads: vl-convert renders in a thread of its own), which
other work on a busy machine does not inflate. No services and no database: the charts are
pure functions of the APIs' JSON. ``spc_cached_p50_s`` is the same chart asked for again.

Last line: charts cold_s=C spc_p50_s=S spc_cpu_p50_s=SC league_p50_s=L league_cpu_p50_s=LC
scorecard_8_spc_s=8xS spc_cached_p50_s=H
"""

import argparse
import random
import statistics
import time
from collections.abc import Callable

from services.common import periods
from services.targets_api.assessments.schemas import LeagueRow, LeagueTable
from services.targets_api.progress.schemas import ProgressSeries, SeriesPoint, SeriesTarget
from services.targets_api.spc.service import spc
from services.web import charts


def series(rng: random.Random) -> dict:
    values = [round(70 + i * 0.3 + rng.gauss(0, 2), 1) for i in range(36)]
    result = spc(values, improvement_direction="increase", target=85)
    start = periods.parse("2023-01")
    points = [
        SeriesPoint(
            index=i,
            period=periods.shift(start, i).code,
            value=p.value,
            mean=p.mean,
            lpl=p.lpl,
            upl=p.upl,
            point_type=p.point_type,
            provisional=i >= 34,
        )
        for i, p in enumerate(result.points)
    ]
    baseline = {"baseline_period": "2024-03", "baseline_value": 74}
    target = SeriesTarget.model_validate(
        {"plan_id": 1, **baseline, "target_period": "2027-03", "target_value": 85}
    )
    return ProgressSeries(
        place_code="E08000035",
        metric_code="bench",
        improvement_direction="increase",
        points=points,
        variation=result.variation,
        assurance=result.assurance,
        target=target,
        warnings=result.warnings,
    ).model_dump(mode="json")


# Every place reported: the fields a place row always has.
_PLACE_ROW = {"places_reported": 1, "places_expected": 1, "coverage": 1.0, "complete": True}
_TABLE = {"metric_code": "bench", "level": "place", "period": "2025-07", "provisional": False}


def league(rng: random.Random) -> dict:
    rows = []
    for rank in range(1, 154):
        value = 90 - rank * 0.15 + rng.uniform(-0.1, 0.1)
        comparison = rng.choice(["better", "similar", "worse"])
        interval = {"ci_lower": value - 2, "ci_upper": value + 2, "comparison": comparison}
        ranking = {"rank": rank, "rank_of": 153, "quintile": (rank - 1) * 5 // 153 + 1}
        name = {"area_code": f"E0{rank:07d}", "area_name": f"Place {rank}"}
        rows.append(
            LeagueRow.model_validate(
                {**name, "value": value, **interval, **ranking, **_PLACE_ROW, "trend": None}
            )
        )
    table = {**_TABLE, "national_value": 80.0, "national_coverage": 1.0}
    return LeagueTable.model_validate({"data": rows, "count": len(rows), **table}).model_dump(
        mode="json"
    )


def timed(render: Callable[[int], str], repeat: int) -> tuple[float, float]:
    """The medians of wall-clock and CPU time."""
    wall, cpu = [], []
    for i in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        render(i)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(16)
    body, table = series(rng), league(rng)
    trajectory = [{"period": "2025-03", "value": 78}, {"period": "2026-03", "value": 82}]
    forecast = {"period": "2027-03", "value": 86.1}

    started = time.perf_counter()
    charts.warm_up()
    cold = time.perf_counter() - started
    spc_s, spc_cpu = timed(
        lambda i: charts.spc_chart(
            body, trajectory=trajectory, forecast=forecast, title=f"Bench {i}"
        ),
        args.repeat,
    )
    league_s, league_cpu = timed(
        lambda i: charts.league_chart(table, title=f"Bench {i}"), args.repeat
    )
    cached_s, _ = timed(
        lambda i: charts.spc_chart(body, trajectory=trajectory, forecast=forecast, title="Bench 0"),
        args.repeat,
    )
    print(
        f"charts cold_s={cold:.3f} spc_p50_s={spc_s:.3f} spc_cpu_p50_s={spc_cpu:.3f} "
        f"league_p50_s={league_s:.3f} league_cpu_p50_s={league_cpu:.3f} "
        f"scorecard_8_spc_s={8 * spc_s:.3f} spc_cached_p50_s={cached_s:.4f}"
    )


if __name__ == "__main__":
    main()
