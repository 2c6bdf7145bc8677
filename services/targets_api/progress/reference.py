"""One target's progress and one area value's interval, computed one series at a time exactly
as API.md defines them: the reference that the refresh's engine is checked against, and what
reads of a single series (a place's SPC chart) use."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from services.common import periods
from services.common.catalogue import MetricDef
from services.common.figures import derived
from services.targets_api.progress import definitions, intervals
from services.targets_api.progress.trend import TrendPoint, recent_trend
from services.targets_api.spc.service import Direction, spc

SPC_DIRECTION: dict[str, Direction] = {
    "higher_is_better": "increase",
    "lower_is_better": "decrease",
    "neutral": "neutral",
}

# (period, value, numerator, denominator) of one observation.
Observed = tuple[str, float, float | None, float | None]


def with_interval(row: dict[str, Any], metric: MetricDef, national: float | None) -> dict[str, Any]:
    """The row with its 95 % interval (where the kind has one) and comparison with England.

    A population-weighted mean of places' proportions or rates is not a binomial or Poisson
    count, so its roll-ups have no interval (API.md, "Statistical definitions, made precise"):
    the summed counts' interval can exclude the weighted mean itself.
    """
    weighted_roll_up = row["level"] != "place" and metric.aggregation == "population_weighted_mean"
    interval = None if weighted_roll_up else _interval(metric, row["numerator"], row["denominator"])
    row["ci_lower"], row["ci_upper"] = (
        (derived(interval[0]), derived(interval[1])) if interval else (None, None)
    )
    if row["level"] != "place":  # a place's own value is as it was submitted
        row["value"] = derived(row["value"])
    row["comparison"] = (
        "not_compared"
        if row["level"] == "nation"
        else intervals.comparison(interval, national, metric.direction)
    )
    return row


def _interval(
    metric: MetricDef, numerator: float | None, denominator: float | None
) -> tuple[float, float] | None:
    if numerator is None or denominator is None or denominator <= 0 or numerator < 0:
        return None
    multiplier = metric.multiplier or 1
    if metric.kind == "proportion" and numerator <= denominator:
        lower, upper = intervals.wilson_interval(numerator, denominator)
        return lower * multiplier, upper * multiplier
    if metric.kind == "rate":
        return intervals.rate_interval(numerator, denominator, multiplier)
    return None


def indexed(
    metric: MetricDef, observations: Iterable[tuple[str, float]]
) -> list[tuple[int, str, float]]:
    """(period index, period, value) in period order; a period in another form (from an earlier
    version of the metric) has no place on this metric's line and is left out."""
    periodicity = periods.Periodicity(metric.periodicity)
    points = [
        (i, code, value)
        for code, value in observations
        if (i := period_index(code, periodicity)) is not None
    ]
    return sorted(points)


# A refresh meets the same few dozen period codes in every place's series.
@cache
def period_index(code: str, periodicity: periods.Periodicity) -> int | None:
    try:
        return periods.index(periods.parse_as(code, periodicity))
    except periods.PeriodError:
        return None


@dataclass(frozen=True)
class TargetLine:
    """A target on its metric's period indexes: what each status is judged against."""

    metric: MetricDef
    baseline_index: int
    baseline_value: float
    target_index: int
    target_value: float
    trajectory: dict[int, float]
    tolerance: float | None

    @classmethod
    def of(cls, target: Any, metric: MetricDef) -> "TargetLine":
        periodicity = periods.Periodicity(metric.periodicity)

        def at(code: str) -> int:
            index = period_index(code, periodicity)
            if index is None:  # plans check their periods against the metric: a bug if seen
                raise ValueError(f"{code} is not a {periodicity} period")
            return index

        return cls(
            metric=metric,
            baseline_index=at(target["baseline_period"]),
            baseline_value=target["baseline_value"],
            target_index=at(target["target_period"]),
            target_value=target["target_value"],
            trajectory={at(step["period"]): step["value"] for step in target["trajectory"]},
            tolerance=target["tolerance"],
        )

    def expected_at(self, index: int | None) -> float | None:
        """None with nothing after the baseline period: no expectation to speak of yet."""
        if index is None or index <= self.baseline_index:
            return None
        return definitions.expected_value(
            latest_index=index,
            baseline_index=self.baseline_index,
            baseline_value=self.baseline_value,
            target_index=self.target_index,
            target_value=self.target_value,
            trajectory=self.trajectory,
        )

    def status_at(self, index: int | None, value: float | None) -> str:
        return definitions.status(
            direction=self.metric.direction,
            latest_value=value,
            latest_index=index,
            baseline_index=self.baseline_index,
            target_index=self.target_index,
            target_value=self.target_value,
            baseline_value=self.baseline_value,
            expected=self.expected_at(index),
            tolerance=self.tolerance,
        )


def target_progress(
    target: Any, metric: MetricDef, observations: Sequence[Observed]
) -> dict[str, Any]:
    """One target's progress by the definitions in API.md; benchmarks are joined in SQL."""
    line = TargetLine.of(target, metric)
    points = indexed(metric, ((period, value) for period, value, _, _ in observations))
    latest_index, latest_period, latest_value = points[-1] if points else (None, None, None)
    status = line.status_at(latest_index, latest_value)
    assessed = status != "no_data"
    off_track_run = 0
    for index, _, value in reversed(points):
        if line.status_at(index, value) != "off_track":
            break
        off_track_run += 1
    chart = (
        spc(
            [v for _, _, v in points],
            improvement_direction=SPC_DIRECTION[metric.direction],
            target=line.target_value,
        )
        if points
        else None
    )
    return {
        "plan_id": target["plan_id"],
        "metric_code": target["metric_code"],
        "place_code": target["place_code"],
        "latest_period": latest_period,
        "latest_value": latest_value,
        "baseline_period": target["baseline_period"],
        "baseline_value": line.baseline_value,
        "target_period": target["target_period"],
        "target_value": line.target_value,
        "expected_value": derived(line.expected_at(latest_index)),
        # Assessed implies a latest value (no value is no_data); the test says so to mypy.
        "progress_pct": derived(
            definitions.progress_pct(latest_value, line.baseline_value, line.target_value)
        )
        if assessed and latest_value is not None
        else None,
        "status": status,
        "consecutive_off_track": off_track_run,
        "variation": chart.variation if chart else None,
        "assurance": chart.assurance if chart else None,
        "forecast_value": derived(
            definitions.forecast([(i, v) for i, _, v in points], at_index=line.target_index)
        ),
        "trend": _trend(metric, observations),
    }


def _trend(metric: MetricDef, observations: Sequence[Observed]) -> str | None:
    """The recent-trend marker of the place's own counts (rates' limits come from them)."""
    periodicity = periods.Periodicity(metric.periodicity)
    return recent_trend(
        [
            TrendPoint(index=i, numerator=numerator, denominator=denominator)
            for code, _, numerator, denominator in observations
            if (i := period_index(code, periodicity)) is not None
        ],
        kind=metric.kind,
        multiplier=metric.multiplier or 1,
    )
