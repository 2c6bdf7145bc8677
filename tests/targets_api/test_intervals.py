"""Confidence intervals against published values, and the comparison with England.

Sources of the expected numbers:
- Wilson: Newcombe RG (1998), "Two-sided confidence intervals for the single proportion:
  comparison of seven methods", Stat Med 17:857-872, method 3 (score, no continuity
  correction), worked examples 81/263, 15/148, 0/20, 1/29 and 29/29; 81/263 is also the example
  in Altman et al., "Statistics with Confidence" (2nd ed., 2000), chapter 6.
- Exact Poisson: chi-square tables (chi2 at 2.5% / 97.5% with 2O and 2O + 2 degrees of freedom,
  halved), and the closed forms for 0 and 1 events, where the gamma quantile is a logarithm.
- Byar's: the formula of PHEindicatormethods R/Byars.R (Breslow & Day 1987); the worked values
  of the `byar` Ruby gem's documentation (florish/byar, lib/byar.rb: 100 observed gives
  upper_bound 121.628347271806 and lower(100, 90) 0.9040199067337297, with z = 1.96); and the
  PHE "Technical Guide: Confidence Intervals" (2018) statement that at 95% Byar's is within 0.2%
  of the exact value for 10 events or more.
"""

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.magnitude import MAX_MAGNITUDE, MIN_MAGNITUDE
from services.targets_api.progress.intervals import (
    COMPARISONS,
    _gamma_quantile,
    comparison,
    comparison_array,
    poisson_interval,
    poisson_interval_array,
    rate_interval,
    rate_interval_array,
    wilson_interval,
    wilson_interval_array,
)

# -- Wilson ---------------------------------------------------------------------------------------


def test_wilson_81_of_263_worked_by_hand() -> None:
    # p = 81/263 = 0.307985; z^2 = 3.841459.
    # centre = p + z^2/(2n) = 0.307985 + 0.007303 = 0.315288
    # spread = z sqrt(p(1-p)/n + z^2/(4n^2)) = 1.959964 x sqrt(0.00081038 + 0.00001388)
    #        = 1.959964 x 0.028710 = 0.056271
    # scale  = 1 + z^2/n = 1.014606
    # lower  = (0.315288 - 0.056271) / 1.014606 = 0.2553
    # upper  = (0.315288 + 0.056271) / 1.014606 = 0.3662   (Newcombe 1998; Altman et al.)
    lower, upper = wilson_interval(81, 263)
    assert (round(lower, 4), round(upper, 4)) == (0.2553, 0.3662)


@pytest.mark.parametrize(
    ("numerator", "denominator", "published"),
    [
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
        (29, 29, (0.8830, 1.0)),
    ],
)
def test_wilson_matches_newcombes_examples(
    numerator: int, denominator: int, published: tuple[float, float]
) -> None:
    lower, upper = wilson_interval(numerator, denominator)
    assert (round(lower, 4), round(upper, 4)) == published


@pytest.mark.parametrize("denominator", [1, 7, 20, 29, 100, 1000, 12345, 10**6, 0.5, 2.5])
def test_wilson_is_exactly_zero_at_no_events_and_one_at_all(denominator: float) -> None:
    # The floating-point formula gives about 1e-19 and 0.9999999999999999 for some n, which
    # would call 0 % different from an England at 0 % (API.md amendments; PHEindicatormethods).
    assert wilson_interval(0, denominator)[0] == 0.0
    assert wilson_interval(denominator, denominator)[1] == 1.0


def test_a_place_at_zero_is_similar_to_an_england_at_zero() -> None:
    assert comparison(wilson_interval(0, 1000), 0.0, "higher_is_better") == "similar"
    assert comparison(wilson_interval(100, 100), 1.0, "lower_is_better") == "similar"


@pytest.mark.parametrize(("numerator", "denominator"), [(1, 0), (-1, 10), (11, 10)])
def test_wilson_refuses_what_is_not_a_proportion(numerator: int, denominator: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(numerator, denominator)


# -- exact Poisson (fewer than 10 events) ---------------------------------------------------------


def test_no_events_runs_from_zero_to_minus_log_of_alpha_over_two() -> None:
    # Upper = chi2(0.975, 2)/2 = -ln(0.025) = 3.688879 (the shape-1 gamma is an exponential).
    assert poisson_interval(0) == (0.0, pytest.approx(-math.log(0.025), rel=1e-10))


def test_one_event_in_closed_form() -> None:
    # Lower = chi2(0.025, 2)/2 = -ln(0.975) = 0.025318; upper = chi2(0.975, 4)/2 = 5.5716.
    lower, upper = poisson_interval(1)
    assert lower == pytest.approx(-math.log(0.975), rel=1e-10)
    assert round(upper, 4) == 5.5716


@pytest.mark.parametrize(
    ("events", "chi2_lower", "chi2_upper"),
    [
        # chi-square table values: chi2(0.025, 2O) and chi2(0.975, 2O + 2).
        (1, 0.0506, 11.143),
        (5, 3.247, 23.337),
        (9, 8.231, 34.170),
    ],
)
def test_exact_limits_are_halved_chi_square_table_values(
    events: int, chi2_lower: float, chi2_upper: float
) -> None:
    lower, upper = poisson_interval(events)
    assert lower == pytest.approx(chi2_lower / 2, abs=5e-4)
    assert upper == pytest.approx(chi2_upper / 2, abs=5e-4)


def test_five_events_to_four_decimals() -> None:
    lower, upper = poisson_interval(5)
    assert (round(lower, 4), round(upper, 4)) == (1.6235, 11.6683)


@pytest.mark.parametrize("events", [1e-12, 1e-300, 5e-324])
def test_a_fraction_of_an_event_near_zero_has_limits(events: float) -> None:
    # The lower limit is below the smallest double; its bisection used to halve forever.
    # A numerator of 1e-12 is within the bounds on numbers.
    lower, upper = poisson_interval(events)
    assert lower == pytest.approx(0.0, abs=1e-300)
    assert upper == pytest.approx(-math.log(0.025), rel=1e-6)


def test_the_level_can_be_changed() -> None:
    # 99.8%: upper for no events = -ln(0.001) = 6.907755.
    assert poisson_interval(0, level=0.998)[1] == pytest.approx(-math.log(0.001), rel=1e-10)


# -- Byar's (10 events or more) -------------------------------------------------------------------


def test_byars_65_events_worked_by_hand() -> None:
    # lower = 65 (1 - 1/585 - 1.959964/(3 sqrt 65))^3 = 65 (1 - 0.001709 - 0.081035)^3
    #       = 65 x 0.917256^3 = 50.1632
    # upper = 66 (1 - 1/594 + 1.959964/(3 sqrt 66))^3 = 66 (1 - 0.001684 + 0.080418)^3
    #       = 66 x 1.078735^3 = 82.8491
    lower, upper = poisson_interval(65)
    assert (round(lower, 4), round(upper, 4)) == (50.1632, 82.8491)


def test_byars_matches_the_published_values_for_100_events_at_z_196() -> None:
    # The gem uses z = 1.96 exactly; the level that gives that z reproduces its numbers.
    level = 2 * NormalDist().cdf(1.96) - 1
    lower, upper = poisson_interval(100, level=level)
    assert lower == pytest.approx(0.9040199067337297 * 90, rel=1e-9)  # 81.361792
    assert upper == pytest.approx(121.628347271806, rel=1e-9)


def test_ten_events_is_where_byars_takes_over() -> None:
    # Exact for 9: chi2(0.025, 18)/2 = 4.1154. Byar's for 10: 10 (1 - 1/90 - 1.959964/(3 sqrt 10))^3
    # = 10 x 0.782338^3 = 4.7874, where the exact limit would be chi2(0.025, 20)/2 = 4.7954.
    assert round(poisson_interval(9)[0], 4) == 4.1154
    assert round(poisson_interval(10)[0], 4) == 4.7874


def test_byars_is_within_two_tenths_of_a_percent_of_exact_from_10_events() -> None:
    for events in range(10, 500):
        lower, upper = poisson_interval(events)
        assert lower == pytest.approx(_gamma_quantile(0.025, shape=events), rel=0.002)
        assert upper == pytest.approx(_gamma_quantile(0.975, shape=events + 1), rel=0.002)


@pytest.mark.parametrize(
    "bad", [{"events": -1}, {"events": 5, "level": 1.0}, {"events": 5, "level": 0.0}]
)
def test_poisson_refuses_negative_counts_and_impossible_levels(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        poisson_interval(**bad)


# -- rates ----------------------------------------------------------------------------------------


def test_a_rate_interval_scales_the_count_interval() -> None:
    # 65 events in 130,000 people per 100,000: (50.1632, 82.8491) / 130000 x 100000
    # = (38.5871, 63.7301).
    lower, upper = rate_interval(65, 130_000, 100_000)
    assert (round(lower, 4), round(upper, 4)) == (38.5871, 63.7301)


def test_a_rate_with_few_events_uses_the_exact_interval() -> None:
    # 3 events: chi2(0.025, 6)/2 = 0.6187, chi2(0.975, 8)/2 = 8.7673; per 1,000 of 2,000 people:
    # (0.6187, 8.7673) / 2000 x 1000 = (0.3093, 4.3836).
    lower, upper = rate_interval(3, 2000, 1000)
    assert (round(lower, 4), round(upper, 4)) == (0.3093, 4.3836)


def test_a_rate_needs_a_denominator() -> None:
    with pytest.raises(ValueError):
        rate_interval(3, 0, 1000)


# -- comparison with England ----------------------------------------------------------------------

INTERVAL = (0.2553, 0.3662)  # 81/263


def test_an_interval_above_england_is_better_when_higher_is_better() -> None:
    assert comparison(INTERVAL, 0.25, "higher_is_better") == "better"
    assert comparison(INTERVAL, 0.40, "higher_is_better") == "worse"


def test_lower_is_better_reverses_the_comparison() -> None:
    assert comparison(INTERVAL, 0.25, "lower_is_better") == "worse"
    assert comparison(INTERVAL, 0.40, "lower_is_better") == "better"


def test_england_inside_the_interval_is_similar() -> None:
    assert comparison(INTERVAL, 0.30, "higher_is_better") == "similar"
    assert comparison(INTERVAL, 0.30, "lower_is_better") == "similar"


def test_england_exactly_on_a_limit_is_similar() -> None:
    assert comparison(INTERVAL, 0.2553, "higher_is_better") == "similar"
    assert comparison(INTERVAL, 0.3662, "lower_is_better") == "similar"


def test_nothing_to_compare_is_not_compared() -> None:
    assert comparison(None, 0.30, "higher_is_better") == "not_compared"
    assert comparison(INTERVAL, None, "higher_is_better") == "not_compared"


def test_a_neutral_metric_is_not_compared() -> None:
    for national in (0.25, 0.30, 0.40):
        assert comparison(INTERVAL, national, "neutral") == "not_compared"


# -- the array forms give the scalar forms' exact bits --------------------------------------------

bounded = st.floats(min_value=MIN_MAGNITUDE, max_value=MAX_MAGNITUDE)
events = st.one_of(st.integers(0, 10**7).map(float), bounded, st.just(0.0))


def bits(values: np.ndarray) -> list[str]:
    return [float(v).hex() for v in np.ravel(values)]


@settings(max_examples=100)
@given(st.lists(st.tuples(st.floats(0, 1), st.one_of(st.integers(1, 10**6).map(float), bounded))))
def test_wilson_array_is_wilson_element_by_element(cases: list[tuple[float, float]]) -> None:
    numerator = np.array([min(f * n, n) for f, n in cases], dtype=float)
    denominator = np.array([n for _, n in cases], dtype=float)
    expected = [wilson_interval(x, n) for x, n in zip(numerator, denominator, strict=True)]
    assert bits(wilson_interval_array(numerator, denominator)) == bits(np.array(expected))


def test_byars_array_is_byars_for_every_count_to_100_000() -> None:
    # Exhaustive where the counts are: pow() and numpy's power differ in the last bit for about
    # one base in twenty, so the cube is two multiplications in both forms.
    counts = np.arange(0, 10**5, dtype=float)
    expected = np.array([poisson_interval(c) for c in counts.tolist()])
    assert bits(poisson_interval_array(counts)) == bits(expected)


@settings(max_examples=100)
@given(st.lists(st.tuples(events, bounded, st.sampled_from([1.0, 100.0, 1000.0, 100_000.0]))))
def test_rate_array_is_rate_element_by_element(cases: list[tuple[float, float, float]]) -> None:
    numerator, denominator, multiplier = np.array(cases, dtype=float).reshape(-1, 3).T
    expected = np.array([rate_interval(*case) for case in cases]).reshape(-1, 2)
    computed = rate_interval_array(numerator, denominator, multiplier)
    assert bits(computed) == bits(expected)


@given(
    st.lists(
        st.tuples(
            st.floats(0, 100),
            st.floats(0, 100),
            st.one_of(st.none(), st.floats(0, 100)),
            st.sampled_from(["higher_is_better", "lower_is_better", "neutral"]),
        )
    )
)
def test_comparison_array_is_comparison_element_by_element(cases) -> None:
    intervals = [(min(a, b), max(a, b)) for a, b, _, _ in cases]
    expected = [
        comparison(interval, national, direction)
        for interval, (_, _, national, direction) in zip(intervals, cases, strict=True)
    ]
    computed = comparison_array(
        np.array(intervals, dtype=float).reshape(-1, 2),
        np.array([np.nan if c[2] is None else c[2] for c in cases], dtype=float),
        np.array([c[3] == "higher_is_better" for c in cases], dtype=bool),
        np.array([c[2] is not None and c[3] != "neutral" for c in cases], dtype=bool),
    )
    assert [COMPARISONS[c] for c in computed] == expected
