"""The one bound on every number the API takes in: finite, at most MAX_MAGNITUDE either side of
zero, and either zero or at least MIN_MAGNITUDE away from it.

docs/api.md ("Number bounds") gives the reasoning in full. In short: within 1e12, integers
summed over 9,000 places stay below 2**53 (exact), and the largest products (a value times a
population, summed over the places) stay below 2e25, far from float8's 1.8e308; and with nonzero
magnitudes of at least 1e-12, every quotient the suite takes stays between 1e-41 and 1e42, so
PostgreSQL, which raises an error on float8 overflow and underflow, never has cause to.
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
            "magnitude",
            "{number} is nearer 0 than {bound}, the smallest nonzero magnitude accepted",
            {"number": f"{number:g}", "bound": f"{MIN_MAGNITUDE:g}"},
        )
    return number


# Finite only; the range is in the schema, and the validator adds the nonzero minimum a JSON
# schema cannot say. A narrower lower bound is a type of its own: one added by a field after
# the validator would be checked but shown in the schema as an unknown keyword.
Magnitude = Annotated[
    float,
    Field(allow_inf_nan=False, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE),
    AfterValidator(_not_too_near_zero),
]
NonNegativeMagnitude = Annotated[
    float, Field(allow_inf_nan=False, ge=0, le=MAX_MAGNITUDE), AfterValidator(_not_too_near_zero)
]
PositiveMagnitude = Annotated[
    float, Field(allow_inf_nan=False, gt=0, le=MAX_MAGNITUDE), AfterValidator(_not_too_near_zero)
]
