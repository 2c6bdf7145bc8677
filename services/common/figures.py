"""Derived figures as people read them: a roll-up, an interval, an expected value or a mean
computed in binary floating point carries noise in its last digits (14 / 200 x 100 is
7.000000000000001), which a report would print as if it meant something. Derived figures are
given to 12 significant digits, far more than any measure here is known to and far fewer than
the 15-17 where the noise lives; submitted values are never rounded: they are as sent."""

from typing import Annotated

import numpy as np
from pydantic import PlainSerializer

SIGNIFICANT_DIGITS = 12


def derived(value: float | None) -> float | None:
    """``value`` to SIGNIFICANT_DIGITS significant digits (None stays None)."""
    return None if value is None else float(f"{value:.{SIGNIFICANT_DIGITS}g}")


# 10**k is an exact double for 0 <= k <= 22, so a value scaled by it is rounded once.
_EXACT_POWERS = 22
# |scaled - nearest integer + 0.5| below this may be a tie that one rounding hides: the scaled
# value is below 10**12 < 2**40, so its own rounding error is at most 2**-13.
_TIE_BAND = 1e-3


def derived_array(values: np.ndarray) -> np.ndarray:
    """``derived`` of every element, identical to it element by element (NaN stays NaN).

    The 12 significant digits are N x 10**(e - 11) with N the integer nearest to
    |value| x 10**(11 - e); with 10**(11 - e) exact, N comes from one rounded product or
    quotient, and N / 10**(11 - e) is the double nearest that decimal, which is what
    ``float(f"{value:.12g}")`` is. Where that one rounding could decide the digit (a value
    within _TIE_BAND of halfway, or of a power of ten) or the power is not exact, the element is
    given to ``derived`` itself: a few in a million for measured data.
    """
    v = np.asarray(values, dtype=np.float64)
    out = v.copy()
    magnitude = np.abs(v)
    regular = np.isfinite(v) & (magnitude > 0)
    exponent = np.zeros(v.shape, dtype=np.int64)
    np.floor(np.log10(magnitude, where=regular, out=np.zeros(v.shape)), out=out, where=regular)
    exponent[regular] = out[regular]
    shift = SIGNIFICANT_DIGITS - 1 - exponent  # scaled = magnitude x 10**shift
    exact = regular & (np.abs(shift) <= _EXACT_POWERS)
    power = np.power(10.0, np.abs(shift) * exact)
    scaled = np.where(shift >= 0, magnitude * power, magnitude / power)
    digits = np.rint(scaled)
    lowest, highest = 10.0 ** (SIGNIFICANT_DIGITS - 1), 10.0**SIGNIFICANT_DIGITS
    safe = (
        exact
        & (np.abs(scaled - np.floor(scaled) - 0.5) > _TIE_BAND)
        & (scaled > lowest + _TIE_BAND)
        & (scaled < highest - _TIE_BAND)
    )
    signed = np.copysign(digits, v)
    out = np.where(safe, np.where(shift >= 0, signed / power, signed * power), v)
    for i in np.flatnonzero(regular & ~safe):
        out.flat[i] = derived(float(v.flat[i]))
    return out


# For response fields computed at read time (SPC limits, coverage, shares): rounded when written
# out, never in the arithmetic.
Derived = Annotated[float, PlainSerializer(derived, return_type=float, when_used="json")]
