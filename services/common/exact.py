"""Whole-array arithmetic that gives exactly the doubles the scalar code gives: ``math.fsum``, the
correctly rounded mean, and Python's ``x ** 2`` and ``x ** 3`` (the C library's pow).

Each works in double-double: an error-free transformation (Knuth's TwoSum, Dekker's product)
carries every rounding error alongside the rounded result, so the exact value is known to far
better than the last bit, and the correctly rounded double can be read off it. That fails only
where the exact value is within the carried error of a halfway point between two doubles; those
elements are flagged and handed to the scalar function itself, a handful in a thousand for
measured data (each function says how many).
"""

import math
from collections.abc import Callable

import numpy as np

# Veltkamp's splitter for doubles: 2**27 + 1.
_SPLITTER = 134217729.0
_EPSILON = 2.0**-52  # a unit in the last place of 1, twice the largest relative rounding error


def two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(s, e) with s = fl(a + b) and s + e = a + b exactly (Knuth)."""
    s = a + b
    b_virtual = s - a
    a_virtual = s - b_virtual
    return s, (a - a_virtual) + (b - b_virtual)


def two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(p, e) with p = fl(a b) and p + e = a b exactly (Dekker; no FMA in numpy)."""
    p = a * b
    a_high, a_low = _split(a)
    b_high, b_low = _split(b)
    e = ((a_high * b_high - p) + a_high * b_low + a_low * b_high) + a_low * b_low
    return p, e


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = _SPLITTER * a
    high = c - (c - a)
    return high, a - high


def _rounded(
    high: np.ndarray, low: np.ndarray, uncertainty: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The double nearest high + low (+ an unknown error below ``uncertainty``), and where that
    error could decide it: the flagged elements, whose exact value may be on either side of a
    halfway point. ``low`` may be up to a whole gap either side of ``high``; where the
    uncertainty is zero, high must already be the rounding of high + low (two_sum's)."""
    up = np.nextafter(high, np.inf) - high
    down = high - np.nextafter(high, -np.inf)
    result = np.where(low > up / 2, high + up, np.where(low < -down / 2, high - down, high))
    near = (np.abs(low - up / 2) <= uncertainty) | (np.abs(low + down / 2) <= uncertainty)
    beyond = (low > 1.5 * up) | (low < -1.5 * down)
    # With no uncertainty, high is the hardware's rounding of the exact value: nothing in doubt.
    return result, (near & (uncertainty > 0)) | beyond | ~np.isfinite(result)


def _fall_back(
    result: np.ndarray, flagged: np.ndarray, exact: Callable[[int], float]
) -> np.ndarray:
    for row in np.flatnonzero(flagged):
        result[row] = exact(int(row))
    return result


def _sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's exact sum as high + low, to within the returned uncertainty.

    The running sum's rounding errors are summed with their own errors carried too, so the
    uncertainty is zero (high + low is the exact sum) unless those second-order errors are not
    all zero, which takes terms spanning more than about a hundred binary orders of magnitude.
    """
    s = np.zeros(x.shape[0])
    carried = np.zeros(x.shape[0])
    carried_again = np.zeros(x.shape[0])
    size_again = np.zeros(x.shape[0])
    for j in range(x.shape[1]):
        s, error = two_sum(s, x[:, j])
        carried, error_again = two_sum(carried, error)
        carried_again = carried_again + error_again
        size_again = size_again + np.abs(error_again)
    high, low = two_sum(s, carried)
    low = low + carried_again
    uncertainty = np.where(size_again > 0, _EPSILON * (x.shape[1] * size_again + np.abs(low)), 0.0)
    return high, low, uncertainty


def fsum_rows(terms: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """``math.fsum`` of each row of a 2-D array (of its present elements): the correctly
    rounded sum, ties to even as fsum breaks them (the hardware's rounding of the exact
    high + low). Flagged for the scalar fsum: only the sums whose exactness is in doubt."""
    x = terms if present is None else np.where(present, terms, 0.0)
    high, low, uncertainty = _sums(x)
    result, flagged = _rounded(high, low, uncertainty)
    return _fall_back(result, flagged, lambda row: math.fsum(x[row]))


def mean_rows(
    values: np.ndarray, present: np.ndarray, exact: Callable[[list[float]], float]
) -> np.ndarray:
    """The correctly rounded mean of each row's present values (NaN for none), as ``exact``
    (the scalar mean, given a row's values) computes it; the rows whose mean is within rounding
    of a halfway point are given to it (about one in a thousand)."""
    x = np.where(present, values, 0.0)
    count = present.sum(axis=1)
    n = count.astype(np.float64)
    total, total_low, total_uncertainty = _sums(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        quotient = total / n
        # total - quotient x n exactly (n < 2**26 is exact in Dekker's split), then what is left
        # of the division: the exact mean is quotient + remainder (to its rounding).
        product, product_low = two_prod(quotient, n)
        remainder = ((total - product) - product_low + total_low) / n
        uncertainty = total_uncertainty / n + 2 * _EPSILON * np.abs(remainder)
    result, flagged = _rounded(quotient, remainder, uncertainty)
    result[count == 0] = np.nan
    flagged &= count > 0
    return _fall_back(result, flagged, lambda row: exact(x[row][present[row]].tolist()))


# glibc's pow is not always correctly rounded: its result before rounding is within about 2**-60
# of the exact power, so where the exact power is that near a halfway point it may round the
# other way (about one square in a thousand; the largest distance seen over a million random
# squares and cubes was 0.0047 of a gap). Within 1/64 of a gap of halfway, pow itself decides.
_POW_BAND = 1 / 64


def python_power(x: np.ndarray, exponent: int) -> np.ndarray:
    """``x ** exponent`` for exponent 2 or 3, element by element as Python computes it."""
    square, square_low = two_prod(x, x)
    if exponent == 2:
        high, low = square, square_low
    elif exponent == 3:
        cube, cube_low = two_prod(square, x)
        high, low = two_sum(cube, cube_low + square_low * x)
    else:
        raise ValueError("only squares and cubes")
    gap = np.nextafter(np.abs(high), np.inf) - np.abs(high)
    result, flagged = _rounded(high, low, _POW_BAND * gap)
    flagged &= x != 0
    flat = x.reshape(-1)
    out = result.reshape(-1)
    for i in np.flatnonzero(flagged.reshape(-1)):
        out[i] = float(flat[i]) ** exponent
    return out.reshape(x.shape)
