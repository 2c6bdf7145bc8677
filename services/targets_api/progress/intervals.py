"""95% confidence intervals and the comparison with England (API.md "Progress": `comparison`).

The methods are those of the Fingertips / PHE "Technical Guide: Confidence Intervals" (2018) and
the PHEindicatormethods R package (ukhsa-collaboration/PHEindicatormethods, R/Byars.R):
- proportions: Wilson score (Wilson 1927; Newcombe 1998, Stat Med 17:857, method 3);
- counts and rates: exact Poisson from the chi-square distribution (Garwood 1936) below 10
  events, Byar's approximation (Breslow & Day 1987, vol. II) from 10 events up.

No scipy: the chi-square quantile is the gamma quantile (chi2.ppf(p, 2k) / 2 is the quantile of
a gamma with shape k), found by bisection on the regularized incomplete gamma function, computed
by its series or continued fraction as in Numerical Recipes (Press et al., 3rd ed., 6.2).
"""

import math
from functools import cache
from statistics import NormalDist
from typing import Literal, TypeVar

import numpy as np

from services.common.vocabulary import Direction

Comparison = Literal["better", "similar", "worse", "not_compared"]
_Real = TypeVar("_Real", float, np.ndarray)

Z_95 = 1.959963984540054
EXACT_BELOW_EVENTS = 10
_LEVEL = 0.95  # of every interval here

_EPSILON = 1e-15  # the series and continued fraction stop when a term changes the sum less
_TINY = 1e-300  # keeps the continued fraction's denominators off zero (Lentz's method)
_MAX_TERMS = 1000


def wilson_interval(numerator: float, denominator: float, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval for numerator / denominator, as fractions of 1.

    PHEindicatormethods' formula (R/utils.R, wilson_lower and wilson_upper):
    (2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))) / 2 / (n + z^2). At x = 0 the lower limit and at
    x = n the upper limit are exactly 0 and 1 in exact arithmetic; in floating point they come
    out a hair off (1e-19, 0.9999999999999999), which would call a place at 0 % different from
    an England at 0 %, so they are set exactly (API.md, "Statistical definitions, made precise").
    """
    if denominator <= 0 or not 0 <= numerator <= denominator:
        raise ValueError("a proportion needs 0 <= numerator <= denominator and denominator > 0")
    x, n = numerator, denominator
    spread = z * math.sqrt(z * z + 4 * x * (1 - x / n))
    lower = 0.0 if x == 0 else (2 * x + z * z - spread) / 2 / (n + z * z)
    upper = 1.0 if x == n else (2 * x + z * z + spread) / 2 / (n + z * z)
    return lower, upper


def poisson_interval(events: float, *, level: float = _LEVEL) -> tuple[float, float]:
    """The interval for a count of events: exact (Garwood) below 10 events, Byar's from 10."""
    if events < 0:
        raise ValueError("a count of events cannot be negative")
    if not 0 < level < 1:
        raise ValueError("the confidence level is a fraction between 0 and 1")
    alpha = 1 - level
    if events < EXACT_BELOW_EVENTS:
        lower = 0.0 if events == 0 else _gamma_quantile(alpha / 2, shape=events)
        return lower, _gamma_quantile(1 - alpha / 2, shape=events + 1)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    o, o1 = events, events + 1
    return (
        o * _cubed(1 - 1 / (9 * o) - z / (3 * math.sqrt(o))),
        o1 * _cubed(1 - 1 / (9 * o1) + z / (3 * math.sqrt(o1))),
    )


def _cubed(base: _Real) -> _Real:
    """Byar's cube as two multiplications, not pow(): numpy's power may be another library's
    (SVML on AVX-512) and differ from C's pow() in the last bit, and the array forms below must
    give the scalar ones' exact bits."""
    return base * base * base


def rate_interval(numerator: float, denominator: float, multiplier: float) -> tuple[float, float]:
    """The 95% interval of numerator / denominator x multiplier (e.g. per 100,000)."""
    if denominator <= 0:
        raise ValueError("a rate needs a denominator greater than zero")
    lower, upper = poisson_interval(numerator)
    return lower / denominator * multiplier, upper / denominator * multiplier


def comparison(
    interval: tuple[float, float] | None, national: float | None, direction: Direction
) -> Comparison:
    """`better` or `worse` when the place's interval excludes the national value, else `similar`.

    A value exactly on a limit is not excluded (similar). A neutral metric is `not_compared`:
    API.md's words for a difference are better and worse, which a neutral metric has no way to
    choose between, and answering `similar` only when there is no difference would give away the
    difference anyway.
    """
    if interval is None or national is None or direction == "neutral":
        return "not_compared"
    lower, upper = interval
    if lower <= national <= upper:
        return "similar"
    place_is_higher = national < lower
    return "better" if place_is_higher == (direction == "higher_is_better") else "worse"


# -- The same, over arrays: one element per area value, identical to the scalar forms element by
# element (the same IEEE operations in the same order). Where an element has no interval its
# limits are NaN; callers choose the elements that have one.

_Z_POISSON = NormalDist().inv_cdf(1 - (1 - _LEVEL) / 2)  # poisson_interval's z at its default level


def wilson_interval_array(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``wilson_interval`` of each element, as (lower, upper) rows; the caller has checked
    0 <= numerator <= denominator and denominator > 0 where it uses the result."""
    x, n, z = numerator, denominator, Z_95
    with np.errstate(all="ignore"):
        spread = z * np.sqrt(z * z + 4 * x * (1 - x / n))
        lower = np.where(x == 0, 0.0, (2 * x + z * z - spread) / 2 / (n + z * z))
        upper = np.where(x == n, 1.0, (2 * x + z * z + spread) / 2 / (n + z * z))
    return np.stack([lower, upper], axis=-1)


def poisson_interval_array(events: np.ndarray) -> np.ndarray:
    """``poisson_interval`` at 95 % of each element, as (lower, upper) rows.

    Byar's from 10 events is arithmetic over the whole array. The exact limits below 10 come
    from the scalar form for each distinct count below 10 (a loop over those few values, not
    over the elements: counts are whole numbers, so there are at most ten), looked up for every
    element that has one.
    """
    o = np.asarray(events, dtype=np.float64)
    with np.errstate(all="ignore"):
        o1 = o + 1
        limits = np.stack(
            [
                o * _cubed(1 - 1 / (9 * o) - _Z_POISSON / (3 * np.sqrt(o))),
                o1 * _cubed(1 - 1 / (9 * o1) + _Z_POISSON / (3 * np.sqrt(o1))),
            ],
            axis=-1,
        )
    exact = (o >= 0) & (o < EXACT_BELOW_EVENTS)
    if exact.any():
        counts, where = np.unique(o[exact], return_inverse=True)
        table = np.array([_exact_limits(float(count)) for count in counts]).reshape(-1, 2)
        limits[exact] = table[where]
    return limits


def _exact_limits(events: float) -> tuple[float, float]:
    """A count the scalar form raises an arithmetic error on has no limits: NaN, which sets its
    pair aside, as the error did when the scalar form computed each row."""
    try:
        return poisson_interval(events)
    except ArithmeticError:
        return math.nan, math.nan


def rate_interval_array(
    numerator: np.ndarray, denominator: np.ndarray, multiplier: np.ndarray
) -> np.ndarray:
    """``rate_interval`` of each element (arrays of one shape), as (lower, upper) in a last
    axis; the caller has checked denominator > 0 and numerator >= 0 where it uses the result."""
    with np.errstate(all="ignore"):
        return poisson_interval_array(numerator) / denominator[..., None] * multiplier[..., None]


# Comparison codes of comparison_array, in the order of COMPARISONS.
COMPARISONS: tuple[Comparison, ...] = ("better", "similar", "worse", "not_compared")
BETTER, SIMILAR, WORSE, NOT_COMPARED = range(4)


def comparison_array(
    interval: np.ndarray, national: np.ndarray, higher_is_better: np.ndarray, compared: np.ndarray
) -> np.ndarray:
    """``comparison`` of each element as an index into COMPARISONS; ``compared`` is False where
    the scalar form's answer is not_compared (no interval, no national value, neutral)."""
    lower, upper = interval[:, 0], interval[:, 1]
    with np.errstate(invalid="ignore"):
        place_is_higher = national < lower
        similar = (lower <= national) & (national <= upper)
    better = place_is_higher == higher_is_better
    return np.where(
        ~compared, NOT_COMPARED, np.where(similar, SIMILAR, np.where(better, BETTER, WORSE))
    ).astype(np.int8)


# Exact intervals are only for fewer than 10 events: a handful of shapes, worth remembering.
@cache
def _gamma_quantile(p: float, *, shape: float) -> float:
    """x such that P(shape, x) = p, to about 1e-12 relative; scale 1."""
    low, high = 0.0, max(1.0, shape)
    while _regularized_lower_gamma(shape, high) < p:
        low, high = high, 2 * high
    while high - low > 1e-12 * high:
        middle = (low + high) / 2
        # A fraction of an event near 0 has its lower limit below the smallest double: the
        # interval shrinks to two neighbouring doubles and can halve no further.
        if not low < middle < high:
            break
        if _regularized_lower_gamma(shape, middle) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _regularized_lower_gamma(a: float, x: float) -> float:
    """P(a, x): the series converges fast below x = a + 1, the continued fraction above."""
    if x <= 0:
        return 0.0
    log_prefactor = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        for n in range(1, _MAX_TERMS):
            term *= x / (a + n)
            total += term
            if abs(term) < abs(total) * _EPSILON:
                break
        return total * math.exp(log_prefactor)
    b = x + 1 - a
    c, d = 1 / _TINY, 1 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        if abs(d * c - 1) < _EPSILON:
            break
    return 1 - math.exp(log_prefactor) * h
