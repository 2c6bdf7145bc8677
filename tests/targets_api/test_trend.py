"""The recent-trend marker against Fingertips' and OHID's own worked examples, and by hand.

Sources of the expected answers:
- ukhsa-collaboration/fingertips-open (commit 6780897, 2020),
  PholioVisualisationWS/AnalysisTest/TrendMarkerCalculatorTest.cs: TestIsSignificantReturnsTrue
  (chi2 46.77), TestIsSignificantReturnsFalse, TestIsSignificantForProportionsReturnsTrue
  (chi2 47.9) and TestIsSignificantForProportionsCannotBeCalculated.
- the same repository's earlier PholioVisualisationWS/AnalysisTest/
  WhenUsingTrendMarkerCalculator.cs (commit 80667f3, 2018; the proportion data sets of five
  points, whose markers the present method gives too).
- dhsc-govuk/FingertipsNext (commit d1600f4), trend-analysis/TrendAnalysisApp.UnitTests/
  Calculator/TrendCalculatorTests.cs with IndicatorTestData.cs: England and Yorkshire figures
  for five indicators, each test naming the Fingertips page whose marker it expects.
- dhsc-govuk/PHEindicatormethods, branch add_trend_markers (commit be27443),
  tests/testthat/testTrendMarkers.R with tests/testthat/testdata_trend_markers.xlsx (marker,
  significance and gradient to 4 decimals). R takes se = (upper - lower) / (2 qnorm(0.975))
  where Fingertips divides by 3.92, so R's chi-squares are Fingertips' x (3.919928 / 3.92)^2.
"""

import math
from statistics import NormalDist

import pytest

from services.targets_api.progress.trend import (
    CHI_SQUARE_99_8,
    TrendPoint,
    chi_square_for_trend,
    recent_trend,
    trend_test,
    weighted_slope,
)

R_TO_FINGERTIPS = (3.92 / (2 * NormalDist().inv_cdf(0.975))) ** 2


def counts(*pairs: tuple[float, float], first: int = 0) -> list[TrendPoint]:
    """Consecutive periods from `first`, oldest first, as (numerator, denominator)."""
    return [TrendPoint(first + i, r, n) for i, (r, n) in enumerate(pairs)]


def with_limits(
    *rows: tuple[float, float, float, float, float], first: int = 0
) -> list[TrendPoint]:
    """Consecutive periods, oldest first, as (numerator, denominator, value, lower, upper)."""
    return [TrendPoint(first + i, r, n, v, lo, up) for i, (r, n, v, lo, up) in enumerate(rows)]


def test_the_critical_value_is_chi_square_on_one_degree_of_freedom_at_99_8_percent() -> None:
    # chi2(1) is the square of a standard normal, so its 0.998 point is z(0.999)^2.
    assert math.isclose(CHI_SQUARE_99_8, NormalDist().inv_cdf(0.999) ** 2, rel_tol=1e-12)


# -- fingertips-open TrendMarkerCalculatorTest.cs ---------------------------------------------

# GetTrendData_Set1 (2014 to 2018), oldest first. Value is per 1,000 (1367 / 44701 = 30.58).
SET_1 = (
    (994, 40299, 24.67, 23.16, 26.25),
    (1023, 41527, 24.6, 23.15, 26.19),
    (1199, 42811, 28, 26.44, 29.64),
    (1332, 44064, 30.2, 28.63, 31.9),
    (1367, 44701, 30.6, 28.98, 32.25),
)


def test_fingertips_set_1_by_its_confidence_limits_is_significant_chi2_46_77() -> None:
    # TestIsSignificantReturnsTrue: Math.Round(ChiSquare, 2) == 46.77.
    result = trend_test(with_limits(*SET_1), kind="rate")
    assert result is not None
    assert round(result.chi_square, 2) == 46.77
    assert result.marker == "increasing"


def test_fingertips_set_1_by_its_counts_is_significant_chi2_47_9() -> None:
    # TestIsSignificantForProportionsReturnsTrue: Math.Round(ChiSquare, 2) == 47.9, from the
    # counts and denominators alone (the SPC-for-proportions branch).
    result = trend_test(counts(*((r, n) for r, n, *_ in SET_1)), kind="proportion")
    assert result is not None
    assert round(result.chi_square, 2) == 47.9
    assert result.marker == "increasing"


def test_fingertips_set_2_is_not_significant() -> None:
    # TestIsSignificantReturnsFalse (GetTrendData_Set2, 2014 to 2018).
    rows = (
        (209, 1017, 20.5506, 18.1803, 23.1427),
        (213, 1087, 19.5952, 17.3444, 22.0602),
        (213, 1119, 19.0349, 16.8421, 21.4394),
        (239, 1117, 21.3966, 19.0918, 23.8975),
        (210, 1139, 18.4372, 16.2925, 20.7941),
    )
    assert recent_trend(with_limits(*rows), kind="rate") == "no_significant_change"
    assert (
        recent_trend(counts(*((r, n) for r, n, *_ in rows)), kind="proportion")
        == "no_significant_change"
    )


def test_fingertips_a_count_equal_to_its_denominator_cannot_be_calculated() -> None:
    # TestIsSignificantForProportionsCannotBeCalculated: 5 of 5 in 2012.
    result = trend_test(counts((5, 5), (3, 5), (1, 5), (1, 4), (2, 4)), kind="proportion")
    assert result is not None
    assert result.marker == "cannot_be_calculated"
    assert result.chi_square is None


# -- fingertips-open WhenUsingTrendMarkerCalculator.cs (2018), five-point proportion sets ------


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        # GetTrendData_1, "Details from URL: are/E08000021/iid/20301/age/1/sex/2", 2010 to 2014.
        (((621, 3454), (599, 3195), (556, 3256), (535, 3227), (447, 3121)), "decreasing"),
        # GetTrendData_2, 2010 to 2014.
        (((2157, 3454), (2090, 3195), (2194, 3256), (2134.81, 3152), (2094, 3062)), "increasing"),
        # GetTrendData_3, indicator 1172, 2009 to 2013.
        (
            ((8116, 91530), (8145, 91773), (8222, 92088), (8506, 92238), (8728, 92665.890)),
            "increasing",
        ),
        # GetTrendData_5, indicator 10101, 2008 to 2012: no change.
        (
            ((5405, 18095), (5500, 18170), (5435, 18005), (5480, 17890), (5315, 17860)),
            "no_significant_change",
        ),
        # GetTrendData_5a, indicator 10101, 2008 to 2012.
        (
            ((22435, 65880), (22445, 67900), (21365, 68705), (20955, 69835), (19055, 70910)),
            "decreasing",
        ),
    ],
    ids=["data_1", "data_2", "data_3", "data_5", "data_5a"],
)
def test_fingertips_2018_proportion_sets(pairs, expected) -> None:
    assert recent_trend(counts(*pairs), kind="proportion") == expected


# -- FingertipsNext TrendCalculatorTests.cs / IndicatorTestData.cs ----------------------------


def test_diabetes_prevalence_england_is_increasing() -> None:
    # TestDiabetesPrevalenceTrendIsCalculatedCorrectly, indicator 241, England 2020 to 2024:
    # https://fingertips.phe.org.uk/search/Diabetes%20prevalance#page/4/gid/1/pat/159/par/K02000001/ati/15/are/E92000001/iid/241/age/187/sex/4/cat/-1/ctp/-1/yrr/1/cid/4/tbm/1
    rows = (
        (3455176, 48783947, 7.0826, 7.0754, 7.094),
        (3491868, 49122259, 7.1085, 7.1013, 7.1199),
        (3625401, 49956777, 7.2571, 7.2499, 7.2684),
        (3774801, 50649129, 7.4528, 7.4456, 7.4643),
        (3938080, 51441896, 7.6554, 7.6481, 7.6669),
    )
    assert recent_trend(counts(*((r, n) for r, n, *_ in rows)), kind="proportion") == "increasing"
    # FingertipsNext's own route, the CI method on the published limits, agrees.
    assert recent_trend(with_limits(*rows), kind="rate") == "increasing"


def test_mmr_coverage_yorkshire_is_decreasing() -> None:
    # TestYorkshireMmrCoverageTrendIsCalculatedCorrectly, indicator 30309, E12000003, 2020-24:
    # https://fingertips.phe.org.uk/profile/child-health-profiles/data#page/4/gid/1938133228/pat/15/ati/6/are/E12000003/iid/30309/age/31/sex/4/cat/-1/ctp/-1/yrr/1/cid/4/tbm/1/page-options/car-do-0
    rows = (
        (57274, 61834, 92.6254, 92.4168, 92.8288),
        (55865, 60511, 92.3221, 92.1072, 92.5315),
        (53681, 59074, 90.8708, 90.6358, 91.1004),
        (51767, 57508, 90.017, 89.7694, 90.2594),
        (53185, 59028, 90.1013, 89.8578, 90.3396),
    )
    assert recent_trend(counts(*((r, n) for r, n, *_ in rows)), kind="proportion") == "decreasing"
    assert recent_trend(with_limits(*rows), kind="rate") == "decreasing"


def test_sight_loss_from_diabetic_eye_disease_is_increasing() -> None:
    # TestDiabeticEyeDiseaseTrendIsCalculatedCorrectly, indicator 41203 (a crude rate per
    # 100,000), England 2020 to 2024, with 2021's dip (935) that leaving out does not reverse:
    # https://fingertips.phe.org.uk/search/preventable%20eye#page/6/gid/1000044/pat/159/par/K02000001/ati/15/are/E92000001/iid/41203/age/227/sex/4/cat/-1/ctp/-1/yrr/1/cid/4/tbm/1
    rows = (
        (1416, 48246126, 2.935, 2.7841, 3.0919),
        (935, 48440507, 1.93028, 1.8085, 2.058),
        (1344, 48753376, 2.7567, 2.6113, 2.9082),
        (1415, 49300918, 2.8701, 2.7225, 3.0237),
        (1502, 49866388, 3.0121, 2.8616, 3.1683),
    )
    assert recent_trend(with_limits(*rows), kind="rate") == "increasing"
    # With the limits computed here (Byar's) from the counts instead, the same.
    computed = trend_test(counts(*((r, n) for r, n, *_ in rows)), kind="rate", multiplier=100_000)
    assert computed is not None and computed.marker == "increasing"
    assert computed.slope == pytest.approx(0.1398, abs=1e-3)  # per 100,000 a year


def test_under_75_cancer_mortality_is_decreasing() -> None:
    # TestCancerMortalityTrendIsCalculatedCorrectly, indicator 40501 (a directly standardised
    # rate), England 2019 to 2023. IndicatorTestData writes 2023's value as `120/7742`, integer
    # division in C# (0); its limits 119.8035 to 121.7507 say 120.7742 was meant.
    # https://fingertips.phe.org.uk/search/Under%2075%20mortality%20rate%20from%20cancer#page/6/gid/1938132696/pat/159/par/K02000001/ati/15/are/E92000001/iid/40501/age/163/sex/4/cat/-1/ctp/-1/yrr/1/cid/4/tbm/1
    rows = (
        (61807, 51510878, 126.9341, 125.9343, 127.94),
        (61740, 51530437, 125.829, 124.8371, 126.8268),
        (60202, 51653460, 121.5234, 120.5533, 122.4993),
        (60192, 51966274, 122.3782, 121.4012, 123.361),
        (59423, 52380101, 120.7742, 119.8035, 121.7507),
    )
    assert recent_trend(with_limits(*rows), kind="rate") == "decreasing"
    # TestTrendCannotBeCalculatedWhenInsufficientDataPointsProvided: four points.
    assert recent_trend(with_limits(*rows[1:]), kind="rate") == "cannot_be_calculated"


def test_gp_registered_population_over_65_differs_from_fingertipsnexts_no_change() -> None:
    # TestGpRegisteredPopulationOver65TrendIsCalculatedCorrectly, indicator 93468, England
    # 2020 to 2024, expects NoChange "as per website". Its test points carry no limits, and
    # FingertipsNext's calculator drops points without limits, sums nothing and compares NaN
    # with 9.55 (false): the NoChange comes from that. Counted, the share rises 17.36 % ->
    # 17.79 % over 60 million people after 2021 and every leave-one-out slope is positive, so
    # the proportion method (and the CI method on Wilson limits) says increasing. Kept to show
    # the difference; the lead may want to check the live page.
    pairs = (
        (10588957, 60458658),
        (10547929, 60744002),
        (10851467, 61625745),
        (11034431, 62418295),
        (11246440, 63227624),
    )
    assert recent_trend(counts(*pairs), kind="proportion") == "increasing"


# -- PHEindicatormethods testdata_trend_markers.xlsx ------------------------------------------


def test_phe_proportions_sheet_decreasing() -> None:
    # Sheet testdata_prop_trends, 2019 to 2023: Decreasing, significance 12.5688, gradient
    # -0.1062 (the logit slope per year).
    pairs = (
        (318, 468.33578792341672),
        (314, 472.89156626506019),
        (318, 500.78740157480314),
        (291, 480.19801980198019),
        (292, 499.14529914529913),
    )
    result = trend_test(counts(*pairs, first=2019), kind="proportion")
    assert result is not None
    assert result.marker == "decreasing"
    assert round(result.chi_square, 4) == 12.5688
    assert round(result.slope, 4) == -0.1062


def test_phe_proportions_grouped_asian_decreasing() -> None:
    # Sheet testdata_prop_grouped, "Asian or Asian British": 144.3957, -0.5245.
    pairs = (
        (90, 264.70588235294116),
        (58, 89.230769230769241),
        (29, 44.61538461538462),
        (49, 233.33333333333334),
        (67, 744.44444444444446),
    )
    result = trend_test(counts(*pairs), kind="proportion")
    assert result is not None
    assert result.marker == "decreasing"
    assert round(result.chi_square, 4) == 144.3957
    assert round(result.slope, 4) == -0.5245


def test_phe_proportions_grouped_missing_values_cannot_be_calculated() -> None:
    # "Black, Black British, ..." (2022's denominator missing) and "Mixed ..." (2022's count
    # missing): Cannot be calculated, Missing values.
    for pairs in (
        ((23, 50), (122, 95.3125), (94, 94), (76, None), (20, 25)),
        ((23, 50), (122, 95.3125), (94, 94), (None, 80), (20, 25)),
    ):
        assert recent_trend(counts(*pairs), kind="proportion") == "cannot_be_calculated"


def test_phe_proportions_grouped_other_has_a_break_so_no_marker() -> None:
    # "Other ethnic group" runs 2012, 2013, 2014, 2016, 2017: PHEindicatormethods does not
    # check for breaks and answers Increasing (47.3463, 0.483, figures that come from t = 1..5,
    # as if 2015 were not missing). Fingertips needs an unbroken series: cannot be calculated.
    pairs = (
        (10, 125),
        (17, 141.66666666666669),
        (27, 117.39130434782609),
        (49, 204.16666666666666),
        (67, 171.7948717948718),
    )
    points = [
        TrendPoint(year, r, n)
        for year, (r, n) in zip((2012, 2013, 2014, 2016, 2017), pairs, strict=True)
    ]
    result = trend_test(points, kind="proportion")
    assert result is not None
    assert result.marker == "cannot_be_calculated"
    assert "break" in result.reason
    # The statistics themselves, at the spreadsheet's t = 1..5:
    numerators, denominators = [r for r, _ in pairs], [n for _, n in pairs]
    times = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert round(chi_square_for_trend(numerators, denominators, times), 4) == 47.3463
    logits = [math.log(r / (n - r)) for r, n in pairs]
    assert round(weighted_slope(logits, [1.0] * 5, times)[0], 3) == 0.483


def test_phe_proportions_grouped_duplicate_year_is_refused() -> None:
    # "White" has 2022 twice: PHEindicatormethods says "Duplicate years in group". A series
    # here has one current value per period, so two are the caller's mistake.
    points = [TrendPoint(y, 300, 480) for y in (2019, 2020, 2022, 2022, 2023)]
    with pytest.raises(ValueError, match="two points for one period"):
        trend_test(points, kind="proportion")


@pytest.mark.parametrize(
    ("rows", "marker", "significance", "gradient"),
    [
        # Sheet testdata_other_trends (= fingertips-open Set1, years 1..5 newest first).
        (
            (
                (1367, 44701, 30.6, 28.98, 32.25),
                (1332, 44064, 30.2, 28.63, 31.9),
                (1199, 42811, 28, 26.44, 29.64),
                (1023, 41527, 24.6, 23.15, 26.19),
                (994, 40299, 24.67, 23.16, 26.25),
            ),
            "decreasing",
            46.7636,
            -1.7516,
        ),
        # Sheet testdata_other_grouped, "Black, Black British, Caribbean or African".
        (
            (
                (3004, 44064, 20.2, 18.3, 21.9),
                (5000, 42811, 23, 21.44, 25.64),
                (6000, 41527, 24.6, 23.15, 26.19),
                (7643, 40299, 28.67, 26.16, 29.25),
                (9585, 40700, 30.9, 28.98, 32.25),
            ),
            "increasing",
            95.2196,
            2.7335,
        ),
        # Sheet testdata_other_6: six years, the five most recent used (years 2 to 6).
        (
            (
                (1367, 44701, 30.6, 28.98, 32.25),
                (1332, 44064, 30.2, 28.63, 31.9),
                (1199, 42811, 28, 26.44, 29.64),
                (1023, 41527, 24.6, 23.15, 26.19),
                (994, 40299, 24.67, 23.16, 26.25),
                (1011, 40299, 30.9, 28.98, 32.25),
            ),
            "no_significant_change",
            0.7433,
            -0.2256,
        ),
    ],
    ids=["other_trends", "other_grouped_black", "other_6"],
)
def test_phe_other_sheets(rows, marker, significance, gradient) -> None:
    result = trend_test(with_limits(*rows, first=1), kind="rate")
    assert result is not None
    assert result.marker == marker
    assert result.chi_square == pytest.approx(significance * R_TO_FINGERTIPS, abs=6e-5)
    assert round(result.slope, 4) == gradient


def test_phe_other_grouped_missing_value_or_limit_cannot_be_calculated() -> None:
    # "Mixed ..." (year 2's value missing) and "Other ethnic group" (year 5's lower limit
    # missing): Cannot be calculated.
    mixed = with_limits(
        (1367, 44701, 30.6, 28.98, 32.25),
        (1332, 44064, None, 28.63, 31.9),
        (1199, 42811, 28, 26.44, 29.64),
        (1023, 41527, 24.6, 23.15, 26.19),
        (994, 40299, 24.67, 23.16, 26.25),
    )
    assert recent_trend(mixed, kind="rate") == "cannot_be_calculated"
    other = with_limits(
        (994, 40299, 24.67, 23.16, 26.25),
        (3004, 44064, 20.2, 18.3, 21.9),
        (5000, 42811, 23, 21.44, 25.64),
        (6000, 41527, 24.6, 23.15, 26.19),
        (7643, 40299, 28.67, None, 29.25),
    )
    assert recent_trend(other, kind="rate") == "cannot_be_calculated"
    # "White" has four years: Not enough data points.
    white = with_limits(
        (3004, 44064, 20.2, 18.3, 21.9),
        (5000, 42811, 23, 21.44, 25.64),
        (6000, 41527, 24.6, 23.15, 26.19),
        (7643, 40299, 28.67, 26.16, 29.25),
    )
    assert recent_trend(white, kind="rate") == "cannot_be_calculated"


# -- By hand -------------------------------------------------------------------------------------


def test_obviously_increasing_proportion() -> None:
    # 10, 20, 30, 40, 50 of 100 at t = 1..5. N = 500, R = 150, p = 0.3, t_bar = 3.
    # sum r (t - 3) = 10(-2) + 20(-1) + 0 + 40(1) + 50(2) = 100
    # sum n (t - 3)^2 = 100 (4 + 1 + 0 + 1 + 4) = 1000
    # chi2 = 100^2 / (0.3 x 0.7 x 1000) = 10000 / 210 = 47.619 > 9.5495
    # logits -2.197, -1.386, -0.847, -0.405, 0 rise, with any one left out too: increasing.
    result = trend_test(
        counts((10, 100), (20, 100), (30, 100), (40, 100), (50, 100)), kind="proportion"
    )
    assert result is not None
    assert result.chi_square == pytest.approx(10000 / 210, rel=1e-12)
    assert result.marker == "increasing"


def test_flat_proportion() -> None:
    # 30 of 100 every period: sum r (t - 3) = 30 (-2 - 1 + 0 + 1 + 2) = 0, so chi2 = 0.
    result = trend_test(counts(*[(30, 100)] * 5), kind="proportion")
    assert result is not None
    assert result.chi_square == 0
    assert result.marker == "no_significant_change"


def test_decreasing_rate_with_unit_standard_errors() -> None:
    # Values 20, 18, 16, 14, 12 with limits value -/+ 1.96: se = 3.92 / 3.92 = 1, weights 1.
    # slope = sum (t - 3) y / sum (t - 3)^2 = (-40 - 18 + 0 + 14 + 24) / 10 = -2
    # var(slope) = 1 / 10, chi2 = 4 x 10 = 40 > 9.5495; a straight line: every leave-one-out
    # slope is -2 as well. Decreasing.
    rows = [(v * 10, 10_000, v, v - 1.96, v + 1.96) for v in (20, 18, 16, 14, 12)]
    result = trend_test(with_limits(*rows), kind="rate")
    assert result is not None
    assert result.slope == pytest.approx(-2)
    assert result.chi_square == pytest.approx(40)
    assert result.marker == "decreasing"


def test_decreasing_rate_from_counts() -> None:
    # 200, 180, 160, 140, 120 events in 10,000 a period, per 1,000: 20, 18, 16, 14, 12 with
    # Byar's limits; se ~ sqrt(events) / 10 per 1,000 (1.41 down to 1.10), so chi2 is about
    # 2^2 x 10 / 1.6 = 25, well over 9.5495.
    result = trend_test(
        counts((200, 10_000), (180, 10_000), (160, 10_000), (140, 10_000), (120, 10_000)),
        kind="rate",
        multiplier=1000,
    )
    assert result is not None
    assert result.marker == "decreasing"
    assert result.slope == pytest.approx(-2, rel=0.01)
    assert 20 < result.chi_square < 30


def test_one_point_making_the_trend_is_no_significant_change() -> None:
    # Values 10, 11, 10, 9, 20 with se = 1: slope = (-20 - 11 + 0 + 9 + 40) / 10 = 1.8 and
    # chi2 = 1.8^2 x 10 = 32.4, significant; but without the last point the slope of 10, 11,
    # 10, 9 is (-15 - 5.5 + 5 + 13.5) / 5 = -0.4: the rise is that one point.
    rows = [(v * 10, 10_000, v, v - 1.96, v + 1.96) for v in (10, 11, 10, 9, 20)]
    result = trend_test(with_limits(*rows), kind="rate")
    assert result is not None
    assert result.chi_square == pytest.approx(32.4)
    assert result.marker == "no_significant_change"
    assert "outlier" in result.reason


def test_a_leave_one_out_slope_of_zero_is_not_the_same_direction() -> None:
    # 10, 10, 10, 10, 20 with se = 1: slope 2, chi2 40; without the last point the slope is
    # exactly 0. Fingertips' C# would count 0 as positive (increasing); R's sign() does not.
    rows = [(v * 10, 10_000, v, v - 1.96, v + 1.96) for v in (10, 10, 10, 10, 20)]
    assert recent_trend(with_limits(*rows), kind="rate") == "no_significant_change"


def test_too_few_points() -> None:
    assert (
        recent_trend(counts((10, 100), (20, 100), (30, 100), (40, 100)), kind="proportion")
        == "cannot_be_calculated"
    )
    assert recent_trend([], kind="rate") == "cannot_be_calculated"


def test_a_zero_denominator() -> None:
    # Fingertips' IsDenominatorValid is denominator > 0.
    pairs = ((10, 100), (20, 100), (30, 0), (40, 100), (50, 100))
    assert recent_trend(counts(*pairs), kind="proportion") == "cannot_be_calculated"
    assert recent_trend(counts(*pairs), kind="rate") == "cannot_be_calculated"


def test_a_proportion_of_zero_has_no_logit() -> None:
    pairs = ((0, 100), (20, 100), (30, 100), (40, 100), (50, 100))
    assert recent_trend(counts(*pairs), kind="proportion") == "cannot_be_calculated"


def test_a_rate_of_zero_events_has_an_interval_and_a_trend() -> None:
    # 0 events: exact limits 0 to 3.689 / n, a positive width; the rise is then testable.
    pairs = ((0, 10_000), (20, 10_000), (40, 10_000), (60, 10_000), (80, 10_000))
    assert recent_trend(counts(*pairs), kind="rate", multiplier=1000) == "increasing"


def test_only_the_five_most_recent_periods_count_and_a_break_before_them_does_not() -> None:
    # A fall then (after a gap) a steady rise: the five most recent periods rise.
    old = [TrendPoint(i, 90, 100) for i in range(3)]
    recent = counts((10, 100), (20, 100), (30, 100), (40, 100), (50, 100), first=10)
    assert recent_trend(old + recent, kind="proportion") == "increasing"


def test_a_break_among_the_five_most_recent_periods() -> None:
    points = counts((10, 100), (20, 100), (30, 100), (40, 100))
    points.append(TrendPoint(5, 50, 100))  # period 4 is missing
    assert recent_trend(points, kind="proportion") == "cannot_be_calculated"


def test_a_point_that_cannot_be_used_among_the_five_most_recent() -> None:
    points = counts((10, 100), (20, 100), (30, 100), (40, 100), (50, 100), (60, 100))
    points[-2] = TrendPoint(points[-2].index, None, 100)
    assert recent_trend(points, kind="proportion") == "cannot_be_calculated"


def test_order_of_the_points_does_not_matter() -> None:
    # fingertips-open's GetResults_Return_DecreasingTrend_For_Proportion_And_Shuffled_TrendData_1.
    points = counts((621, 3454), (599, 3195), (556, 3256), (535, 3227), (447, 3121))
    assert recent_trend(points[::-1], kind="proportion") == "decreasing"


def test_a_zero_width_interval_cannot_be_calculated() -> None:
    # FingertipsNext's emergency readmissions data has limits 14.8 to 14.8.
    rows = [(v * 10, 1000, v, v, v) for v in (14.3, 15.4, 14.3, 14.2, 14.8)]
    assert recent_trend(with_limits(*rows), kind="rate") == "cannot_be_calculated"


@pytest.mark.parametrize("kind", ["count", "value"])
def test_counts_and_values_have_no_trend(kind) -> None:
    assert recent_trend(counts(*[(i, 100) for i in range(10, 60, 10)]), kind=kind) is None


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        recent_trend([], kind="ratio")  # type: ignore[arg-type]
