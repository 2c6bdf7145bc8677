"""The refresh's vectorised engine equals the one-series reference, field by field, on thousands
of random targets and series: gaps, ties, flat runs, rebased-looking jumps, every direction and
kind, tiny and large magnitudes within the bounds, missing counts, series shorter than the
rules' windows, trajectories, and the inputs the reference refuses (set aside with its reason).
Many series go through one engine call per example, as in a refresh. Pure: no database."""

import math
import random
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.common import periods
from services.common.catalogue import MetricDef
from services.common.magnitude import MAX_MAGNITUDE
from services.targets_api.progress import engine
from services.targets_api.progress.isolation import DATA_FAILURES, reason_of
from services.targets_api.progress.reference import target_progress

MONTHLY = periods.Periodicity.monthly
QUARTERLY = periods.Periodicity.quarterly
START = periods.index(periods.parse_as("2020-01", MONTHLY))


def metric(kind: str, direction: str, periodicity: str, multiplier: float | None) -> MetricDef:
    return MetricDef(
        code=f"{kind}-{direction}-{periodicity}-{multiplier}",
        name="m",
        unit="u",
        version=1,
        status="active",
        scope="national",
        owner_area_code="E92000001",
        kind=kind,
        multiplier=multiplier,
        direction=direction,
        periodicity=periodicity,
        aggregation="ratio_of_sums",
        valid_min=None,
        valid_max=None,
        decimals=1,
        submission_deadline_days=30,
        mandatory=False,
    )


METRICS = {
    m.code: m
    for m in (
        metric(kind, direction, periodicity, multiplier)
        for kind, multiplier in (
            ("proportion", 100.0),
            ("rate", 100_000.0),
            ("rate", None),
            ("count", None),
            ("value", None),
        )
        for direction in ("higher_is_better", "lower_is_better", "neutral")
        for periodicity in ("monthly", "quarterly")
    )
}


def code(i: int, periodicity: str) -> str:
    return periods.from_index(periods.Periodicity(periodicity), i).code


def magnitude(rng: random.Random) -> float:
    """A figure as submitted: small integers (ties and flat runs), decimals, or any size."""
    shape = rng.choice(["small", "small", "decimal", "decimal", "scaled", "big"])
    if shape == "small":
        return float(rng.randint(0, 6))
    if shape == "decimal":
        return rng.randint(-500, 1500) / 10
    if shape == "big":
        return rng.choice([MAX_MAGNITUDE, -MAX_MAGNITUDE, 1e-12, 123456789012.5])
    return rng.uniform(-9.99, 9.99) * 10.0 ** rng.randint(-11, 11)


def series_values(rng: random.Random, pattern: str, length: int) -> list[float]:
    level = magnitude(rng)
    if pattern == "flat":
        values = [level] * length
    elif pattern == "run":
        slope = rng.choice([0.5, -0.5, 1.0, 0.0, 1e-3])
        values = [level + k * slope for k in range(length)]
    elif pattern == "jump":  # a shift as a rebase would mark
        values = [
            level + (100.0 if k > length // 2 else 0.0) + rng.randint(0, 2) for k in range(length)
        ]
    elif pattern == "steps":
        values = [float(rng.randint(0, 3)) for _ in range(length)]
    else:
        values = [magnitude(rng) for _ in range(length)]
    return [max(-MAX_MAGNITUDE, min(MAX_MAGNITUDE, v)) for v in values]


def counts(rng: random.Random, m: MetricDef, complete: bool) -> tuple[float | None, float | None]:
    """Numerator and denominator: mostly both, sometimes none or only one; proportions of every
    size (0 and 1 included), rates with few events (exact limits) and many (Byar's)."""
    denominator = float(rng.choice([1, 10, 100, 1000, 100_000, 3e6]))
    if m.kind == "proportion":
        numerator = float(rng.choice([rng.randint(0, int(denominator)), int(denominator * 0.4)]))
    else:
        numerator = float(rng.choice([rng.randint(0, 12), rng.randint(0, 5000), 7.5]))
    shape = "both" if complete else rng.choice(["both", "both", "none", "numerator only"])
    return (None if shape == "none" else numerator, denominator if shape == "both" else None)


@st.composite
def cases(draw: Any) -> tuple[dict[str, Any], MetricDef, list[tuple[str, float, Any, Any]]]:
    # Hypothesis chooses the shape; a seeded generator fills in the points (a few bytes of
    # choices per series rather than hundreds, so that thousands of series fit in a run).
    m = METRICS[draw(st.sampled_from(sorted(METRICS)))]
    length = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 20, 30]))
    pattern = draw(st.sampled_from(["noise", "flat", "run", "jump", "steps"]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    complete = draw(st.booleans())  # no gaps, every count: a trend to test
    base = START // (1 if m.periodicity == "monthly" else 3)
    gaps = [1 if complete else rng.choice([1, 1, 1, 1, 2, 3]) for _ in range(length)]
    indexes = [base + sum(gaps[: k + 1]) for k in range(length)]
    values = series_values(rng, pattern, length)
    observations = [
        (code(i, m.periodicity), v, *counts(rng, m, complete))
        for i, v in zip(indexes, values, strict=True)
    ]
    rng.shuffle(observations)  # the store's order is not the period order
    baseline = base + draw(st.integers(-3, 12))
    target = baseline + draw(st.sampled_from([1, 4, 12, 24, 40, 0]))  # 0: refused
    baseline_value = magnitude(rng)
    target_value = draw(st.sampled_from(["same", "other", "near"]))
    target_value = {
        "same": baseline_value,
        "other": magnitude(rng),
        "near": baseline_value + rng.choice([1.0, -1.0, 10.0, -10.0]),
    }[target_value]
    trajectory = [
        {"period": code(rng.randint(baseline, target + 2), m.periodicity), "value": magnitude(rng)}
        for _ in range(draw(st.sampled_from([0, 0, 1, 3])))
    ]
    tolerance = draw(st.sampled_from([None, None, 0.0, "any"]))
    if tolerance == "any":
        tolerance = abs(magnitude(rng))
    return (
        {
            "plan_id": 1,
            "metric_code": m.code,
            "place_code": "E06000001",
            "baseline_period": code(baseline, m.periodicity),
            "baseline_value": baseline_value,
            "target_period": code(target, m.periodicity),
            "target_value": target_value,
            "trajectory": trajectory,
            "tolerance": tolerance,
        },
        m,
        observations,
    )


def arrays(batch: list[Any]) -> tuple[engine.Targets, engine.Observations]:
    """The cases as the store hands them to the engine."""
    codes = sorted(
        {c for t, _, obs in batch for c in (t["baseline_period"], t["target_period"])}
        | {s["period"] for t, _, _ in batch for s in t["trajectory"]}
        | {o[0] for _, _, obs in batch for o in obs}
    )
    at = {c: i for i, c in enumerate(codes)}
    steps = [
        (k, at[s["period"]], s["value"])
        for k, (t, _, _) in enumerate(batch)
        for s in t["trajectory"]
    ]
    obs = [(k, *o) for k, (_, _, observed) in enumerate(batch) for o in observed]

    def floats(xs: list[Any]) -> np.ndarray:
        return np.array([np.nan if x is None else x for x in xs], dtype=np.float64)

    targets = engine.Targets(
        codes=np.array(codes, dtype=object),
        plan_id=np.arange(len(batch), dtype=np.int64),
        metric_code=np.array([t["metric_code"] for t, _, _ in batch], dtype=object),
        place_code=np.array([t["place_code"] for t, _, _ in batch], dtype=object),
        baseline_period=np.array([at[t["baseline_period"]] for t, _, _ in batch], dtype=np.int64),
        baseline_value=floats([t["baseline_value"] for t, _, _ in batch]),
        target_period=np.array([at[t["target_period"]] for t, _, _ in batch], dtype=np.int64),
        target_value=floats([t["target_value"] for t, _, _ in batch]),
        tolerance=floats([t["tolerance"] for t, _, _ in batch]),
        tolerance_set=np.array([t["tolerance"] is not None for t, _, _ in batch]),
        step_target=np.array([s[0] for s in steps], dtype=np.int64),
        step_period=np.array([s[1] for s in steps], dtype=np.int64),
        step_value=floats([s[2] for s in steps]),
    )
    observations = engine.Observations(
        target=np.array([o[0] for o in obs], dtype=np.int64),
        period=np.array([at[o[1]] for o in obs], dtype=np.int64),
        value=floats([o[2] for o in obs]),
        numerator=floats([o[3] for o in obs]),
        denominator=floats([o[4] for o in obs]),
        numerator_nan=np.zeros(len(obs), dtype=bool),
        denominator_nan=np.zeros(len(obs), dtype=bool),
    )
    return targets, observations


def same(a: Any, b: Any) -> bool:
    """Equal, floats exactly (NaN nowhere: it is set aside)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b) or a == b == 0
    return a == b and type(a) is type(b) or (isinstance(a, int) and isinstance(b, int) and a == b)


def check(batch: list[Any]) -> None:
    targets, observations = arrays(batch)
    computed = engine.compute(targets, observations, METRICS)
    rows = {int(p): k for k, p in enumerate(computed.positions)}
    failed = dict(computed.failed)
    for position, (target, m, observed) in enumerate(batch):
        target = {**target, "plan_id": position}
        try:
            expected = target_progress(target, m, observed)
        except DATA_FAILURES as error:
            assert failed.get(position) == reason_of(error), (target, observed)
            continue
        if any(
            isinstance(expected[c], float) and not math.isfinite(expected[c])
            for c in engine.FLOAT_COLUMNS
        ):
            assert position in failed and "not a finite number" in failed[position]
            continue
        assert position in rows, (failed.get(position), target, observed)
        got = {name: computed.columns[name][rows[position]] for name in engine.COLUMNS}
        differ = {n: (got[n], expected[n]) for n in engine.COLUMNS if not same(got[n], expected[n])}
        assert not differ, (differ, target, observed)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(cases(), min_size=50, max_size=120))
def test_the_engine_equals_the_reference_on_random_targets(batch: list[Any]) -> None:
    check(batch)
