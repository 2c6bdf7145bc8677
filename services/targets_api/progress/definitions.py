"""Progress against a target, exactly as /work/shared/API.md ("Progress", Definitions) defines it:
expected value, progress %, status and forecast. Pure functions of numbers, no I/O.

Periods arrive as integer indexes, consecutive periods having consecutive indexes: the caller
turns codes into indexes with `services.common.periods.index(parse_as(code, periodicity))`.
Direction uses the metric's own vocabulary (`MetricDef.direction` in services/common/catalogue.py).
"""

from collections.abc import Mapping, Sequence
from typing import get_args

import numpy as np

from services.common.exact import python_power
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


# Whole-array forms of the definitions above, for the refresh's engine (progress/engine.py): the
# same operations in the same order on arrays of series, so each element is the double the
# scalar form gives. Points are (series, position) arrays right-aligned (`present` marks the
# values); per-series figures are columns (shape (series, 1)) that broadcast over the points.

STATUSES: tuple[Status, ...] = get_args(Status)
NO_DATA, NOT_ASSESSED, ACHIEVED, ON_TRACK, AT_RISK, OFF_TRACK = range(len(STATUSES))


def expected_values(
    *,
    index: np.ndarray,
    baseline_index: np.ndarray,
    baseline_value: np.ndarray,
    target_index: np.ndarray,
    target_value: np.ndarray,
    on_trajectory: np.ndarray,
    trajectory_value: np.ndarray,
) -> np.ndarray:
    """``expected_value`` at each index; the target index must come after the baseline's."""
    step = np.minimum(np.maximum(index, baseline_index), target_index) - baseline_index
    line = baseline_value + (target_value - baseline_value) * step / (target_index - baseline_index)
    return np.where(on_trajectory, trajectory_value, line)


def statuses(
    *,
    direction: np.ndarray,
    value: np.ndarray,
    index: np.ndarray,
    present: np.ndarray,
    baseline_index: np.ndarray,
    target_index: np.ndarray,
    target_value: np.ndarray,
    baseline_value: np.ndarray,
    expected: np.ndarray,
    tolerance: np.ndarray,
) -> np.ndarray:
    """``status`` codes (STATUSES) of each point. ``direction``: 1 higher is better, -1 lower,
    0 neutral; ``tolerance`` NaN for the default; ``expected`` where index > baseline index."""
    default = np.abs(target_value - baseline_value) / 10
    band = np.where(np.isnan(tolerance), default, tolerance)
    to_target = np.where(direction > 0, target_value - value, value - target_value)
    shortfall = np.where(direction > 0, expected - value, value - expected)
    return np.select(
        [
            ~present | (index <= baseline_index),
            direction == 0,
            (index >= target_index) & (to_target <= 0),
            shortfall <= 0,
            shortfall <= band,
        ],
        [NO_DATA, NOT_ASSESSED, ACHIEVED, ON_TRACK, AT_RISK],
        OFF_TRACK,
    )


def forecasts(
    *, index: np.ndarray, value: np.ndarray, present: np.ndarray, at_index: np.ndarray
) -> np.ndarray:
    """``forecast`` of each series (NaN for None), at its own ``at_index``. The sums run left
    to right as Python's sum() does; the squares are Python's (services.common.exact)."""
    recent = present[:, -FORECAST_MAX_POINTS:]
    xs = index[:, -FORECAST_MAX_POINTS:]
    ys = np.where(recent, value[:, -FORECAST_MAX_POINTS:], 0.0)
    n = recent.sum(axis=1)
    mean_x = np.where(recent, xs, 0).sum(axis=1) / n
    mean_y = _sum_in_order(ys) / n
    dx = np.where(recent, xs - mean_x[:, None], 0.0)
    sxy = _sum_in_order(np.where(recent, dx * (ys - mean_y[:, None]), 0.0))
    sxx = _sum_in_order(python_power(dx, 2))
    line = mean_y + sxy / sxx * (at_index - mean_x)
    return np.where(n >= FORECAST_MIN_POINTS, line, np.nan)


def _sum_in_order(terms: np.ndarray) -> np.ndarray:
    total = np.zeros(terms.shape[0])
    for j in range(terms.shape[1]):
        total = total + terms[:, j]
    return total
