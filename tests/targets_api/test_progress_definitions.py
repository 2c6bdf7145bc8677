"""API.md "Progress" definitions, each with a hand-worked example (the arithmetic is in the
comments). Pure: no database, no app."""

from typing import Any

import pytest

from services.common.periods import index, parse_as
from services.targets_api.progress.definitions import (
    expected_value,
    forecast,
    progress_pct,
    status,
)

# -- expected_value -------------------------------------------------------------------------------


def test_expected_value_is_on_the_straight_line_by_period_index() -> None:
    # 50 at index 100 to 70 at index 108: at 102, 50 + (70 - 50) x 2/8 = 55.
    assert (
        expected_value(
            latest_index=102,
            baseline_index=100,
            baseline_value=50,
            target_index=108,
            target_value=70,
            trajectory={},
        )
        == 55
    )


def test_expected_value_line_runs_down_when_lower_is_better() -> None:
    # 200 at index 0 to 120 at index 4: at 1, 200 + (120 - 200) x 1/4 = 180.
    assert (
        expected_value(
            latest_index=1,
            baseline_index=0,
            baseline_value=200,
            target_index=4,
            target_value=120,
            trajectory={},
        )
        == 180
    )


def test_expected_value_takes_the_trajectory_at_the_latest_period() -> None:
    # The line would say 55; the agreed trajectory says 62 there, and the trajectory wins.
    assert (
        expected_value(
            latest_index=102,
            baseline_index=100,
            baseline_value=50,
            target_index=108,
            target_value=70,
            trajectory={102: 62.0},
        )
        == 62
    )


def test_expected_value_without_a_trajectory_point_there_is_the_line() -> None:
    # A trajectory point at 104 says nothing about 102: the line, 55.
    assert (
        expected_value(
            latest_index=102,
            baseline_index=100,
            baseline_value=50,
            target_index=108,
            target_value=70,
            trajectory={104: 66.0},
        )
        == 55
    )


def test_expected_value_works_on_period_codes_turned_into_indexes() -> None:
    # Quarterly: 2024-Q1 -> 2026-Q1 is 8 quarters; 2024-Q3 is 2 quarters in: 50 + 20 x 2/8 = 55.
    def at(code: str) -> int:
        return index(parse_as(code, "quarterly"))

    assert (
        expected_value(
            latest_index=at("2024-Q3"),
            baseline_index=at("2024-Q1"),
            baseline_value=50,
            target_index=at("2026-Q1"),
            target_value=70,
            trajectory={},
        )
        == 55
    )


def test_expected_value_stops_at_the_ends_of_the_line() -> None:
    # Past the target period the expectation is the target itself (70), not 70 + 2.5 a period.
    assert (
        expected_value(
            latest_index=112,
            baseline_index=100,
            baseline_value=50,
            target_index=108,
            target_value=70,
            trajectory={},
        )
        == 70
    )
    assert (
        expected_value(
            latest_index=99,
            baseline_index=100,
            baseline_value=50,
            target_index=108,
            target_value=70,
            trajectory={},
        )
        == 50
    )


def test_expected_value_needs_the_target_after_the_baseline() -> None:
    with pytest.raises(ValueError):
        expected_value(
            latest_index=5,
            baseline_index=5,
            baseline_value=50,
            target_index=5,
            target_value=70,
            trajectory={},
        )


# -- progress_pct ---------------------------------------------------------------------------------


def test_progress_pct_is_the_share_of_the_way_from_baseline_to_target() -> None:
    # (65 - 50) / (70 - 50) x 100 = 75.
    assert progress_pct(65, 50, 70) == 75


def test_progress_pct_on_a_falling_target() -> None:
    # (180 - 200) / (120 - 200) x 100 = -20 / -80 x 100 = 25.
    assert progress_pct(180, 200, 120) == 25


def test_progress_pct_is_negative_when_moving_away_from_the_target() -> None:
    # (45 - 50) / (70 - 50) x 100 = -25.
    assert progress_pct(45, 50, 70) == -25


def test_progress_pct_is_none_when_target_equals_baseline() -> None:
    assert progress_pct(52, 50, 50) is None


# -- status ---------------------------------------------------------------------------------------

# Higher is better: 50 at index 0 to 70 at index 10. At index 5 the line expects 50 + 20 x 5/10
# = 60, and the default tolerance is 10% of |70 - 50| = 2: on track from 60 up, at risk from 58.
RISING: dict[str, Any] = dict(
    direction="higher_is_better",
    baseline_index=0,
    baseline_value=50,
    target_index=10,
    target_value=70,
    expected=None,
    tolerance=None,
)
# Lower is better: 200 at index 0 to 120 at index 8. At index 2 the line expects
# 200 - 80 x 2/8 = 180; the default tolerance is 10% of |120 - 200| = 8: at risk up to 188.
FALLING: dict[str, Any] = dict(
    direction="lower_is_better",
    baseline_index=0,
    baseline_value=200,
    target_index=8,
    target_value=120,
    expected=None,
    tolerance=None,
)


def test_no_value_at_all_is_no_data() -> None:
    assert status(**RISING, latest_value=None, latest_index=None) == "no_data"


def test_a_value_only_for_the_baseline_period_is_no_data() -> None:
    assert status(**RISING, latest_value=50, latest_index=0) == "no_data"


def test_no_data_comes_before_not_assessed() -> None:
    assert (
        status(**{**RISING, "direction": "neutral"}, latest_value=None, latest_index=None)
        == "no_data"
    )


def test_a_neutral_metric_is_not_assessed() -> None:
    assert (
        status(**{**RISING, "direction": "neutral"}, latest_value=90, latest_index=10)
        == "not_assessed"
    )


def test_at_the_target_period_and_equal_to_the_target_is_achieved() -> None:
    assert status(**RISING, latest_value=70, latest_index=10) == "achieved"


def test_after_the_target_period_and_better_than_the_target_is_achieved() -> None:
    assert status(**RISING, latest_value=75, latest_index=12) == "achieved"


def test_better_than_the_target_before_the_target_period_is_only_on_track() -> None:
    assert status(**RISING, latest_value=75, latest_index=9) == "on_track"


def test_at_the_target_period_but_short_of_the_target_is_judged_against_it() -> None:
    # Expected at the target period is the target, 70: 69 is 1 short, within the tolerance 2.
    assert status(**RISING, latest_value=69, latest_index=10) == "at_risk"
    # 67 is 3 short: more than 2.
    assert status(**RISING, latest_value=67, latest_index=12) == "off_track"


def test_exactly_at_expected_is_on_track() -> None:
    assert status(**RISING, latest_value=60, latest_index=5) == "on_track"


def test_exactly_at_the_tolerance_is_at_risk() -> None:
    # 60 - 58 = 2 = the tolerance.
    assert status(**RISING, latest_value=58, latest_index=5) == "at_risk"


def test_just_beyond_the_tolerance_is_off_track() -> None:
    # 60 - 57.99 = 2.01 > 2.
    assert status(**RISING, latest_value=57.99, latest_index=5) == "off_track"


def test_lower_is_better_reverses_every_comparison() -> None:
    assert status(**FALLING, latest_value=180, latest_index=2) == "on_track"  # at expected
    assert status(**FALLING, latest_value=170, latest_index=2) == "on_track"  # below: better
    assert status(**FALLING, latest_value=188, latest_index=2) == "at_risk"  # 8 over = tolerance
    assert status(**FALLING, latest_value=188.5, latest_index=2) == "off_track"  # 8.5 over
    assert status(**FALLING, latest_value=120, latest_index=8) == "achieved"  # = target
    assert status(**FALLING, latest_value=119, latest_index=8) == "achieved"  # below target
    assert status(**FALLING, latest_value=121, latest_index=8) == "at_risk"  # 1 over target


def test_the_same_values_read_the_other_way_up() -> None:
    # 62 against an expected 60: 2 better when higher is better, 2 worse when lower is better
    # (tolerance 2): the direction alone turns on_track into at_risk.
    both: dict[str, Any] = dict(
        baseline_index=0,
        baseline_value=60,
        target_index=10,
        target_value=60,
        expected=60.0,
        tolerance=2.0,
        latest_value=62,
        latest_index=5,
    )
    assert status(direction="higher_is_better", **both) == "on_track"
    assert status(direction="lower_is_better", **both) == "at_risk"


def test_a_given_tolerance_replaces_the_default() -> None:
    # Tolerance 5: 60 - 55 = 5 is at risk, 60 - 54.5 = 5.5 is not.
    assert status(**{**RISING, "tolerance": 5.0}, latest_value=55, latest_index=5) == "at_risk"
    assert status(**{**RISING, "tolerance": 5.0}, latest_value=54.5, latest_index=5) == "off_track"


def test_a_tolerance_of_zero_makes_any_shortfall_off_track() -> None:
    assert status(**{**RISING, "tolerance": 0.0}, latest_value=60, latest_index=5) == "on_track"
    assert status(**{**RISING, "tolerance": 0.0}, latest_value=59.9, latest_index=5) == "off_track"


def test_a_target_to_hold_the_baseline_has_no_at_risk_band() -> None:
    # Target = baseline = 50, so the default tolerance is 10% of 0 = 0.
    hold: dict[str, Any] = dict(
        direction="higher_is_better",
        baseline_index=0,
        baseline_value=50,
        target_index=10,
        target_value=50,
        expected=None,
        tolerance=None,
    )
    assert status(**hold, latest_value=50, latest_index=5) == "on_track"
    assert status(**hold, latest_value=51, latest_index=5) == "on_track"
    assert status(**hold, latest_value=49.99, latest_index=5) == "off_track"
    assert status(**hold, latest_value=50, latest_index=10) == "achieved"


def test_the_expected_value_given_is_used_instead_of_the_line() -> None:
    # A trajectory ahead of the line expects 64 at index 5 (the line: 60). 62 is 2 short of 64:
    # at risk, though it beats the line.
    assert status(**{**RISING, "expected": 64.0}, latest_value=62, latest_index=5) == "at_risk"
    assert status(**RISING, latest_value=62, latest_index=5) == "on_track"


# -- forecast -------------------------------------------------------------------------------------


def test_three_values_are_too_few_to_forecast() -> None:
    assert forecast([(0, 1.0), (1, 3.0), (2, 2.0)], at_index=7) is None


def test_four_values_give_the_least_squares_line_at_the_target() -> None:
    # x = 0..3, y = 1, 3, 2, 5: mean x 1.5, mean y 2.75.
    # Sxy = (-1.5)(-1.75) + (-0.5)(0.25) + (0.5)(-0.75) + (1.5)(2.25)
    #     = 2.625 - 0.125 - 0.375 + 3.375 = 5.5;  Sxx = 2.25 + 0.25 + 0.25 + 2.25 = 5.
    # Slope 5.5 / 5 = 1.1; at x = 7: 2.75 + 1.1 x (7 - 1.5) = 2.75 + 6.05 = 8.8.
    assert forecast([(0, 1.0), (1, 3.0), (2, 2.0), (3, 5.0)], at_index=7) == pytest.approx(8.8)


def test_only_the_last_twelve_values_are_used() -> None:
    # y = 2x for x = 1..12 is a perfect line: at 20, 40. The 13th-from-last value (1000 at x = 0)
    # would drag the line far off if it counted.
    points = [(0, 1000.0)] + [(x, 2.0 * x) for x in range(1, 13)]
    assert forecast(points, at_index=20) == pytest.approx(40)


def test_forecast_is_by_period_index_so_gaps_count() -> None:
    # y = 1, 2, 3, 4 at x = 0, 2, 4, 6: slope 1/2 a period (not 1 a value); at 10: 1 + 10/2 = 6.
    assert forecast([(0, 1.0), (2, 2.0), (4, 3.0), (6, 4.0)], at_index=10) == pytest.approx(6)


def test_forecast_does_not_depend_on_the_order_given() -> None:
    assert forecast([(3, 5.0), (0, 1.0), (2, 2.0), (1, 3.0)], at_index=7) == pytest.approx(8.8)


def test_a_series_with_two_values_for_one_period_is_refused() -> None:
    with pytest.raises(ValueError):
        forecast([(0, 1.0), (1, 2.0), (1, 3.0), (2, 4.0)], at_index=5)
