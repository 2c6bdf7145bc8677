"""The web pages' charts and icons, rendered for real by vl-convert from data shaped by the
APIs' own response models and from targets_api's own answers, and read back as SVG."""

import re
import xml.etree.ElementTree as ET
from typing import get_args

import pytest

from services.common import periods
from services.targets_api.assessments.schemas import LeagueRow, LeagueTable
from services.targets_api.evaluation.schemas import EffectEstimate, GroupEvaluation
from services.targets_api.progress.schemas import ProgressSeries, SeriesPoint, SeriesTarget
from services.targets_api.spc.service import Assurance, Variation, spc
from services.web import charts
from tests.support.svg import SVG, assert_embeddable, axis_labels, marks, parse, translation

DISCHARGE = "bcf-discharge-usual-residence"  # a national monthly proportion
# Nearly two years of a proportion: common cause, with one collapse below the lower limit
# (special cause concern) and one peak above the upper (special cause improvement).
VALUES = [70, 73, 68, 72, 69, 74, 67, 71, 70, 72, 69, 73, 50, 71, 72, 95, 70, 69, 72, 71, 73, 70]
TARGET = SeriesTarget(
    plan_id=7,
    baseline_period="2024-03",
    baseline_value=71,
    target_period="2026-03",
    target_value=90,
)


def series_body(
    values=VALUES, *, first="2024-01", provisional_last=2, target=TARGET, with_spc=True, skip=()
):
    """A `GET /v1/places/{code}/progress/{metric_code}` body: SPC by the service's own code,
    validated and serialised by its response model. ``skip``: periods left out (gaps)."""
    result = spc(values, improvement_direction="increase", target=target and target.target_value)
    start = periods.parse(first)
    codes = [
        p.code
        for p in periods.periods_between(start, periods.shift(start, len(values) + len(skip) - 1))
        if p.code not in skip
    ]
    points = [
        SeriesPoint(
            index=i,
            period=code,
            value=point.value,
            mean=point.mean if with_spc else None,
            lpl=point.lpl if with_spc else None,
            upl=point.upl if with_spc else None,
            point_type=point.point_type if with_spc else None,
            provisional=i >= len(values) - provisional_last,
        )
        for i, (code, point) in enumerate(zip(codes, result.points, strict=True))
    ]
    return ProgressSeries(
        place_code="E08000035",
        metric_code="bcf-discharge-usual-residence",
        improvement_direction="increase",
        points=points,
        variation=result.variation if with_spc else None,
        assurance=result.assurance if with_spc else None,
        target=target,
        warnings=result.warnings if with_spc else ["fewer than 2 values: no limits"],
    ).model_dump(mode="json")


def test_spc_points_are_coloured_by_point_type_and_provisional_ones_are_hollow():
    body = series_body()
    svg = charts.spc_chart(body, title="Discharges to usual place of residence")
    dots = marks(parse(svg), "spc_points")
    assert len(dots) == len(VALUES)
    types = [p["point_type"] for p in body["points"]]
    assert {"common_cause", "special_cause_improvement", "special_cause_concern"} <= set(types)
    colours = {
        "common_cause": charts.COMMON_CAUSE,
        "special_cause_improvement": charts.IMPROVEMENT,
        "special_cause_concern": charts.CONCERN,
    }
    for dot, point in zip(dots, body["points"], strict=True):
        assert dot.get("stroke") == colours[point["point_type"]], point
        assert dot.get("fill") == (
            "white" if point["provisional"] else colours[point["point_type"]]
        )
    # In time order, left to right.
    xs = [translation(dot)[0] for dot in dots]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    # The concern point (the collapse) is drawn lowest.
    ys = [translation(dot)[1] for dot in dots]
    assert max(ys) == ys[VALUES.index(min(VALUES))]


def test_spc_draws_the_mean_solid_the_limits_dashed_and_the_target_trajectory_and_forecast():
    trajectory = [{"period": "2025-03", "value": 78}, {"period": "2025-09", "value": 84}]
    svg = charts.spc_chart(
        series_body(),
        trajectory=trajectory,
        forecast={"period": "2026-03", "value": 91.5},
        title="Discharges",
    )
    lines = marks(parse(svg), "spc_lines")
    by_stroke: dict[str, list[ET.Element]] = {}
    for line in lines:
        by_stroke.setdefault(line.get("stroke"), []).append(line)
    mean = by_stroke[charts.MEAN]
    assert len(mean) == 1 and not mean[0].get("stroke-dasharray")
    limits = by_stroke[charts.COMMON_CAUSE]
    assert len(limits) == 2 and all(line.get("stroke-dasharray") for line in limits)
    (target,) = by_stroke[charts.TARGET]
    assert target.get("stroke-dasharray")
    # The target is a level line across the whole chart.
    ends = re.findall(r"[ML]([-\d.]+),([-\d.]+)", target.get("d"))
    assert len(ends) == 2 and ends[0][1] == ends[1][1] and float(ends[0][0]) < float(ends[1][0])
    # The trajectory from the baseline through both milestones.
    (path,) = by_stroke[charts.TRAJECTORY]
    assert len(re.findall(r"[ML]", path.get("d"))) == 3
    # The forecast: a line from the latest value and a marker at the target period.
    assert len(by_stroke[charts.FORECAST]) == 1
    assert len(marks(parse(svg), "spc_forecast")) == 1
    label = parse(svg).get("aria-label")
    assert "Target 90 by 2026-03" in label and "Forecast 91.5 in 2026-03" in label
    assert "22 values from 2024-01 to 2025-10" in label


def test_spc_without_a_target_draws_no_target_line():
    svg = charts.spc_chart(series_body(target=None), title="No target")
    strokes = {line.get("stroke") for line in marks(parse(svg), "spc_lines")}
    assert charts.MEAN in strokes and charts.TARGET not in strokes
    assert ">Target<" not in svg  # nor a legend entry for it


def test_spc_of_a_series_without_spc_shows_its_values_in_grey():
    body = series_body(values=[50.0], provisional_last=0, with_spc=False, target=None)
    svg = charts.spc_chart(body, title="One value")
    root = parse(svg)
    (dot,) = marks(root, "spc_points")
    assert dot.get("fill") == charts.COMMON_CAUSE
    assert marks(root, "spc_lines") == []
    assert_embeddable(svg)


def test_periods_are_placed_in_time_order_with_a_gap_for_a_missing_period():
    body = series_body(values=VALUES[:6], skip={"2024-03"}, target=None)
    xs = [
        translation(dot)[0]
        for dot in marks(parse(charts.spc_chart(body, title="Gap")), "spc_points")
    ]
    steps = [round(b - a, 6) for a, b in zip(xs, xs[1:], strict=False)]
    assert steps[1] == pytest.approx(2 * steps[0])  # February to April spans two steps
    assert len(set(steps[2:] + steps[:1])) == 1


@pytest.mark.parametrize("first", ["2019-Q3", "FY2015-16", "2010"])
def test_other_periodicities_are_labelled_by_their_codes(first):
    body = series_body(values=VALUES[:8], first=first, target=None, provisional_last=0)
    labels = [t.text for t in axis_labels(parse(charts.spc_chart(body, title="Periods")))]
    codes = [p["period"] for p in body["points"]]
    assert set(codes) >= {label for label in labels if not re.fullmatch(r"[\d.,−-]+", label)}
    assert codes[-1] in labels  # the latest period is always labelled


def test_a_long_series_labels_about_a_dozen_periods_ending_with_the_latest():
    values = [60 + (i % 7) for i in range(60)]
    body = series_body(values=values, target=None, provisional_last=0)
    labels = [t.text for t in axis_labels(parse(charts.spc_chart(body, title="Five years")))]
    months = [label for label in labels if re.fullmatch(r"\d{4}-\d{2}", label)]
    assert 6 <= len(months) <= 12
    assert months[-1] == body["points"][-1]["period"]


def test_empty_series_table_and_trend_say_so_instead_of_failing():
    no_points = ProgressSeries(
        place_code="E08000035",
        metric_code="bcf-discharge-usual-residence",
        improvement_direction="increase",
        points=[],
        variation=None,
        assurance=None,
        target=TARGET,
    ).model_dump(mode="json")
    for svg in (
        charts.spc_chart(no_points, title="Empty"),
        charts.spc_chart(no_points | {"target": None}, title="Empty"),
        charts.league_chart(empty_table(), title="Empty"),
        charts.trend_chart([], title="Empty", unit="%"),
        charts.trend_chart([{"period": "2025-01", "value": None}], title="Empty", unit="%"),
    ):
        assert_embeddable(svg)
        texts = [t.text or "" for t in parse(svg).iter(f"{SVG}text")]
        assert any(text.startswith("No ") for text in texts), texts
        assert "No " in parse(svg).get("aria-label")


def league_row(code, name, value, rank, comparison, interval=True):
    return LeagueRow(
        area_code=code,
        area_name=name,
        value=value,
        ci_lower=value - 2.5 if interval else None,
        ci_upper=value + 2.5 if interval else None,
        comparison=comparison,
        rank=rank,
        rank_of=4 if rank else None,
        quintile=None,
        places_reported=1,
        places_expected=1,
        coverage=1.0,
        complete=rank is not None,
        trend=None,
    )


def league_table(rows, national_value=80.0):
    return LeagueTable(
        data=rows,
        count=len(rows),
        metric_code="bcf-discharge-usual-residence",
        level="place",
        period="2025-07",
        provisional=False,
        national_value=national_value,
        national_coverage=1.0,
    ).model_dump(mode="json")


def empty_table():
    return league_table([], national_value=None) | {"period": None}


def test_league_chart_ranks_areas_with_intervals_coloured_by_comparison_and_england():
    rows = [  # as an API might list them, not in rank order
        league_row("E08000035", "Leeds", 79.0, 3, "similar"),
        league_row("E06000052", "Cornwall", 90.0, 1, "better"),
        league_row("E09000001", "City of London", 85.0, None, "not_compared", interval=False),
        league_row("E08000036", "Wakefield", 70.0, 4, "worse"),
        league_row("E08000032", "Bradford", 88.0, 2, "better"),
    ]
    svg = charts.league_chart(league_table(rows), title="Discharges by place")
    assert_embeddable(svg)
    root = parse(svg)
    names = sorted(
        (translation(t)[1], t.text) for t in axis_labels(root) if not re.match(r"[\d.]+$", t.text)
    )
    assert [name for _, name in names] == [
        "Cornwall",
        "Bradford",
        "Leeds",
        "Wakefield",
        "City of London",  # shown, but after the ranked ones
    ]
    fills = [dot.get("fill") for dot in marks(root, "areas")]
    assert fills == ["#92D050", "#92D050", "#FFC000", "#C00000", "#C9C9C9"]
    assert len(marks(root, "intervals")) == 4  # City of London has no interval
    (england,) = marks(root, "england")
    assert england.get("stroke") == charts.MEAN
    assert [t.text for t in root.iter(f"{SVG}text") if t.text == "England"] == ["England"]
    assert "England: 80" in root.get("aria-label")


def test_text_from_data_is_escaped():
    hostile = '<img src=x onerror="alert(1)">&amp;'
    rows = [league_row("E08000035", hostile, 79.0, 1, "similar")]
    for svg in (
        charts.league_chart(league_table(rows), title="<script>alert(1)</script>"),
        charts.spc_chart(series_body(), title=hostile),
        charts.trend_chart([{"period": "2025-01", "value": 3.0}], title=hostile, unit=hostile),
    ):
        assert_embeddable(svg)
        assert "<img" not in svg and "<script" not in svg
        texts = [t.text for t in parse(svg).iter(f"{SVG}text")]
        assert hostile in texts or "<script>alert(1)</script>" in texts


def test_trend_chart_is_a_line_through_every_value_with_the_unit_on_its_axis():
    points = [{"period": f"2025-{m:02d}", "value": 60 + m} for m in range(1, 13)]
    svg = charts.trend_chart(points, title="England", unit="per 100,000")
    assert_embeddable(svg)
    root = parse(svg)
    assert len(marks(root, "trend_points")) == 12
    (line,) = marks(root, "trend_line")
    assert len(re.findall(r"[ML]", line.get("d"))) == 12
    assert "per 100,000" in [t.text for t in root.iter(f"{SVG}text")]
    assert "the latest is 72 per 100,000 in 2025-12" in root.get("aria-label")


def test_every_chart_is_safe_to_embed_and_scales():
    for svg in (
        charts.spc_chart(series_body(), trajectory=[{"period": "2025-06", "value": 80}], title="A"),
        charts.spc_chart(series_body(values=[1.0, 2.0], target=None), title="B"),
    ):
        assert_embeddable(svg)


@pytest.mark.parametrize("variation", [*get_args(Variation), None])
def test_variation_icons_follow_making_data_count(variation):
    svg = charts.variation_icon(variation, "increase")
    assert_embeddable(svg)
    root = parse(svg)
    label = root.get("aria-label")
    letters = [t.text for t in root.iter(f"{SVG}text")]
    ring = root.find(f"{SVG}circle").get("stroke")
    if variation is None:
        assert ring == charts.COMMON_CAUSE and letters == [] and "No variation" in label
        return
    assert "higher is better" in label
    nature = variation.split("_")[0]
    colour = {
        "common": charts.COMMON_CAUSE,
        "improvement": charts.IMPROVEMENT,
        "concern": charts.CONCERN,
        "neutral": charts.NEUTRAL,
    }[nature]
    assert ring == colour
    words = {"common": "common", "improvement": "improving", "concern": "concerning"}
    assert words.get(nature, nature) in label.lower()
    if nature in ("improvement", "concern"):
        assert letters == [variation.split("_")[1][0].upper()]  # H or L
        dots = [c.get("fill") for c in root.findall(f"{SVG}circle")[1:]]
        assert dots == [charts.COMMON_CAUSE] * 3 + [colour] * 2
    else:
        assert letters == []


def test_the_icons_differ_by_side_and_say_the_direction_in_words():
    assert charts.variation_icon("improvement_high", None) != charts.variation_icon(
        "improvement_low", None
    )
    assert charts.variation_icon("neutral_high", None) != charts.variation_icon("neutral_low", None)
    label = parse(charts.variation_icon("concern_low", "lower_is_better")).get("aria-label")
    assert "concerning" in label and "significantly low" in label and "lower is better" in label


@pytest.mark.parametrize(
    ("assurance", "letter", "colour", "words"),
    [
        ("consistent_pass", "P", charts.IMPROVEMENT, "consistently be met"),
        ("consistent_fail", "F", charts.CONCERN, "consistently be missed"),
        ("inconsistent", "?", charts.COMMON_CAUSE, "met or missed"),
        (None, None, charts.COMMON_CAUSE, "No assurance"),
    ],
)
def test_assurance_icons_follow_making_data_count(assurance, letter, colour, words):
    assert assurance is None or assurance in get_args(Assurance)
    svg = charts.assurance_icon(assurance)
    assert_embeddable(svg)
    root = parse(svg)
    assert root.find(f"{SVG}circle").get("stroke") == colour
    assert [t.text for t in root.iter(f"{SVG}text")] == ([letter] if letter else [])
    assert words in root.get("aria-label")


def _effect(k, estimate, half=0.5):
    return EffectEstimate(
        k=k,
        estimate=estimate,
        se=half / 1.96,
        ci_lower=estimate - half,
        ci_upper=estimate + half,
        observations=40,
        places=40,
    )


def test_event_study_chart_draws_each_estimate_with_its_interval_zero_and_the_event():
    group = GroupEvaluation(
        group="joint_committee",
        estimable=True,
        refused=None,
        treated_places=40,
        control_places=60,
        observations=2000,
        treated_observations=300,
        df=39,
        average=_effect(None, 1.5),
        reading="improved",
        effects=[_effect(k, 1.0 + k / 2) for k in range(3)],
        pre_periods=[_effect(k, 0.1) for k in (-2, -1)],
        pretrend_p_value=0.8,
        warnings=[],
    ).model_dump(mode="json")
    svg = charts.event_study_chart(group, title="Discharges: joint committee", unit="%")
    assert_embeddable(svg)
    root = parse(svg)
    dots = marks(root, "estimates")
    assert [d.get("fill") for d in dots] == [charts.COMMON_CAUSE] * 2 + [charts.NHS_BLUE] * 3
    assert len(marks(root, "intervals")) == 5
    (zero,) = marks(root, "zero")
    assert zero.get("stroke") == charts.MEAN
    (event,) = marks(root, "event")
    # The event's line falls halfway between the last pre-period (k = -1) and k = 0.
    xs = sorted(translation(d)[0] for d in dots)
    assert translation(event)[0] == pytest.approx((xs[1] + xs[2]) / 2, abs=1)
    assert "1.5 (1 to 2): improved" in root.get("aria-label")


def test_event_study_chart_of_a_refused_group_says_why():
    group = {"group": "lead_provider", "refused": "3 treated and 2 control places: too few"}
    svg = charts.event_study_chart(group, title="Discharges: lead provider", unit="%")
    assert_embeddable(svg)
    assert "3 treated and 2 control places" in svg
