"""The vectorised 12-significant-digit rounding gives exactly what the one-value rounding gives."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.figures import derived, derived_array
from services.common.magnitude import MAX_MAGNITUDE, MIN_MAGNITUDE

bounded = st.floats(min_value=-MAX_MAGNITUDE, max_value=MAX_MAGNITUDE, allow_nan=False).filter(
    lambda x: x == 0 or abs(x) >= MIN_MAGNITUDE
)


def halfway(digits: int, exponent: int, steps: int) -> float:
    """A few doubles either side of the decimal halfway between two 12-digit roundings."""
    value = float(f"{digits}5e{exponent}")
    for _ in range(abs(steps)):
        value = math.nextafter(value, math.copysign(math.inf, steps))
    return value


near_boundaries = st.builds(
    halfway, st.integers(10**11, 10**12 - 1), st.integers(-24, 0), st.integers(-3, 3)
)


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all((a == b) & (np.signbit(a) == np.signbit(b)) | (np.isnan(a) & np.isnan(b))))


@settings(max_examples=300)
@given(st.lists(st.one_of(bounded, near_boundaries, st.just(math.nan)), max_size=50))
def test_derived_array_is_derived_element_by_element(values):
    expected = np.array([derived(v) for v in values], dtype=float)
    assert same(derived_array(np.array(values, dtype=float)), expected)


def test_known_cases():
    values = np.array([7.000000000000001, 0.1 + 0.2, -0.0, 0.0, 1e12, 1e-12, 2.5e-13, 1 / 3])
    assert same(derived_array(values), np.array([derived(float(v)) for v in values]))
    assert derived_array(np.array([7.000000000000001]))[0] == 7.0
