"""spc.batch equals spc.service.spc (the NHSRplotthedots port) on thousands of random series at
once: each point's type, the limits, the variation and the assurance. Pure: no database."""

import random
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.magnitude import MAX_MAGNITUDE
from services.targets_api.spc.batch import POINT_TYPES, spc_batch
from services.targets_api.spc.service import spc

SIGN = {"increase": 1, "decrease": -1, "neutral": 0}


@st.composite
def series(draw: Any) -> tuple[list[float], str, float | None]:
    length = draw(st.sampled_from([1, 2, 3, 6, 7, 8, 12, 13, 20, 40]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    shape = draw(st.sampled_from(["ties", "trend", "noise", "flat", "outlier", "big"]))
    if shape == "ties":  # points on the mean, equal moving ranges
        values = [float(rng.randint(0, 4)) for _ in range(length)]
    elif shape == "trend":  # runs of seven rising or falling, with flat steps
        step = rng.choice([0.5, -0.5, 0.1, 0.0])
        values = [k * step + rng.choice([0.0, 0.0, 0.3]) for k in range(length)]
    elif shape == "flat":
        values = [rng.uniform(-5, 5)] * length
    elif shape == "outlier":
        values = [rng.gauss(0, 1) for _ in range(length)]
        values[rng.randrange(length)] += rng.choice([10.0, -10.0])
    elif shape == "big":
        values = [rng.choice([MAX_MAGNITUDE, -MAX_MAGNITUDE, 1e-12, 0.0]) for _ in range(length)]
    else:
        scale = 10.0 ** rng.randint(-12, 11)
        values = [rng.gauss(0, 1) * scale for _ in range(length)]
    direction = draw(st.sampled_from(sorted(SIGN)))
    target = draw(st.sampled_from([None, 0.0, 1.0, "any"]))
    return values, direction, rng.uniform(-3, 3) if target == "any" else target


def limit(a: float, b: float | None) -> bool:
    return np.isnan(a) if b is None else a == b


@settings(max_examples=30, deadline=None)
@given(st.lists(series(), min_size=100, max_size=200))
def test_the_batch_equals_the_scalar_spc_series_by_series(batch: list[Any]) -> None:
    width = max(len(v) for v, _, _ in batch)
    values = np.zeros((len(batch), width))
    present = np.zeros((len(batch), width), dtype=bool)
    for row, (v, _, _) in enumerate(batch):
        values[row, width - len(v) :], present[row, width - len(v) :] = v, True
    chart = spc_batch(
        values,
        present,
        np.array([SIGN[d] for _, d, _ in batch]),
        np.array([np.nan if t is None else t for _, _, t in batch]),
    )
    for row, (v, direction, target) in enumerate(batch):
        expected = spc(v, improvement_direction=direction, target=target)
        last = expected.points[-1]
        got = [POINT_TYPES[c] for c in chart.point_type[row, width - len(v) :]]
        assert got == [p.point_type for p in expected.points], (v, direction)
        assert chart.mean[row] == last.mean, v
        assert limit(chart.lpl[row], last.lpl) and limit(chart.upl[row], last.upl), v
        assert (chart.variation[row], chart.assurance[row]) == (
            expected.variation,
            expected.assurance,
        ), (v, direction, target)
