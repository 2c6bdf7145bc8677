"""Progress against a target, exactly as /work/shared/API.md ("Progress", Definitions) defines it:
expected value, progress %, status and forecast. Pure functions of numbers, no I/O.

Periods arrive as integer indexes, consecutive periods having consecutive indexes: the caller
turns codes into indexes with `services.common.periods.index(parse_as(code, periodicity))`.
Direction uses the metric's own vocabulary (`MetricDef.direction` in services/common/catalogue.py).
"""

from collections.abc import Mapping, Sequence

from services.common.vocabulary import Direction, Status

FORECAST_MAX_POINTS = 12
FORECAST_MIN_POINTS = 4


def expected_value(
    *,
    latest_index: int,
    baseline_index: int,
    baseline_value: float,
    target_index: int,
    target_value: float,
    trajectory: Mapping[int, float],
) -> float:
    """The trajectory's value at the latest period if it has one, else the straight line from
    (baseline, baseline value) to (target, target value) by period index.

    The line is a segment: before the baseline it is the baseline value and after the target
    period it is the target value, so a place is never expected to beat its own target.
    """
    if latest_index in trajectory:
        return trajectory[latest_index]
    if target_index <= baseline_index:
        raise ValueError("the target period must come after the baseline period")
    step = min(max(latest_index, baseline_index), target_index) - baseline_index
    return baseline_value + (target_value - baseline_value) * step / (target_index - baseline_index)


def progress_pct(latest: float, baseline: float, target: float) -> float | None:
    """How far from baseline to target the latest value has come; None when there is no way to
    go (target = baseline). Not direction-aware: a move away from the target is negative."""
    if target == baseline:
        return None
    return (latest - baseline) / (target - baseline) * 100


def status(
    *,
    direction: Direction,
    latest_value: float | None,
    latest_index: int | None,
    baseline_index: int,
    target_index: int,
    target_value: float,
    baseline_value: float,
    expected: float | None,
    tolerance: float | None,
) -> Status:
    """The first of API.md's statuses that applies, in its order.

    `expected` None means the straight line (no trajectory). `tolerance` None means the default,
    10% of |target - baseline|; when that is 0 (target = baseline) any shortfall at all from the
    expected value is off_track: there is no band in which to be merely at risk.
    """
    if latest_value is None or latest_index is None or latest_index <= baseline_index:
        return "no_data"
    if direction == "neutral":
        return "not_assessed"
    if latest_index >= target_index and _shortfall(latest_value, target_value, direction) <= 0:
        return "achieved"
    if expected is None:
        expected = expected_value(
            latest_index=latest_index,
            baseline_index=baseline_index,
            baseline_value=baseline_value,
            target_index=target_index,
            target_value=target_value,
            trajectory={},
        )
    if tolerance is None:
        # Divided rather than multiplied by 0.1, so that round numbers stay exact at the boundary.
        tolerance = abs(target_value - baseline_value) / 10
    shortfall = _shortfall(latest_value, expected, direction)
    if shortfall <= 0:
        return "on_track"
    if shortfall <= tolerance:
        return "at_risk"
    return "off_track"


def forecast(points: Sequence[tuple[int, float]], *, at_index: int) -> float | None:
    """The least-squares line through the last 12 (at least 4) values, at `at_index`.

    The last values, not the last periods: a series with gaps still uses 12 observations, each at
    its own period index. None with fewer than 4 values, too few for a trend worth showing.
    """
    recent = sorted(points)[-FORECAST_MAX_POINTS:]
    if len(recent) < FORECAST_MIN_POINTS:
        return None
    if len({i for i, _ in recent}) != len(recent):
        raise ValueError("a series has at most one value for each period")
    n = len(recent)
    mean_x = sum(i for i, _ in recent) / n
    mean_y = sum(v for _, v in recent) / n
    sxy = sum((i - mean_x) * (v - mean_y) for i, v in recent)
    sxx = sum((i - mean_x) ** 2 for i, _ in recent)
    return mean_y + sxy / sxx * (at_index - mean_x)


def _shortfall(value: float, reference: float, direction: Direction) -> float:
    """How much worse than `reference` the value is; zero or negative when at least as good."""
    return reference - value if direction == "higher_is_better" else value - reference
