"""NHS "Making Data Count" statistical process control (XmR charts), computed exactly as the R
package NHSRplotthedots v0.2 (github.com/nhs-r-community/NHSRplotthedots) computes it.

Each function mirrors one in the package:

- ``process_limits``: ``ptd_spc_standard()`` (R/ptd_spc_standard.R) — per rebase group, the mean
  and moving ranges of the first ``fix_after_n_points`` values (all values when unset), moving
  ranges >= 3.267 x their mean screened out once, limits mean ± 2.66 x mean moving range.
- ``seven_point_one_side_mean``, ``part_of_seven``, ``seven_point_trend``, ``two_in_three``,
  ``part_of_two_in_three``, ``special_cause_sides`` and ``point_type``: the functions of the same
  names (``ptd_`` prefix) in R/ptd_calculate_point_type.R, including ``ptd_special_cause_type()``
  and ``ptd_point_type()``; rules are applied within each rebase group.
- ``variation_type``: ``ptd_get_icons()`` (R/geom_ptd_icon.R), the icon of the last point.
- ``assurance_type``: ``ptd_calculate_assurance_type()`` (R/ptd_calculate_assurance_type.R).
- ``fix_after_n_points`` must be at least 12, as ``ptd_spc_options()`` (R/ptd_spc_options.R)
  requires.

Where R yields NaN limits (a group with no moving range left to average), the limits are None.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal, get_args

from services.common.magnitude import MAX_MAGNITUDE

Direction = Literal["increase", "decrease", "neutral"]
PointType = Literal[
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
]
Variation = Literal[
    "common_cause",
    "improvement_high",
    "improvement_low",
    "concern_high",
    "concern_low",
    "neutral_high",
    "neutral_low",
]
Assurance = Literal["consistent_pass", "consistent_fail", "inconsistent"]

LIMIT = 2.66
# Computed as R computes it, so that points on the boundary are classified identically.
NEAR_LIMIT = 2 * (LIMIT / 3)
OUTLIER_SCREEN = 3.267
RULE_LENGTH = 7
MIN_FIX_AFTER_N_POINTS = 12
# R/ptd_add_short_group_warnings.R: a group of fewer points than this has trial limits. The
# package's code defaults to 13 (option ptd_spc.warning_threshold), though its text says 12.
SHORT_GROUP_POINTS = 13
SHORT_GROUP_WARNING = (
    "Some groups have 'n < 12' observations. These have trial limits, which "
    "will be revised with each additional observation until "
    "'n = fix_after_n_points' has been reached."
)
_DIRECTION_SIGN = {"increase": 1, "neutral": 0, "decrease": -1}


@dataclass(frozen=True)
class SpcPoint:
    value: float
    mean: float
    lpl: float | None
    upl: float | None
    point_type: PointType


@dataclass(frozen=True)
class SpcResult:
    points: list[SpcPoint]
    variation: Variation
    assurance: Assurance | None
    warnings: list[str]  # the cautions NHSRplotthedots raises for the same input


@dataclass(frozen=True)
class Limits:
    """One rebase group's limits; NaN (not None) inside, as R has them, so comparisons fail."""

    mean: float
    lpl: float
    upl: float
    near_lpl: float
    near_upl: float


def spc(
    values: Sequence[float],
    *,
    improvement_direction: Direction,
    target: float | None = None,
    screen_outliers: bool = True,
    fix_after_n_points: int | None = None,
    rebase_at_indices: Sequence[int] = (),
) -> SpcResult:
    """The SPC of a series: each point's limits and type, the variation and assurance icons.

    ``rebase_at_indices``: 0-based positions where a new group with its own limits starts.
    """
    values = [float(v) for v in values]
    _check_arguments(values, improvement_direction, fix_after_n_points, rebase_at_indices)
    points: list[SpcPoint] = []
    groups = _groups(values, rebase_at_indices)
    for group in groups:
        limits = process_limits(
            group, screen_outliers=screen_outliers, fix_after_n_points=fix_after_n_points
        )
        points += [
            SpcPoint(
                value=y,
                mean=limits.mean,
                lpl=_defined(limits.lpl),
                upl=_defined(limits.upl),
                point_type=point_type(side, improvement_direction),
            )
            for y, side in zip(group, special_cause_sides(group, limits), strict=True)
        ]
    return SpcResult(
        points=points,
        variation=variation_type(points[-1].point_type, improvement_direction),
        assurance=assurance_type(
            target, lpl=limits.lpl, upl=limits.upl, improvement_direction=improvement_direction
        ),
        warnings=[SHORT_GROUP_WARNING] if any(len(g) < SHORT_GROUP_POINTS for g in groups) else [],
    )


def _check_arguments(
    values: Sequence[float],
    improvement_direction: str,
    fix_after_n_points: int | None,
    rebase_at_indices: Sequence[int],
) -> None:
    if not values:
        raise ValueError("SPC needs at least one value.")
    if not all(math.isfinite(v) and abs(v) <= MAX_MAGNITUDE for v in values):
        # Beyond it, moving ranges and limits can overflow (docs/api.md, "Number bounds").
        raise ValueError(
            f"SPC values must be finite numbers of magnitude at most {MAX_MAGNITUDE:g}."
        )
    if improvement_direction not in get_args(Direction):
        raise ValueError(f"improvement_direction must be one of {get_args(Direction)}.")
    if fix_after_n_points is not None and fix_after_n_points < MIN_FIX_AFTER_N_POINTS:
        raise ValueError(f"fix_after_n_points must be at least {MIN_FIX_AFTER_N_POINTS}.")
    bounds = [0, *rebase_at_indices, len(values)]
    if any(a >= b for a, b in pairwise(bounds)):
        raise ValueError(
            f"rebase_at_indices must be strictly increasing positions from 1 to {len(values) - 1}."
        )


def _groups(values: list[float], rebase_at_indices: Sequence[int]) -> list[list[float]]:
    bounds = [0, *rebase_at_indices, len(values)]
    return [values[start:end] for start, end in pairwise(bounds)]


def exact_mean(xs: Sequence[float]) -> float:
    """The mean of the values, correctly rounded, which is what R's mean() returns (it sums in
    long double and corrects once): each float is an exact binary fraction, so the sum over a
    common power-of-two denominator is an exact integer, and Python's integer division rounds
    correctly. ``fsum(xs) / n`` rounds twice and is one unit in the last place off for about
    one series in five, and a point exactly on the mean then counts as above or below it."""
    ratios = [x.as_integer_ratio() for x in xs]
    denominator = max(d for _, d in ratios)  # each d is a power of two, so this is their lcm
    return sum(n * (denominator // d) for n, d in ratios) / (denominator * len(xs))


def _defined(limit: float) -> float | None:
    return limit if math.isfinite(limit) else None


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def process_limits(
    values: Sequence[float], *, screen_outliers: bool = True, fix_after_n_points: int | None = None
) -> Limits:
    """One group's mean and process limits (ptd_spc_standard)."""
    basis = values[:fix_after_n_points]
    mean = exact_mean(basis)
    moving_ranges = [abs(b - a) for a, b in pairwise(basis)]
    if screen_outliers and moving_ranges:
        cutoff = OUTLIER_SCREEN * exact_mean(moving_ranges)
        moving_ranges = [mr for mr in moving_ranges if mr < cutoff]
    # R's mean of no moving ranges (one point, or all screened out as in a flat series) is NaN.
    mean_mr = exact_mean(moving_ranges) if moving_ranges else math.nan
    return Limits(
        mean=mean,
        lpl=mean - LIMIT * mean_mr,
        upl=mean + LIMIT * mean_mr,
        near_lpl=mean - NEAR_LIMIT * mean_mr,
        near_upl=mean + NEAR_LIMIT * mean_mr,
    )


def seven_point_one_side_mean(relative_to_mean: Sequence[int]) -> list[int]:
    """1 at each point that ends seven in a row on the same side of the mean."""
    v = relative_to_mean
    return [
        int(
            i >= RULE_LENGTH - 1
            and v[i] != 0
            and all(v[j] == v[i] for j in range(i - RULE_LENGTH + 1, i))
        )
        for i in range(len(v))
    ]


def part_of_seven(ends: Sequence[int]) -> list[int]:
    """1 at each point that ends a run or trend of seven, or is followed within six by one."""
    # One pass from the end, remembering where the nearest end at or after each point is.
    flags = [0] * len(ends)
    nearest_end = None
    for i in range(len(ends) - 1, -1, -1):
        if abs(ends[i]) == 1:
            nearest_end = i
        flags[i] = int(nearest_end is not None and nearest_end - i < RULE_LENGTH)
    return flags


def seven_point_trend(y: Sequence[float]) -> list[int]:
    """1 (rising) or -1 (falling) at each point that ends seven strictly rising or falling."""
    steps = [_sign(b - a) for a, b in pairwise(y)]
    ends = [0] * len(y)
    for i in range(RULE_LENGTH - 1, len(y)):
        window = steps[i - RULE_LENGTH + 1 : i]
        if all(s == 1 for s in window):
            ends[i] = 1
        elif all(s == -1 for s in window):
            ends[i] = -1
    return ends


def two_in_three(close: Sequence[int], relative_to_mean: Sequence[int]) -> list[int]:
    """1 at each point in a window of three, all on one side of the mean, with at least two
    close to a limit (beyond two thirds of the way to it, but not beyond it)."""
    # Padded with two zeros each side, as R does, so that windows run off neither end.
    closep = [0, 0, *close, 0, 0]
    rtmp = [0, 0, *relative_to_mean, 0, 0]
    return [
        int(
            any(
                sum(closep[s : s + 3]) >= 2 and abs(sum(rtmp[s : s + 3])) == 3
                for s in (i, i + 1, i + 2)
            )
        )
        for i in range(len(close))
    ]


def part_of_two_in_three(flags: Sequence[int], close: Sequence[int]) -> list[int]:
    """Only the points close to a limit count, not the third point of the window."""
    return [int(f == 1 and abs(c) == 1) for f, c in zip(flags, close, strict=True)]


def special_cause_sides(y: Sequence[float], limits: Limits) -> list[int]:
    """Per point of one group: 1 for special cause pointing high, -1 low, 0 common cause.

    Rules in R's priority order: outside the limits, part of a trend of seven, two in three
    close to a limit, seven on one side of the mean (ptd_special_cause_type).
    """
    rtm = [_sign(v - limits.mean) for v in y]
    outside = [v > limits.upl or v < limits.lpl for v in y]
    close = [
        not out and (v < limits.near_lpl or v > limits.near_upl)
        for v, out in zip(y, outside, strict=True)
    ]
    trend = part_of_seven(seven_point_trend(y))
    two_of_three = part_of_two_in_three(two_in_three(close, rtm), close)
    run = part_of_seven(seven_point_one_side_mean(rtm))
    steps = [_sign(b - a) for a, b in pairwise(y)]
    sides = []
    for i in range(len(y)):
        if outside[i]:
            side = 1 if rtm[i] == 1 else -1
        elif trend[i]:
            # A trend points the way it moves, whichever side of the mean it is on (issue #171).
            # R takes the step to the next point when that is in a trend too, else the step in.
            in_trend_next = i + 1 < len(y) and trend[i + 1]
            step = steps[i] if in_trend_next else (steps[i - 1] if i > 0 else 0)
            side = 1 if step == 1 else -1
        elif two_of_three[i] or run[i]:
            side = 1 if rtm[i] > 0 else -1
        else:
            side = 0
        sides.append(side)
    return sides


def point_type(side: int, improvement_direction: Direction) -> PointType:
    """ptd_point_type: a special cause's side, judged by the improvement direction."""
    if side == 0:
        return "common_cause"
    if improvement_direction == "neutral":
        return "special_cause_neutral_high" if side > 0 else "special_cause_neutral_low"
    if side * _DIRECTION_SIGN[improvement_direction] > 0:
        return "special_cause_improvement"
    return "special_cause_concern"


def variation_type(last_point_type: PointType, improvement_direction: Direction) -> Variation:
    """The variation icon, from the type of the last point (ptd_get_icons)."""
    increase = improvement_direction == "increase"
    match last_point_type:
        case "special_cause_improvement":
            return "improvement_high" if increase else "improvement_low"
        case "special_cause_concern":
            return "concern_low" if increase else "concern_high"
        case "special_cause_neutral_high":
            return "neutral_high"
        case "special_cause_neutral_low":
            return "neutral_low"
    return "common_cause"


def assurance_type(
    target: float | None, *, lpl: float, upl: float, improvement_direction: Direction
) -> Assurance | None:
    """Whether the process will consistently meet the target, from the last group's limits.

    A target on a limit, or undefined (NaN) limits, give "inconsistent", as in R.
    """
    if target is None or improvement_direction == "neutral":
        return None
    increase = improvement_direction == "increase"
    if target > upl:
        return "consistent_fail" if increase else "consistent_pass"
    if target < lpl:
        return "consistent_pass" if increase else "consistent_fail"
    return "inconsistent"
