"""Derived figures as people read them: a roll-up, an interval, an expected value or a mean
computed in binary floating point carries noise in its last digits (14 / 200 x 100 is
7.000000000000001), which a report would print as if it meant something. Derived figures are
given to 12 significant digits, far more than any measure here is known to and far fewer than
the 15-17 where the noise lives; submitted values are never rounded: they are as sent."""

from typing import Annotated

from pydantic import PlainSerializer

SIGNIFICANT_DIGITS = 12


def derived(value: float | None) -> float | None:
    """``value`` to SIGNIFICANT_DIGITS significant digits (None stays None)."""
    return None if value is None else float(f"{value:.{SIGNIFICANT_DIGITS}g}")


# For response fields computed at read time (SPC limits, coverage, shares): rounded when written
# out, never in the arithmetic.
Derived = Annotated[float, PlainSerializer(derived, return_type=float, when_used="json")]
