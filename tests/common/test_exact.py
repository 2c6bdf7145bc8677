"""services.common.exact gives the scalar doubles exactly: math.fsum, the correctly rounded mean
(spc.service.exact_mean) and Python's powers, on arrays with ties, cancellation and every
magnitude within the bounds. Pure."""

import math

import numpy as np
import pytest

from services.common.exact import fsum_rows, mean_rows, python_power
from services.targets_api.spc.service import exact_mean


def awkward(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """Random rows of every size, with rows of tenths (exact ties in sums and means), repeated
    values and rows that cancel to nothing."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, shape) * 10.0 ** rng.integers(-12, 12, (shape[0], 1))
    x[::5] = np.round(x[::5] * 10) / 10
    x[1::7] = 0.1
    x[2::9, : shape[1] // 2] = 1e12
    x[2::9, shape[1] // 2 :] = -1e12
    return x


@pytest.mark.parametrize("seed", [1, 2])
def test_fsum_and_mean_of_rows_are_the_scalar_ones(seed: int) -> None:
    x = awkward(seed, (20_000, 9))
    present = np.random.default_rng(seed).random(x.shape) < 0.8
    sums = fsum_rows(x, present)
    means = mean_rows(x, present, exact_mean)
    for row, kept in enumerate(present):
        assert sums[row] == math.fsum(x[row][kept])
        if kept.any():
            assert means[row] == exact_mean(x[row][kept].tolist())
        else:
            assert math.isnan(means[row])


@pytest.mark.parametrize("exponent", [2, 3])
def test_powers_are_pythons(exponent: int) -> None:
    x = np.random.default_rng(exponent).normal(0, 5, 200_000)
    x[::100] = np.round(x[::100], 3)
    got = python_power(x, exponent)
    assert [a**exponent for a in x.tolist()] == got.tolist()
