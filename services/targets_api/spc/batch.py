"""NHSRplotthedots' SPC (``spc.service.spc``) over many series at once, identical to it series
by series: one group per series (no rebase, no fixed baseline), outliers screened.

The series are the rows of a 2-D array, right-aligned: row s holds its n_s values in its last
n_s columns, in order, and ``present`` marks them. Each of R's rules is a comparison of whole
columns (a loop over the at most seven positions of a rule's window, never over series or
points); the left padding plays the part of R's own padding, being on neither side of the mean,
neither close to a limit nor a step. The means are correctly rounded as R's are
(``services.common.exact.mean_rows``, with ``spc.service.exact_mean`` for the rare near-ties).

Values must be finite and within the magnitude bounds, as ``spc`` requires: the caller sets
aside a series that is not.
"""

from dataclasses import dataclass

import numpy as np

from services.common.exact import mean_rows
from services.targets_api.spc.service import (
    LIMIT,
    NEAR_LIMIT,
    OUTLIER_SCREEN,
    RULE_LENGTH,
    Assurance,
    PointType,
    Variation,
    exact_mean,
)

# Point types by code, in the order of the codes the sides and direction give them.
POINT_TYPES: tuple[PointType, ...] = (
    "common_cause",
    "special_cause_improvement",
    "special_cause_concern",
    "special_cause_neutral_high",
    "special_cause_neutral_low",
)
# The variation icon of the last point (ptd_get_icons), by point type code, for an improvement
# direction that is an increase and one that is not.
_VARIATION_IF_INCREASE: tuple[Variation, ...] = (
    "common_cause",
    "improvement_high",
    "concern_low",
    "neutral_high",
    "neutral_low",
)
_VARIATION_OTHERWISE: tuple[Variation, ...] = (
    "common_cause",
    "improvement_low",
    "concern_high",
    "neutral_high",
    "neutral_low",
)
ASSURANCES: tuple[Assurance | None, ...] = (
    None,
    "consistent_pass",
    "consistent_fail",
    "inconsistent",
)


@dataclass(frozen=True)
class BatchSpc:
    """Per series: the limits (NaN where R has none), each point's type code (POINT_TYPES;
    0 at padding), the variation of the last point and the assurance."""

    mean: np.ndarray
    lpl: np.ndarray
    upl: np.ndarray
    point_type: np.ndarray
    variation: np.ndarray  # object array of Variation
    assurance: np.ndarray  # object array of Assurance | None


def spc_batch(
    values: np.ndarray, present: np.ndarray, direction: np.ndarray, target: np.ndarray
) -> BatchSpc:
    """``direction``: +1 increase, -1 decrease, 0 neutral per series; ``target``: NaN for none.
    Every series has at least one value."""
    x = np.where(present, values, 0.0)
    with np.errstate(invalid="ignore"):
        mean = mean_rows(x, present, exact_mean)
        previous = np.zeros_like(present)
        previous[:, 1:] = present[:, :-1]
        moving = present & previous
        ranges = np.zeros_like(x)
        ranges[:, 1:] = np.abs(x[:, 1:] - x[:, :-1])
        cutoff = OUTLIER_SCREEN * mean_rows(ranges, moving, exact_mean)
        mean_mr = mean_rows(ranges, moving & (ranges < cutoff[:, None]), exact_mean)
        lpl, upl = mean - LIMIT * mean_mr, mean + LIMIT * mean_mr
        near_lpl, near_upl = mean - NEAR_LIMIT * mean_mr, mean + NEAR_LIMIT * mean_mr
        sides = _sides(x, present, moving, mean, lpl, upl, near_lpl, near_upl)
    types = _point_types(sides, direction)
    last = types[:, -1]
    variation = np.where(
        direction > 0,
        np.array(_VARIATION_IF_INCREASE, dtype=object)[last],
        np.array(_VARIATION_OTHERWISE, dtype=object)[last],
    )
    return BatchSpc(
        mean=mean,
        lpl=lpl,
        upl=upl,
        point_type=types,
        variation=variation,
        assurance=np.array(ASSURANCES, dtype=object)[_assurance(target, lpl, upl, direction)],
    )


def _shifted(a: np.ndarray, by: int, fill: int | bool = 0) -> np.ndarray:
    """``a`` moved ``by`` columns right (left when negative), ``fill`` coming in."""
    out = np.full_like(a, fill)
    if by > 0:
        out[:, by:] = a[:, :-by]
    elif by < 0:
        out[:, :by] = a[:, -by:]
    else:
        out[:] = a
    return out


def _sides(
    x: np.ndarray,
    present: np.ndarray,
    moving: np.ndarray,
    mean: np.ndarray,
    lpl: np.ndarray,
    upl: np.ndarray,
    near_lpl: np.ndarray,
    near_upl: np.ndarray,
) -> np.ndarray:
    """``spc.service.special_cause_sides`` of every series: 1 high, -1 low, 0 common cause."""
    rtm = np.where(present, np.sign(x - mean[:, None]), 0).astype(np.int8)
    outside = present & ((x > upl[:, None]) | (x < lpl[:, None]))
    close = present & ~outside & ((x < near_lpl[:, None]) | (x > near_upl[:, None]))
    # The step into each point from the one before (0 at a series' first point).
    step = np.zeros_like(rtm)
    step[:, 1:] = np.sign(x[:, 1:] - x[:, :-1])
    step = np.where(moving, step, 0).astype(np.int8)
    # seven_point_trend: the six steps into a point all rising or all falling.
    rising = np.ones_like(present)
    falling = np.ones_like(present)
    for k in range(RULE_LENGTH - 1):
        rising &= _shifted(step == 1, k, False)
        falling &= _shifted(step == -1, k, False)
    trend = _part_of_seven(rising | falling)
    # seven_point_one_side_mean: seven on one side, ending here.
    run_end = rtm != 0
    for k in range(1, RULE_LENGTH):
        run_end &= _shifted(rtm, k) == rtm
    run = _part_of_seven(run_end)
    # two_in_three: a window of three (ending at e) with two close and all on one side.
    close_sum = sum(_shifted(close.astype(np.int8), k) for k in range(3))
    rtm_sum = sum(_shifted(rtm, k) for k in range(3))
    window = (close_sum >= 2) & (np.abs(rtm_sum) == 3)
    two_of_three = close & (window | _shifted(window, -1, False) | _shifted(window, -2, False))
    # A trend points the way it moves: the step to the next point when that is in the trend
    # too, else the step into this one.
    trend_step = np.where(_shifted(trend, -1, False), _shifted(step, -1), step)
    side = np.where(rtm == 1, 1, -1)
    sides = np.select(
        [outside, trend, two_of_three | run],
        [side, np.where(trend_step == 1, 1, -1), np.where(rtm > 0, 1, -1)],
        0,
    )
    return np.where(present, sides, 0).astype(np.int8)


def _part_of_seven(ends: np.ndarray) -> np.ndarray:
    """part_of_seven: an end at this point or within the six after it."""
    flags = np.zeros_like(ends)
    for k in range(RULE_LENGTH):
        flags |= _shifted(ends, -k, False)
    return flags


def _point_types(sides: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """point_type's codes (POINT_TYPES) of each side for each series' direction."""
    d = direction[:, None]
    neutral = np.where(sides > 0, 3, 4)
    judged = np.where(sides * d > 0, 1, 2)
    return np.where(sides == 0, 0, np.where(d == 0, neutral, judged)).astype(np.int8)


def _assurance(
    target: np.ndarray, lpl: np.ndarray, upl: np.ndarray, direction: np.ndarray
) -> np.ndarray:
    """assurance_type's codes (ASSURANCES); NaN limits compare false, so "inconsistent"."""
    increase = direction > 0
    pass_, fail = 1, 2
    code = np.where(
        target > upl,
        np.where(increase, fail, pass_),
        np.where(target < lpl, np.where(increase, pass_, fail), 3),
    )
    return np.where(np.isnan(target) | (direction == 0), 0, code)
