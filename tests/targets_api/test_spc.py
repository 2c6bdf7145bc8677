"""SPC as NHSRplotthedots v0.2 computes it: hand-worked series, each with its arithmetic, and
expectations ported from the package's own tests (tests/testthat/*.R, cited where used).

Shorthand in the comments: MR = moving range, mMR = mean moving range, limits = mean ± 2.66 x mMR,
near limits = mean ± 1.7733 x mMR (two thirds of the way), rtm = side of the mean (+, -, 0).
"""

import math
from fractions import Fraction

import pytest

from services.targets_api.spc.service import (
    assurance_type,
    part_of_seven,
    part_of_two_in_three,
    seven_point_one_side_mean,
    seven_point_trend,
    spc,
    two_in_three,
)

C, IMP, CON = "common_cause", "special_cause_improvement", "special_cause_concern"
HIGH, LOW = "special_cause_neutral_high", "special_cause_neutral_low"


def types(values, direction="increase", **options):
    return [p.point_type for p in spc(values, improvement_direction=direction, **options).points]


def limits(result, index=0):
    point = result.points[index]
    return point.mean, point.lpl, point.upl


# mean 70 / 10 = 7. MRs 2,1,2,1,1,1,2,1,7: mMR 18 / 9 = 2, so MRs >= 3.267 x 2 = 6.534 are
# screened out: the 7. mMR 11 / 8 = 1.375; limits 7 ± 3.6575 = 3.3425 .. 10.6575; near limits
# 7 ± 2.438333 = 4.561667 .. 9.438333, which nothing but the 13 passes. rtm - 0 - + 0 - 0 - - +:
# no run, no trend. Only the 13 is special: above the upper limit.
TEN = [5, 7, 6, 8, 7, 6, 7, 5, 6, 13]


def test_a_hand_worked_series_of_ten():
    result = spc(TEN, improvement_direction="increase", target=12)

    assert [limits(result, i) for i in range(10)] == [pytest.approx((7, 3.3425, 10.6575))] * 10
    assert [p.point_type for p in result.points] == [C] * 9 + [IMP]
    assert [p.value for p in result.points] == TEN
    assert result.variation == "improvement_high"
    assert result.assurance == "consistent_fail"  # 12 > upper limit 10.6575: never met


def test_a_decrease_direction_reverses_improvement_and_concern():
    result = spc(TEN, improvement_direction="decrease", target=12)

    assert [p.point_type for p in result.points] == [C] * 9 + [CON]
    assert result.variation == "concern_high"
    assert result.assurance == "consistent_pass"  # every value is below 12 with decrease


def test_a_neutral_direction_says_high_or_low_and_has_no_assurance():
    result = spc(TEN, improvement_direction="neutral", target=12)

    assert [p.point_type for p in result.points] == [C] * 9 + [HIGH]
    assert result.variation == "neutral_high"
    assert result.assurance is None
    assert types(RUN_OF_7_EACH_SIDE, "neutral") == [LOW] * 7 + [HIGH] * 7


def test_values_are_not_screened_when_asked_not_to():
    # TEN unscreened: mMR 2; limits 7 ± 5.32 = 1.68 .. 12.32, and the 13 is still above.
    result = spc(TEN, improvement_direction="increase", screen_outliers=False)

    assert limits(result) == pytest.approx((7, 1.68, 12.32))
    assert result.points[-1].point_type == IMP


def test_screening_an_outlying_moving_range_narrows_the_limits():
    values = [10, 12, 10, 12, 10, 30, 32, 30, 32, 30]
    # mean 208 / 10 = 20.8. MRs 2,2,2,2,20,2,2,2,2: mMR 36 / 9 = 4; 20 >= 3.267 x 4 = 13.068 is
    # screened out: mMR 16 / 8 = 2, limits 20.8 ± 5.32 = 15.48 .. 26.12.
    # Unscreened: limits 20.8 ± 10.64 = 10.16 .. 31.44.
    screened = spc(values, improvement_direction="increase", target=28)
    unscreened = spc(values, improvement_direction="increase", target=28, screen_outliers=False)

    assert limits(screened) == pytest.approx((20.8, 15.48, 26.12))
    assert limits(unscreened) == pytest.approx((20.8, 10.16, 31.44))
    assert screened.assurance == "consistent_fail"  # 28 > 26.12
    assert unscreened.assurance == "inconsistent"  # 10.16 <= 28 <= 31.44


def test_a_moving_range_of_exactly_3_267_times_the_mean_is_screened_out():
    big = 2 * 3.267  # exactly 3.267 x a mMR of 2 in floating point
    low = big - (8 - big)  # both subtractions exact
    values = [0.0, big, low, low, low]
    # MRs big, 8 - big, 0, 0: sum exactly 8, mMR 2; big is not < 3.267 x 2, so it goes.
    # mMR (8 - big) / 3 = 0.488667; mean (big + 3 x low) / 5 = 4.3476.
    result = spc(values, improvement_direction="increase")

    mmr = (8 - big) / 3
    assert limits(result) == pytest.approx((4.3476, 4.3476 - 2.66 * mmr, 4.3476 + 2.66 * mmr))


def test_limits_are_undefined_when_no_moving_range_is_left():
    # A flat series: every MR is 0, none is < 3.267 x 0, so all are screened out and R's mean of
    # none is NaN. One value has no MR at all. Unscreened, a flat series has limits at its mean.
    assert limits(spc([5, 5, 5, 5], improvement_direction="increase")) == (5, None, None)
    assert limits(spc([5], improvement_direction="increase")) == (5, None, None)
    flat = spc([5, 5, 5, 5], improvement_direction="increase", screen_outliers=False)
    assert limits(flat) == (5, 5, 5)
    undefined = spc([5], improvement_direction="increase", target=4)
    assert (undefined.points[0].point_type, undefined.variation) == (C, "common_cause")
    assert undefined.assurance == "inconsistent"  # R: target > NaN is NA, so neither side


# ---- seven points on one side of the mean

# 7/9 below and 11/13 above a mean of 10; every MR is 2, so mMR 2, limits 10 ± 5.32 =
# 4.68 .. 15.32 and near limits 10 ± 3.546667 = 6.453333 .. 13.546667: no value is near.
# Alternating values make no trend.
RUN_OF_6_EACH_SIDE = [7, 9, 7, 9, 7, 9, 11, 13, 11, 13, 11, 13]  # 120 / 12 = 10
RUN_OF_7_EACH_SIDE = [9, 7, 9, 7, 9, 7, 9, 11, 13, 11, 13, 11, 13, 11]  # 140 / 14 = 10


def test_seven_points_on_one_side_of_the_mean_flag_all_seven_but_six_do_not():
    assert limits(spc(RUN_OF_6_EACH_SIDE, improvement_direction="increase")) == pytest.approx(
        (10, 4.68, 15.32)
    )
    assert types(RUN_OF_6_EACH_SIDE) == [C] * 12
    assert limits(spc(RUN_OF_7_EACH_SIDE, improvement_direction="increase")) == pytest.approx(
        (10, 4.68, 15.32)
    )
    assert types(RUN_OF_7_EACH_SIDE) == [CON] * 7 + [IMP] * 7
    assert types(RUN_OF_7_EACH_SIDE, "decrease") == [IMP] * 7 + [CON] * 7


def test_a_point_on_the_mean_breaks_a_run():
    on_mean = [9, 6, 9, 6, 9, 6, 11, 14, 11, 10, 14, 11, 14]
    # mean 130 / 13 = 10, so the 10 is on it: rtm six -, then + + + 0 + + +: no run of seven.
    # MRs 3,3,3,3,3,5,3,3,1,4,3,3: mMR 37 / 12 = 3.083333; limits 10 ± 8.201667 and near limits
    # 10 ± 5.467778 = 4.532222 .. 15.467778: nothing near or beyond. No trend.
    assert limits(spc(on_mean, improvement_direction="increase")) == pytest.approx(
        (10, 1.798333, 18.201667)
    )
    assert types(on_mean) == [C] * 13

    # The 10 raised to 11: mean 131 / 13 = 10.0769 and seven in a row above it.
    # MRs as above but 0 and 3 for 1 and 4: mMR 35 / 12 = 2.916667, near limits ± 5.172222.
    above = [*on_mean[:9], 11, *on_mean[10:]]
    assert types(above) == [C] * 6 + [IMP] * 7


# ---- trends of seven points

# The trend 7..13 (seven points, six rising steps) in a series with mean 130 / 13 = 10.
# MRs 4,3,2,2,1,1,1,1,1,1,4,2: mMR 23 / 12 = 1.916667; limits 10 ± 5.098333 =
# 4.901667 .. 15.098333; near limits 10 ± 3.398889 = 6.601111 .. 13.398889: the 7 and the 13 are
# not near. rtm + - + - - - - 0 + + + - +: the 10 on the mean ends the longest run at four.
TREND_OF_7 = [12, 8, 11, 9, 7, 8, 9, 10, 11, 12, 13, 9, 11]


# Fourteen percentages whose mean is exactly 90.9: 1272.6 / 14 as decimals, and as the
# correctly rounded mean of their binary values (Fraction sum / 14 rounds to the double 90.9),
# which is what R's mean() returns. fsum(values) / 14 rounds twice and gives
# 90.89999999999999, one unit in the last place below, so the 90.9 in the middle would count
# as above the mean and join the three points either side into a run of seven.
ON_THE_MEAN = [90.0, 89.4, 89.7, 89.3, 92.7, 91.4, 91.6, 90.9, 92.6, 93.1, 93.3, 89.4, 89.4, 89.8]


def test_the_mean_is_correctly_rounded_so_a_point_on_it_breaks_the_run():
    assert float(sum(map(Fraction, ON_THE_MEAN)) / 14) == 90.9
    assert math.fsum(ON_THE_MEAN) / 14 == 90.89999999999999  # the old, twice-rounded mean
    result = spc(ON_THE_MEAN, improvement_direction="increase")
    assert result.points[0].mean == 90.9
    # MRs 0.6 0.3 0.4 3.4 1.3 0.2 0.7 1.7 0.5 0.2 3.9 0 0.4: mMR 13.6 / 13 = 1.046154, cutoff
    # 3.267 x that = 3.4178 screens out the 3.9; mMR 9.7 / 12 = 0.808333. Limits 90.9 ± 2.150167
    # = 88.7498 .. 93.0502; near limits 90.9 ± 1.433444 = 89.4666 .. 92.3334.
    # rtm - - - - + + + 0 + + + - - -: no run of seven (the 0 breaks it).
    # Points 1 and 3 (89.4, 89.3) are near the lower limit, two of three below: concern;
    # 93.1 and 93.3 are beyond the upper limit: improvement; 89.4, 89.4 at the end are two of
    # three near the lower limit: concern. With the old mean the 90.9 would be +, and points
    # 4 to 10 a run of seven above: all seven improvement.
    assert types(ON_THE_MEAN) == [C, CON, C, CON, C, C, C, C, C, IMP, IMP, CON, CON, C]


def test_a_trend_of_seven_points_flags_all_seven_however_they_sit_on_the_mean():
    assert limits(spc(TREND_OF_7, improvement_direction="increase")) == pytest.approx(
        (10, 4.901667, 15.098333)
    )
    assert types(TREND_OF_7) == [C] * 4 + [IMP] * 7 + [C] * 2
    assert types(TREND_OF_7, "decrease") == [C] * 4 + [CON] * 7 + [C] * 2


def test_a_falling_trend_above_the_mean_is_a_concern_when_higher_is_better():
    # TREND_OF_7 reversed: same mean and limits; 13 12 11 are above the mean but falling, which
    # NHSRplotthedots colours by the trend's direction since issue #171.
    assert types(TREND_OF_7[::-1]) == [C] * 2 + [CON] * 7 + [C] * 4


def test_six_points_rising_are_not_a_trend():
    # TREND_OF_7 without its 7: 8..13 is six points, five steps. Mean 123 / 12 = 10.25; MRs
    # 4,3,2,1,1,1,1,1,1,4,2: mMR 21 / 11 = 1.909091; near limits 10.25 ± 3.385455 =
    # 6.864545 .. 13.635455; rtm + - + - - - - + + + - +: nothing special.
    assert types([12, 8, 11, 9, 8, 9, 10, 11, 12, 13, 9, 11]) == [C] * 12


def test_a_tie_breaks_a_trend():
    tied = [12, 8, 11, 9, 7, 8, 9, 9, 10, 11, 12, 13, 9, 11]
    # 7 8 9 9 10 11 12 13: seven steps up but one is level, so at most five strictly rising
    # steps in a row. Mean 139 / 14 = 9.928571; MRs 4,3,2,2,1,1,0,1,1,1,1,4,2: mMR 23 / 13 =
    # 1.769231; near limits 9.928571 ± 3.137436 = 6.791136 .. 13.066007; rtm + - + - - - - - + + +
    # + - +: runs of five at most.
    assert types(tied) == [C] * 14


def test_a_point_outside_the_limits_outranks_the_trend_it_starts():
    values = [9, 11] * 8 + [2, 8, 9, 10, 11, 12, 13]
    # 2..13 is a rising trend of seven, but the 2 is below the lower limit, which comes first.
    # mean 225 / 23 = 9.782609. MRs fifteen 2s, 9, 6, five 1s: mMR 50 / 22 = 2.272727; the 9 is
    # >= 3.267 x 2.272727 = 7.425 and screened out: mMR 41 / 21 = 1.952381; limits
    # 9.782609 ± 5.193333 = 4.589275 .. 14.975942; near limits ± 3.462222, the 13 is not near.
    result = spc(values, improvement_direction="increase")

    assert limits(result) == pytest.approx((9.782609, 4.589275, 14.975942))
    assert [p.point_type for p in result.points] == [C] * 16 + [CON] + [IMP] * 6


# ---- two of three beyond two thirds of the way to a limit

BASE = [9, 11] * 10  # 20 values, sum 200, nineteen MRs of 2


def test_two_of_three_near_a_limit_on_one_side_flags_the_two():
    # mean 241 / 23 = 10.478261; MRs nineteen 2s and 4,4,4: mMR 50 / 22 = 2.272727; limits
    # 10.478261 ± 6.045455 = 4.432806 .. 16.523715; near limits ± 4.030303 =
    # 6.447958 .. 14.508564. 15 11 15 are all above the mean, and both 15s are near the limit.
    result = spc([*BASE, 15, 11, 15], improvement_direction="increase")

    assert limits(result) == pytest.approx((10.478261, 4.432806, 16.523715))
    assert [p.point_type for p in result.points][-3:] == [IMP, C, IMP]
    assert result.variation == "improvement_high"


def test_two_of_three_needs_all_three_on_the_same_side_of_the_mean():
    # mean 239 / 23 = 10.391304; MRs nineteen 2s and 4,6,6: mMR 54 / 22 = 2.454545; near limits
    # 10.391304 ± 4.352727 = 6.038577 .. 14.744032, so both 15s are near the upper limit, but
    # the 9 between them is below the mean (issue #143).
    assert types([*BASE, 15, 9, 15])[-3:] == [C, C, C]


def test_a_point_beyond_a_limit_is_not_near_it():
    # mean 243 / 23 = 10.565217; MRs nineteen 2s and 4,4,6: mMR 52 / 22 = 2.363636; limits
    # 10.565217 ± 6.287273 = 4.277945 .. 16.852490; near limits ± 4.191515: the 15 is near but
    # the 17 is beyond the limit, so only one of the three is near: the 15 is common cause.
    assert types([*BASE, 15, 11, 17])[-3:] == [C, C, IMP]


def test_points_near_opposite_limits_are_not_two_of_three():
    # Ported from test-ptd_spc_standard.R ("it only reports special cause for 2of3 points close
    # to limits when they are on the same side of the mean"): 1, -1 eight times, then the last
    # two replaced by 5.5 and -5.5. Mean 0; MRs thirteen 2s, 6.5, 11: mMR 43.5 / 15 = 2.9; the 11
    # is >= 9.4743 and screened out: mMR 32.5 / 14 = 2.321429; limits ± 6.175, near limits
    # ± 4.116667: 5.5 and -5.5 are near opposite limits.
    values = [1, -1] * 8
    values[14], values[15] = 5.5, -5.5
    result = spc(values, improvement_direction="increase")

    assert limits(result) == pytest.approx((0, -6.175, 6.175))
    assert [p.point_type for p in result.points][-2:] == [C, C]


# ---- fix_after_n_points


def test_fixing_after_n_points_takes_the_limits_from_the_first_n_only():
    values = [9, 11] * 6 + [20, 30, 40]
    # First 12: mean 120 / 12 = 10, MRs eleven 2s, mMR 2; limits 4.68 .. 15.32 for all 15
    # points, so 20, 30 and 40 are all above.
    fixed = spc(values, improvement_direction="increase", fix_after_n_points=12)
    assert limits(fixed, 14) == pytest.approx((10, 4.68, 15.32))
    assert [p.point_type for p in fixed.points] == [C] * 12 + [IMP] * 3

    # All 15: mean 210 / 15 = 14; MRs eleven 2s and 9,10,10: mMR 51 / 14 = 3.642857, none
    # >= 11.9012; limits 14 ± 9.69 = 4.31 .. 23.69: the 20 is inside, and the first twelve are
    # all below the mean: a run.
    unfixed = spc(values, improvement_direction="increase")
    assert limits(unfixed) == pytest.approx((14, 4.31, 23.69))
    assert [p.point_type for p in unfixed.points] == [CON] * 12 + [C, IMP, IMP]


def test_fix_after_n_points_longer_than_the_series_uses_it_all():
    assert spc(TEN, improvement_direction="increase", fix_after_n_points=100) == spc(
        TEN, improvement_direction="increase"
    )


# ---- rebasing


def test_rebased_groups_have_their_own_limits():
    values = [9, 11, 9, 11, 9, 11, 19, 21, 19, 21, 19, 21]
    # Each group: MRs five 2s, mMR 2. Group 1 mean 60 / 6 = 10, limits 4.68 .. 15.32;
    # group 2 mean 120 / 6 = 20, limits 14.68 .. 25.32. Near limits ± 3.546667: nothing near.
    result = spc(values, improvement_direction="increase", rebase_at_indices=[6], target=12)

    assert limits(result, 0) == pytest.approx((10, 4.68, 15.32))
    assert limits(result, 6) == pytest.approx((20, 14.68, 25.32))
    assert [p.point_type for p in result.points] == [C] * 12
    # Assurance from the last group's limits (issue #172): 12 < 14.68.
    assert result.assurance == "consistent_pass"
    # One group: mean 15, MRs ten 2s and an 8: mMR 28 / 11 = 2.545455, limits 15 ± 6.770909.
    assert spc(values, improvement_direction="increase", target=12).assurance == "inconsistent"


def test_a_trend_does_not_cross_a_rebase():
    # TREND_OF_7 split before its 11: 7 8 9 10 | 11 12 13. Group 1: 12 8 11 9 7 8 9 10, mean
    # 74 / 8 = 9.25, MRs 4,3,2,2,1,1,1: mMR 2, near limits 9.25 ± 3.546667 = 5.703 .. 12.797.
    # Group 2: 11 12 13 9 11, mean 56 / 5 = 11.2, MRs 1,1,4,2: mMR 2, near limits 7.653 .. 14.747.
    result = spc(TREND_OF_7, improvement_direction="increase", rebase_at_indices=[8])

    assert limits(result, 0) == pytest.approx((9.25, 3.93, 14.57))
    assert limits(result, 8) == pytest.approx((11.2, 5.88, 16.52))
    assert [p.point_type for p in result.points] == [C] * 13


def test_a_run_does_not_cross_a_rebase():
    values = [9, 7, 9, 7, 11, 13, 11, 13, 11, 13, 11, 7, 9, 7]
    # One group: mean 138 / 14 = 9.857143 and 11 13 11 13 11 13 11 is seven above it.
    # MRs 2,2,2,4,2,2,2,2,2,2,4,2,2: mMR 30 / 13 = 2.307692, near limits ± 4.092308: none near.
    assert types(values) == [C] * 4 + [IMP] * 7 + [C] * 3
    # Rebased at 8: group 1 mean 80 / 8 = 10 (four above), group 2 mean 58 / 6 = 9.666667
    # (three above); mMR 16 / 7 = 2.285714 and 12 / 5 = 2.4, near limits ± 4.05 and ± 4.26.
    assert types(values, rebase_at_indices=[8]) == [C] * 14


# ---- assurance


def test_a_target_exactly_on_a_limit_is_inconsistent():
    # RUN_OF_6_EACH_SIDE: limits 10 ± 2.66 x 2 = 4.68 .. 15.32, compared strictly.
    def assurance(target, direction="increase"):
        return spc(RUN_OF_6_EACH_SIDE, improvement_direction=direction, target=target).assurance

    upl = 10 + 2.66 * 2
    lpl = 10 - 2.66 * 2
    assert spc(RUN_OF_6_EACH_SIDE, improvement_direction="increase").points[-1].upl == upl
    assert assurance(upl) == assurance(lpl) == "inconsistent"
    assert assurance(upl + 1e-9) == "consistent_fail"
    assert assurance(lpl - 1e-9) == "consistent_pass"
    assert assurance(upl + 1e-9, "decrease") == "consistent_pass"
    assert assurance(lpl - 1e-9, "decrease") == "consistent_fail"
    assert assurance(None) is None


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        ("increase", ["consistent_fail", "consistent_pass", "inconsistent"]),
        ("decrease", ["consistent_pass", "consistent_fail", "inconsistent"]),
        ("neutral", [None, None, None]),
    ],
)
def test_assurance_as_ported_from_the_package(direction, expected):
    # test-ptd_calculate_assurance_type.R: target 4 against limits 1..3, 5..7 and 1..5.
    assert [
        assurance_type(4, lpl=lpl, upl=upl, improvement_direction=direction)
        for lpl, upl in [(1, 3), (5, 7), (1, 5)]
    ] == expected


# ---- ported from the package's tests

# set.seed(123); rnorm(20), as in test-ptd_spc.R and test-ptd_spc_standard.R.
RNORM_123 = [
    -0.56047565,
    -0.23017749,
    1.55870831,
    0.07050839,
    0.12928774,
    1.71506499,
    0.46091621,
    -1.26506123,
    -0.68685285,
    -0.44566197,
    1.22408180,
    0.35981383,
    0.40077145,
    0.11068272,
    -0.55584113,
    1.78691314,
    0.49785048,
    -1.96661716,
    0.70135590,
    -0.47279141,
]


def test_the_packages_snapshot_of_twenty_random_normal_values():
    # tests/testthat/_snaps/ptd_spc.md: mean_col 0.142, lpl -3.01, upl 3.29, 20 common cause.
    result = spc(RNORM_123, improvement_direction="increase")

    assert limits(result) == pytest.approx((0.142, -3.01, 3.29), abs=0.005)
    assert {p.point_type for p in result.points} == {C}
    assert result.variation == "common_cause"


def test_the_packages_snapshot_of_the_same_values_in_two_groups():
    # _snaps/ptd_spc.md, facet rep(c(0, 1), each = 10), which splits the series as a rebase at
    # 10 does: 0.0746, -2.60, 2.75 and 0.209, -3.28, 3.70.
    result = spc(RNORM_123, improvement_direction="increase", rebase_at_indices=[10])

    assert limits(result, 0) == pytest.approx((0.0746, -2.60, 2.75), abs=0.005)
    assert limits(result, 10) == pytest.approx((0.209, -3.28, 3.70), abs=0.005)


def test_seven_point_one_side_mean_as_in_the_package():
    # test-ptd_calculate_point_type.R, "ptd_seven_point_one_side_mean works as expected".
    assert seven_point_one_side_mean([]) == []
    assert seven_point_one_side_mean([1] * 6) == [0] * 6
    assert seven_point_one_side_mean([1] * 6 + [-1]) == [0] * 7
    assert seven_point_one_side_mean([1] * 8 + [-1]) == [0] * 6 + [1, 1, 0]
    assert seven_point_one_side_mean([-1] * 8 + [1]) == [0] * 6 + [1, 1, 0]


def test_part_of_seven_as_in_the_package():
    # "ptd_part_of_seven_trend works as expected".
    assert part_of_seven([]) == []
    assert part_of_seven([0] * 6) == [0] * 6
    assert part_of_seven([0] * 6 + [1, 0]) == [1] * 7 + [0]
    assert part_of_seven([0] * 7 + [1, 0]) == [0] + [1] * 7 + [0]
    assert part_of_seven([0] * 6 + [-1, 0]) == [1] * 7 + [0]
    assert part_of_seven([0] * 7 + [-1, 0]) == [0] + [1] * 7 + [0]


def test_seven_point_trend_as_in_the_package():
    # "ptd_seven_point_trend works as expected".
    assert seven_point_trend([]) == []
    assert seven_point_trend([1, 2, 3, 4, 5, 6]) == [0] * 6
    assert seven_point_trend([1, 2, 3, 3, 4, 5, 6]) == [0] * 7
    assert seven_point_trend([1, 2, 3, 4, 5, 6, 7]) == [0] * 6 + [1]
    assert seven_point_trend([2, 1, 2, 3, 4, 5, 6, 7, 3]) == [0] * 7 + [1, 0]
    assert seven_point_trend([7, 6, 5, 4, 3, 2, 1]) == [0] * 6 + [-1]
    assert seven_point_trend([2, 7, 6, 5, 4, 3, 2, 1, 3]) == [0] * 7 + [-1, 0]


def test_two_in_three_as_in_the_package():
    # "ptd_two_in_three works as expected" and "... when points are on opposite sides of the
    # mean", then "ptd_part_of_two_in_three works as expected".
    for close in ([1, 0, 1], [0, 1, 1], [1, 1, 0]):
        assert two_in_three(close, [1, 1, 1]) == [1, 1, 1]
        assert two_in_three(close, [1, -1, 1]) == [0, 0, 0]
    assert two_in_three([0, 0, 1, 0, 1, 0, 0], [1] * 7) == [0, 0, 1, 1, 1, 0, 0]
    assert two_in_three([0, 0, 1, 1, 0, 0, 0], [1] * 7) == [0, 1, 1, 1, 1, 0, 0]
    assert two_in_three([0, 0, 1, 0, 1, 0, 0], [1, -1, 1, -1, 1, -1, 1]) == [0] * 7
    assert two_in_three([0, 0, 1, 1, 0, 0, 0], [-1, 1, -1, 1, -1, 1, -1]) == [0] * 7

    def part(close):
        return part_of_two_in_three(two_in_three(close, [1] * len(close)), close)

    assert part([1, 0, 1]) == [1, 0, 1]
    assert part([0, 0, 1, 0, 1, 0, 0]) == [0, 0, 1, 0, 1, 0, 0]
    assert part([1, 0, 0, 1]) == [0, 0, 0, 0]
    assert part([1, 0, 0, 1, 1]) == [0, 0, 0, 1, 1]


# ---- arguments


@pytest.mark.parametrize(
    ("values", "options", "message"),
    [
        ([], {}, "at least one value"),
        ([1.0, float("nan")], {}, "finite"),
        ([1.0, 2.0], {"improvement_direction": "up"}, "improvement_direction"),
        ([1.0] * 20, {"fix_after_n_points": 11}, "at least 12"),
        ([1.0, 2.0, 3.0], {"rebase_at_indices": [0]}, "rebase_at_indices"),
        ([1.0, 2.0, 3.0], {"rebase_at_indices": [3]}, "rebase_at_indices"),
        ([1.0, 2.0, 3.0], {"rebase_at_indices": [2, 1]}, "rebase_at_indices"),
        ([1.0, 2.0, 3.0], {"rebase_at_indices": [1, 1]}, "rebase_at_indices"),
    ],
)
def test_invalid_arguments_are_refused(values, options, message):
    with pytest.raises(ValueError, match=message):
        spc(values, **{"improvement_direction": "increase", **options})
