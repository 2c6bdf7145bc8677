"""The one bound on every number the API takes in: finite, at most MAX_MAGNITUDE either side of
zero, and either zero or at least MIN_MAGNITUDE away from it.

Why these figures (docs/api.md, "Number bounds", says the same for clients):

- float8 holds every integer exactly up to 2**53 (about 9.0e15), so counts of up to 9,000
  places at 1e12 each still sum exactly.
- The largest products downstream are a value times a population (the column is int4, so
  below 2.2e9) summed over every place, under 1e26, and squares of values or of their
  differences in SPC and forecasts, under 1e25: far from float8's 1.8e308, so neither
  PostgreSQL nor Python overflows.
- PostgreSQL raises an error when float8 arithmetic underflows (a nonzero result that rounds to
  0), and a quotient can be far larger than its dividend. Nonzero magnitudes of at least 1e-12
  keep every quotient the suite takes (numerator / denominator x multiplier, a weighted sum
  over the total population, a change over the distance from baseline to target) between
  1e-40 and 1e42. No measure reported to at most 6 decimals needs a smaller nonzero number.
"""

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

MAX_MAGNITUDE = 1e12
MIN_MAGNITUDE = 1e-12
RULE = f"a number must be 0 or have a magnitude from {MIN_MAGNITUDE:g} to {MAX_MAGNITUDE:g}"


def _not_too_near_zero(number: float) -> float:
    if number and abs(number) < MIN_MAGNITUDE:
        raise PydanticCustomError(
            "magnitude", "{number} is nearer 0 than {bound}, the smallest nonzero magnitude "
                         "accepted", {"number": f"{number:g}", "bound": f"{MIN_MAGNITUDE:g}"})
    return number


# Finite only; the range is in the schema, and the validator adds the nonzero minimum a JSON
# schema cannot say. A narrower lower bound is a type of its own: one added by a field after
# the validator would be checked but shown in the schema as an unknown keyword.
Magnitude = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE),
                      AfterValidator(_not_too_near_zero)]
NonNegativeMagnitude = Annotated[float, Field(allow_inf_nan=False, ge=0, le=MAX_MAGNITUDE),
                                 AfterValidator(_not_too_near_zero)]
PositiveMagnitude = Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_MAGNITUDE),
                              AfterValidator(_not_too_near_zero)]
