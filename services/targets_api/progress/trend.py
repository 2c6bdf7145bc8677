"""The recent-trend marker (API.md amendments, `trend`): OHID Fingertips' test for a statistically
significant trend over the five most recent periods, at 99.8 %.

Sources, in the order they were followed:
- the published method, "Fingertips trend markers", Public Health Technical Guidance
  (https://fingertips.phe.org.uk/static-reports/public-health-technical-guidance/Presentation/Trend_markers.html):
  at least five points, no breaks in the series, "two different methods: one for proportions
  and one for every other indicator type", proportions needing a numerator and denominator and
  the other types 95 % confidence limits;
- OHID's own R implementation of that page, PHEindicatormethods `assign_trend_markers`
  (dhsc-govuk/PHEindicatormethods, branch add_trend_markers, R/TrendMarkers.R and the helpers
  `calculate_trend_logistic_regression` and `calculate_trend_weighted_regression` in R/utils.R);
- the Fingertips site's C# (ukhsa-collaboration/fingertips-open, PholioVisualisationWS/Analysis/
  TrendMarkers/TrendMarkerCalculator.cs and TrendRequest.cs; the same calculator is carried into
  dhsc-govuk/FingertipsNext, trend-analysis/TrendAnalysisApp/Calculator/Legacy/): the constants
  `PointsToUse = 5` and `ChiSquareConfidence = 9.54953570608324`, the CI divisor 3.92, the
  "unbroken sequence of valid data" rule and the refusal of a count equal to its denominator.

The method, for the five most recent periods t = 1..5 (only differences of t matter):
- proportions (numerator r_t of denominator n_t): the chi-square test for trend in proportions
  (Armitage 1955, "Tests for linear trends in proportions and frequencies", Biometrics 11:375;
  the Cochran-Armitage test), chi2 = N (N sum r t - R sum n t)^2 / (R (N - R) (N sum n t^2 -
  (sum n t)^2)) with N = sum n and R = sum r, computed here in its centred form
  (sum r (t - t_bar))^2 / (p_bar (1 - p_bar) sum n (t - t_bar)^2), t_bar = sum n t / N, which is
  the same number with less cancellation when the denominators are in the millions. Its
  direction is the least-squares slope of logit(r / n) on t.
- rates (every other type): weighted least squares of the value on t with weights 1 / se^2,
  se = (upper - lower) / 3.92 from the 95 % limits; slope b = sum w (t - t_w)(y - y_w) /
  sum w (t - t_w)^2 and chi2 = b^2 / var(b) = b^2 sum w (t - t_w)^2 (again the centred form of
  Fingertips' sums). The limits are the ones the league table shows (intervals.rate_interval:
  exact Poisson below 10 events, Byar's from 10) unless the caller gives its own.
- significant when chi2 > 9.54953570608324, the 99.8 % point of chi-square on one degree of
  freedom. Fingertips and PHEindicatormethods both use this as a constant (9.5495 in R); it is
  kept as a constant here too rather than computed, and the test suite checks it against the
  chi-square quantile (the square of the normal 99.9 % point).
- and only when no single point makes the trend: the slope with each of the five points left
  out in turn must have the same sign as the slope with all five (Fingertips' "outliers check"),
  else `no_significant_change`. A leave-one-out slope of exactly zero is not the same sign, as
  R's sign() has it; Fingertips' C# counts a zero slope as positive (`slope < 0 ? -1 : 1`),
  which treats rising and falling series differently in that one exact case.

Choices, and where the sources differ:
- Kinds: proportion and rate; a count or a value has no trend (None), as Fingertips calculates
  none for counts and the contract makes `trend` null for kinds it does not apply to.
- The five points are the five most recent periods of the series, and they must be consecutive
  and each usable: Fingertips walks back from the most recent period until it meets an invalid
  one and needs five before it does (TrendRequest.GetValidDataList, "Sequence of valid data
  should be unbroken by missing points"). A period with no observation is a break here too:
  Fingertips' own rows for a missing year carry a null value (an invalid row), whereas a
  series here simply has no point for it, and the C# numbers whatever rows it has 1..5, so an
  absent row would go unnoticed there. The published page is explicit ("There must be no
  breaks in the series ... not currently implemented in Fingertips"); FingertipsNext and
  PHEindicatormethods accept gaps, this module does not.
- `cannot_be_calculated`: fewer than five points; a break among the five most recent periods;
  a point without a numerator or a denominator, or with a denominator that is not positive
  (Fingertips' IsCountValid / IsDenominatorValid); a proportion of 0 or of 1 (the numerator
  equal to its denominator, which Fingertips refuses, or 0, whose logit is as undefined); a
  rate interval of zero width (its weight would be infinite), or a rate given one limit only
  or limits without a value (PHEindicatormethods' "Missing values" and "Missing at least one
  confidence interval value").
- Proportions use the numerator-and-denominator method, as the published page and
  PHEindicatormethods do. The fingertips-open C# chooses that method only for indicators whose
  comparator is "SPC for proportions" (and there it takes the direction from a slope field that
  branch never sets), using the CI method otherwise; FingertipsNext removed the proportion
  method and uses the CI method for every type.
- Fingertips tests only annual data ("monthly or quarterly data are not tested"); this module
  does not know the periodicity and tests whatever consecutive periods it is given.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from services.common.exact import fsum_rows, python_power
from services.common.vocabulary import Kind
from services.targets_api.progress.intervals import rate_interval, rate_interval_array

Trend = Literal["increasing", "decreasing", "no_significant_change", "cannot_be_calculated"]

POINTS_USED = 5  # Fingertips' PointsToUse
CHI_SQUARE_99_8 = 9.54953570608324  # Fingertips' ChiSquareConfidence: chi2(1 df) at 0.998
CI_95_WIDTH_IN_SE = 3.92  # Fingertips: se = (upper - lower) / 3.92, i.e. 2 x 1.96


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One period of the series.

    `index` is the period's index (`services.common.periods.index`): consecutive periods have
    consecutive indexes, so a gap is a break. Proportions use `numerator` and `denominator`
    only. Rates use `value` with `lower` and `upper` (the 95 % limits, on the value's scale)
    when the limits are given; without them, value and limits come from numerator and
    denominator at the `multiplier` given to `trend_test` (one limit alone is unusable).
    """

    index: int
    numerator: float | None
    denominator: float | None
    value: float | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True, slots=True)
class TrendResult:
    """The marker with the figures behind it (`chi_square` and `slope` when they were computed;
    `slope` is on the logit scale for proportions and per period for rates)."""

    marker: Trend
    reason: str
    chi_square: float | None = None
    slope: float | None = None


def recent_trend(
    points: Sequence[TrendPoint], *, kind: Kind, multiplier: float = 1.0
) -> Trend | None:
    """The Fingertips recent-trend marker of the series, or None for a count or a value."""
    result = trend_test(points, kind=kind, multiplier=multiplier)
    return None if result is None else result.marker


def trend_test(
    points: Sequence[TrendPoint], *, kind: Kind, multiplier: float = 1.0
) -> TrendResult | None:
    """`recent_trend` with its reason and statistics. `points` may be in any order; two points
    for one period are a caller's mistake (ValueError)."""
    if kind not in ("proportion", "rate"):
        if kind in ("count", "value"):
            return None
        raise ValueError(f"unknown kind {kind!r}")
    ordered = sorted(points, key=lambda p: p.index)
    if any(a.index == b.index for a, b in zip(ordered, ordered[1:], strict=False)):
        raise ValueError("two points for one period")
    if len(ordered) < POINTS_USED:
        return _cannot("fewer than five points")
    recent = ordered[-POINTS_USED:]
    if recent[-1].index - recent[0].index != POINTS_USED - 1:
        return _cannot("a break in the five most recent periods")
    counted: list[tuple[TrendPoint, float, float]] = []
    for p in recent:
        if p.numerator is None or p.denominator is None:
            return _cannot("a point without its numerator or denominator")
        if p.denominator <= 0 or p.numerator < 0:
            return _cannot("a denominator that is not positive or a negative numerator")
        counted.append((p, float(p.numerator), float(p.denominator)))
    times = [float(p.index - recent[0].index + 1) for p in recent]
    if kind == "proportion":
        return _proportion_trend(counted, times)
    return _rate_trend(counted, times, multiplier)


def _proportion_trend(
    counted: Sequence[tuple[TrendPoint, float, float]], times: Sequence[float]
) -> TrendResult:
    numerators = [r for _, r, _ in counted]
    denominators = [n for _, _, n in counted]
    if any(not 0 < r < n for r, n in zip(numerators, denominators, strict=True)):
        return _cannot("a proportion of 0 or 1 (or above 1), which has no logit")
    chi_square = chi_square_for_trend(numerators, denominators, times)
    logits = [math.log(r / (n - r)) for r, n in zip(numerators, denominators, strict=True)]
    return _decide(chi_square, logits, [1.0] * len(logits), times)


def _rate_trend(
    counted: Sequence[tuple[TrendPoint, float, float]], times: Sequence[float], multiplier: float
) -> TrendResult:
    values, weights = [], []
    for p, numerator, denominator in counted:
        if (p.lower is None) != (p.upper is None):
            return _cannot("a point with only one of its confidence limits")
        if p.lower is not None and p.upper is not None:
            if p.value is None:
                return _cannot("a point with limits but no value")
            value, lower, upper = p.value, p.lower, p.upper
        else:
            value = numerator / denominator * multiplier
            lower, upper = rate_interval(numerator, denominator, multiplier)
        se = (upper - lower) / CI_95_WIDTH_IN_SE
        if not se > 0:
            return _cannot("a confidence interval of zero width")
        values.append(value)
        weights.append(1 / (se * se))
    slope, information = weighted_slope(values, weights, times)
    return _decide(slope * slope * information, values, weights, times)


def _decide(
    chi_square: float, ys: Sequence[float], weights: Sequence[float], times: Sequence[float]
) -> TrendResult:
    """Significant, and in the same direction whichever single point is left out."""
    slope, _ = weighted_slope(ys, weights, times)
    if not chi_square > CHI_SQUARE_99_8:
        return TrendResult("no_significant_change", "no significant trend", chi_square, slope)
    if slope == 0:  # possible only for proportions, whose chi2 is not the slope's
        return TrendResult("no_significant_change", "a slope of zero", chi_square, slope)
    direction = math.copysign(1.0, slope)
    for left_out in range(len(ys)):
        keep = [i for i in range(len(ys)) if i != left_out]
        partial, _ = weighted_slope(
            [ys[i] for i in keep], [weights[i] for i in keep], [times[i] for i in keep]
        )
        if partial == 0 or math.copysign(1.0, partial) != direction:
            return TrendResult(
                "no_significant_change", "one point makes the trend (outlier)", chi_square, slope
            )
    marker: Trend = "increasing" if slope > 0 else "decreasing"
    return TrendResult(marker, "significant trend, no outlier", chi_square, slope)


def chi_square_for_trend(
    numerators: Sequence[float], denominators: Sequence[float], times: Sequence[float]
) -> float:
    """Armitage's chi-square (1 df) for a linear trend in the proportions r / n over t.

    Zero when every proportion is equal; undefined (ValueError) when all are 0 or all are 1.
    """
    total_n = math.fsum(denominators)
    total_r = math.fsum(numerators)
    p_bar = total_r / total_n
    if not 0 < p_bar < 1:
        raise ValueError("the pooled proportion must be strictly between 0 and 1")
    t_bar = math.fsum(n * t for n, t in zip(denominators, times, strict=True)) / total_n
    score = math.fsum(r * (t - t_bar) for r, t in zip(numerators, times, strict=True))
    spread = math.fsum(n * (t - t_bar) ** 2 for n, t in zip(denominators, times, strict=True))
    return score * score / (p_bar * (1 - p_bar) * spread)


def weighted_slope(
    ys: Sequence[float], weights: Sequence[float], times: Sequence[float]
) -> tuple[float, float]:
    """The weighted least-squares slope of y on t and its information sum w (t - t_w)^2 (the
    reciprocal of the slope's variance when the weights are 1 / se^2). Equal weights give the
    ordinary least-squares slope, which is Fingertips' slope of the logits."""
    total_w = math.fsum(weights)
    t_w = math.fsum(w * t for w, t in zip(weights, times, strict=True)) / total_w
    y_w = math.fsum(w * y for w, y in zip(weights, ys, strict=True)) / total_w
    information = math.fsum(w * (t - t_w) ** 2 for w, t in zip(weights, times, strict=True))
    covariance = math.fsum(
        w * (t - t_w) * (y - y_w) for w, t, y in zip(weights, times, ys, strict=True)
    )
    return covariance / information, information


def _cannot(reason: str) -> TrendResult:
    return TrendResult("cannot_be_calculated", reason)


# The whole-array form of `trend_test`'s marker, for the refresh's engine: the same sums
# (math.fsum's, services.common.exact.fsum_rows) and powers, series by series identical to it,
# with one exception flagged for the scalar test: numpy's log and the C library's may differ in
# the last bit, which only a slope within rounding of zero can feel, so a proportion's
# significant trend whose full or leave-one-out slope is that near zero is left undecided.
MARKERS: tuple[Trend, ...] = get_args(Trend)
_INCREASING, _DECREASING, _NO_CHANGE, _CANNOT = range(len(MARKERS))
# A slope's covariance within this many units of rounding (of its terms' size) of zero.
_NEAR_ZERO_ROUNDINGS = 64 * 2.0**-52


def recent_trends(
    *,
    index: np.ndarray,
    numerator: np.ndarray,
    denominator: np.ndarray,
    present: np.ndarray,
    of_proportions: np.ndarray,
    multiplier: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The marker codes (MARKERS) of series of proportions (``of_proportions``) or rates (the
    others; ``multiplier`` per series), right-aligned as the engine holds them, NaN for a
    missing numerator or denominator; and the series left undecided for `recent_trend`."""
    window = slice(-POINTS_USED, None)
    r, n, seen = numerator[:, window], denominator[:, window], present[:, window]
    first, last = index[:, -POINTS_USED], index[:, -1]
    usable = (
        seen.all(axis=1)
        & (last - first == POINTS_USED - 1)
        & ~np.isnan(r).any(axis=1)
        & ~np.isnan(n).any(axis=1)
        & (n > 0).all(axis=1)
        & (r >= 0).all(axis=1)
    )
    # The series whose trend is computed, by each method.
    proportions = of_proportions & usable & ((r > 0) & (r < n)).all(axis=1)
    # Stand-ins where a series has no trend to compute, so the arithmetic stays finite.
    r = np.where(usable[:, None], r, 1.0)
    n = np.where(usable[:, None], n, 2.0)
    times = np.broadcast_to(np.arange(1.0, POINTS_USED + 1), r.shape)
    everything = np.ones(r.shape, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = r / n * multiplier[:, None]
        limits = rate_interval_array(r, n, np.broadcast_to(multiplier[:, None], r.shape))
        lower, upper = limits[..., 0], limits[..., 1]
        se = (upper - lower) / CI_95_WIDTH_IN_SE
        rates = ~of_proportions & usable & (se > 0).all(axis=1)
        logits = np.log(r / (n - r))
        ys = np.where(proportions[:, None], logits, np.where(rates[:, None], values, 0.0))
        weights = np.where(rates[:, None], 1 / (se * se), 1.0)
        slope, information, near_zero = _weighted_slopes(ys, weights, times, everything)
        chi_square = np.where(
            proportions, _chi_squares_for_trend(r, n, times), slope * slope * information
        )
        same_way = slope != 0
        for left_out in range(POINTS_USED):
            keep = everything.copy()
            keep[:, left_out] = False
            partial, _, partial_near_zero = _weighted_slopes(ys, weights, times, keep)
            same_way &= (partial != 0) & (np.sign(partial) == np.sign(slope))
            near_zero |= partial_near_zero
    significant = chi_square > CHI_SQUARE_99_8
    markers = np.select(
        [~(proportions | rates), ~significant | ~same_way, slope > 0],
        [_CANNOT, _NO_CHANGE, _INCREASING],
        _DECREASING,
    )
    return markers, proportions & significant & near_zero


def _weighted_slopes(
    ys: np.ndarray, weights: np.ndarray, times: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`weighted_slope` of each row's kept points, and where its covariance is within rounding
    of zero."""
    total_w = fsum_rows(weights, keep)
    t_w = fsum_rows(weights * times, keep) / total_w
    y_w = fsum_rows(weights * ys, keep) / total_w
    dt = np.where(keep, times - t_w[:, None], 0.0)
    information = fsum_rows(weights * python_power(dt, 2), keep)
    covariance = fsum_rows(weights * dt * (ys - y_w[:, None]), keep)
    size = np.where(keep, np.abs(weights * dt), 0.0).sum(axis=1) * (
        np.where(keep, np.abs(ys), 0.0).max(axis=1) + np.abs(y_w)
    )
    return covariance / information, information, np.abs(covariance) <= _NEAR_ZERO_ROUNDINGS * size


def _chi_squares_for_trend(r: np.ndarray, n: np.ndarray, times: np.ndarray) -> np.ndarray:
    """`chi_square_for_trend` of each row (every proportion strictly between 0 and 1)."""
    total_n = fsum_rows(n)
    p_bar = fsum_rows(r) / total_n
    t_bar = fsum_rows(n * times) / total_n
    dt = times - t_bar[:, None]
    score = fsum_rows(r * dt)
    spread = fsum_rows(n * python_power(dt, 2))
    return score * score / (p_bar * (1 - p_bar) * spread)
