"""Charts for the web pages: Vega-Lite specs built with altair, rendered to SVG on the server by
vl-convert, so a page shows them without JavaScript and without reaching any CDN.

Every function is pure (JSON values in, as the APIs answer them; an SVG string out) and its
SVG is safe to put inline in a page: no scripts (Vega's SVG renderer writes none, and the specs
use no links), text from data escaped (Vega escapes mark text; the accessible label is escaped
here), no ids (several charts share one document), `role="img"` with an `aria-label` and a
`<title>` saying in words what the chart shows, and a `viewBox` without a fixed width, so the
chart scales to its container. docs/charts.md says what was chosen and why.

The colours are those of NHS England's Making Data Count as NHSRplotthedots draws them
(common cause grey, improvement blue, concern orange, neutral purple; the target red), and OHID
Fingertips' comparison colours for league tables. The variation and assurance icons are small
SVG drawn here after Making Data Count's own (as NHSRplotthedots ships them), in the same
colours as the charts, so an icon and the points of its chart agree.
"""

import functools
import html
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import altair as alt
import vl_convert

from services.common import periods
from services.common.vocabulary import Direction as MetricDirection
from services.targets_api.progress.schemas import Comparison
from services.targets_api.spc.service import Assurance, PointType, Variation
from services.targets_api.spc.service import Direction as SpcDirection

# The Vega-Lite version altair writes its specs for; vl-convert renders several.
VEGA_LITE_VERSION = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])

COMMON_CAUSE = "#7B7D7D"
IMPROVEMENT = "#289de0"
CONCERN = "#fab428"
NEUTRAL = "#361475"
TARGET = "#de1b1b"
# NHSRplotthedots' trajectory colour (ptd_spc_colours); drawn dotted, so it is not taken for
# a neutral point's purple.
TRAJECTORY = "#490092"
MEAN = "#000000"
FORECAST = "#425563"  # NHS dark grey: a projection, not a measurement
# A plain trend is neither improvement nor concern, so not IMPROVEMENT's blue.
NHS_BLUE = "#005eb8"

# Point types as people read them, in the order a legend lists them; neutral high and low are
# one colour, so one entry. A series the SPC could not be computed for (its warnings say why)
# still shows its values.
_POINT_TYPES: dict[PointType | None, tuple[str, str]] = {
    "common_cause": ("Common cause", COMMON_CAUSE),
    "special_cause_improvement": ("Special cause: improvement", IMPROVEMENT),
    "special_cause_concern": ("Special cause: concern", CONCERN),
    "special_cause_neutral_high": ("Special cause: neutral", NEUTRAL),
    "special_cause_neutral_low": ("Special cause: neutral", NEUTRAL),
    None: ("Value (no SPC)", COMMON_CAUSE),
}

_COMPARISONS: dict[Comparison, tuple[str, str]] = {
    "better": ("Better than England", "#92D050"),
    "similar": ("Similar to England", "#FFC000"),
    "worse": ("Worse than England", "#C00000"),
    "not_compared": ("Not compared", "#C9C9C9"),
}

# Lines of an SPC chart: (colour, dash pattern; empty is solid).
_LINES: dict[str, tuple[str, list[int]]] = {
    "Mean": (MEAN, []),
    "Process limits": (COMMON_CAUSE, [6, 4]),
    "Target": (TARGET, [8, 4]),
    "Trajectory": (TRAJECTORY, [2, 3]),
    "Forecast": (FORECAST, [4, 2, 1, 2]),
}

WIDTH, HEIGHT = 640, 280
# A label for every period would overlap on a few years of months: about this many, the latest
# always among them.
_MAX_AXIS_LABELS = 12
_LEAGUE_ROW_STEP = 14
_FONT = "Arial, Helvetica, sans-serif"
_CONFIG: dict[str, Any] = {
    # The SVG as a whole is one image with its own label; an ARIA node per mark would make a
    # screen reader read hundreds of them, and the markup several times larger.
    "aria": False,
    "font": _FONT,
    "background": "white",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "labelColor": "#212b32"},
    "legend": {"orient": "bottom", "labelFontSize": 11, "titleFontSize": 11, "columns": 3},
    "title": {"anchor": "start", "fontSize": 14, "color": "#212b32"},
}


_Chart = TypeVar("_Chart", bound=Callable[..., str])


def _remembered(chart: _Chart) -> _Chart:
    """``chart`` with its last 128 answers kept, keyed by its arguments as JSON (which they
    are: API bodies). A page seen again (a scorecard reloaded, a league table for another
    reader) asks for the same charts until the figures change; building and rendering one
    costs tens of milliseconds of CPU, a lookup one serialisation. 128 charts of about 30 kB."""

    @functools.lru_cache(maxsize=128)
    def by_arguments(arguments: str) -> str:
        args, kwargs = json.loads(arguments)
        return chart(*args, **kwargs)

    @functools.wraps(chart)
    def remembered(*args: Any, **kwargs: Any) -> str:
        return by_arguments(json.dumps([args, kwargs], sort_keys=True))

    return cast(_Chart, remembered)


def warm_up() -> None:
    """Starts vl-convert's JavaScript engine, which takes about half a second on its first
    render in a process (later renders reuse it): call it once at startup, so no page pays."""
    _message_chart("warm-up", "warm-up")


@_remembered
def spc_chart(
    series: Mapping[str, Any],
    *,
    trajectory: Sequence[Mapping[str, Any]] = (),
    forecast: Mapping[str, Any] | None = None,
    title: str,
) -> str:
    """A Making Data Count chart of a progress series (targets_api's
    `GET /v1/places/{code}/progress/{metric_code}` body): points coloured by point type
    (provisional ones hollow), the mean, the process limits, the target, the plan's trajectory
    (`[{period, value}]`) and the forecast (`{period, value}`)."""
    points = [p for p in series.get("points") or () if p.get("value") is not None]
    target = series.get("target")
    if not points:
        return _message_chart(title, "No values have been submitted for this measure yet.")
    milestones = [m for m in trajectory if m.get("value") is not None]
    if forecast is not None and forecast.get("value") is None:
        forecast = None
    steps = list(milestones)
    if steps and target:
        # The trajectory sets out from the baseline, as the expected value does (API.md).
        steps.append({"period": target["baseline_period"], "value": target["baseline_value"]})
    extra_periods = [m["period"] for m in steps]
    if target:
        extra_periods.append(target["target_period"])
    if forecast:
        extra_periods.append(forecast["period"])
    domain = _period_domain([p["period"] for p in points] + extra_periods)
    x = _period_x(domain)

    point_rows = []
    line_rows: list[dict[str, Any]] = []
    for p in points:
        label, _ = _POINT_TYPES[p.get("point_type")]
        point_rows.append(
            {
                "period": p["period"],
                "value": p["value"],
                "kind": label,
                "provisional": bool(p.get("provisional")),
            }
        )
        for line, part in (("Mean", "mean"), ("Process limits", "upl"), ("Process limits", "lpl")):
            if p.get(part) is not None:
                line_rows.append(
                    {"period": p["period"], "value": p[part], "line": line, "part": part}
                )
    if target:
        for period in (domain[0], domain[-1]):
            line_rows.append(
                {"period": period, "value": target["target_value"], "line": "Target", "part": "t"}
            )
    order = {code: i for i, code in enumerate(domain)}
    for m in sorted(steps, key=lambda m: order[m["period"]]):
        line_rows.append(
            {"period": m["period"], "value": m["value"], "line": "Trajectory", "part": "tr"}
        )
    if forecast:
        last = points[-1]
        for period, value in (
            (last["period"], last["value"]),
            (forecast["period"], forecast["value"]),
        ):
            line_rows.append({"period": period, "value": value, "line": "Forecast", "part": "f"})

    y = alt.Y("value:Q", title=None, scale=alt.Scale(zero=False))
    kinds = _present(point_rows, "kind", [label for label, _ in _POINT_TYPES.values()])
    values_line = (
        alt.Chart(alt.NamedData("points"), name="spc_values")
        .mark_line(color=COMMON_CAUSE, strokeWidth=1.5, opacity=0.6)
        .encode(x=x, y=y)
    )
    kind_scale = alt.Scale(domain=kinds, range=[_colour_of(kind) for kind in kinds])
    dots = (
        alt.Chart(alt.NamedData("points"), name="spc_points")
        .mark_point(size=60, strokeWidth=2, opacity=1, shape="circle")
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "kind:N", scale=kind_scale, legend=alt.Legend(title="Points (hollow: provisional)")
            ),
            fill=alt.condition(
                "datum.provisional",
                alt.value("white"),
                alt.Fill("kind:N", scale=kind_scale, legend=None),
            ),
        )
    )
    layers: list[alt.Chart] = [values_line, dots]
    if line_rows:
        names = _present(line_rows, "line", list(_LINES))
        lines = (
            alt.Chart(alt.NamedData("lines"), name="spc_lines")
            .mark_line(strokeWidth=1.5)
            .encode(
                x=x,
                y=y,
                detail="part:N",
                color=alt.Color(
                    "line:N",
                    scale=alt.Scale(domain=names, range=[_LINES[n][0] for n in names]),
                    legend=alt.Legend(title="Lines"),
                ),
                strokeDash=alt.StrokeDash(
                    "line:N",
                    scale=alt.Scale(domain=names, range=[_LINES[n][1] for n in names]),
                    legend=alt.Legend(title="Lines"),
                ),
            )
        )
        layers.insert(0, lines)
    if forecast:
        layers.append(
            alt.Chart(alt.NamedData("forecast"), name="spc_forecast")
            .mark_point(shape="diamond", size=90, filled=False, strokeWidth=2, color=FORECAST)
            .encode(x=x, y=y)
        )
    chart = (
        alt.layer(*layers)
        .resolve_scale(color="independent", strokeDash="independent")
        .properties(height=HEIGHT)
    )
    datasets: dict[str, list[Any]] = {
        "points": point_rows,
        "lines": line_rows,
        "forecast": [forecast] if forecast else [],
    }
    description = _spc_description(title, points, target, milestones, forecast)
    return _render(chart, title, description, datasets)


@_remembered
def league_chart(table: Mapping[str, Any], *, title: str) -> str:
    """A league table (targets_api's `GET /v1/metrics/{code}/league-table` body) in rank order:
    each area's value with its 95 % interval, coloured by its comparison with England, and a
    line at England's value."""
    rows = [r for r in table.get("data") or () if r.get("value") is not None]
    if not rows:
        return _message_chart(title, "No area has a value for this period.")
    # Unranked rows (incomplete roll-ups) after the ranked ones, each group as the table has it.
    rows.sort(key=lambda r: (r.get("rank") is None, r.get("rank") or 0))
    names = _unique_labels(rows)
    data = [
        {
            "area": name,
            "value": r["value"],
            "lower": r.get("ci_lower"),
            "upper": r.get("ci_upper"),
            "comparison": _COMPARISONS[r["comparison"]][0],
        }
        for name, r in zip(names, rows, strict=True)
    ]
    datasets: dict[str, list[Any]] = {
        "areas": data,
        "intervals": [d for d in data if d["lower"] is not None],
    }
    comparisons = _present(data, "comparison", [label for label, _ in _COMPARISONS.values()])
    colours = {label: colour for label, colour in _COMPARISONS.values()}
    y = alt.Y("area:N", sort=names, title=None, axis=alt.Axis(labelLimit=220))
    x = alt.X("value:Q", title=None, scale=alt.Scale(zero=False))
    intervals = (
        alt.Chart(alt.NamedData("intervals"), name="intervals")
        .mark_rule(color="#425563", strokeWidth=1.5)
        .encode(y=y, x=alt.X("lower:Q", title=None), x2="upper:Q")
    )
    dots = (
        alt.Chart(alt.NamedData("areas"), name="areas")
        .mark_point(filled=True, size=50, stroke="#212b32", strokeWidth=0.5, opacity=1)
        .encode(
            y=y,
            x=x,
            fill=alt.Fill(
                "comparison:N",
                scale=alt.Scale(domain=comparisons, range=[colours[c] for c in comparisons]),
                legend=alt.Legend(title="Compared with England (95 % interval)", titleLimit=400),
            ),
        )
    )
    layers: list[alt.Chart] = [intervals, dots]
    national = table.get("national_value")
    if national is not None:
        england = alt.NamedData("england")
        datasets["england"] = [{"value": national, "label": "England"}]
        layers.insert(
            0,
            alt.Chart(england, name="england")
            .mark_rule(color=MEAN, strokeDash=[4, 2])
            .encode(x="value:Q"),
        )
        layers.append(
            alt.Chart(england, name="england_label")
            .mark_text(align="left", dx=4, dy=-4, baseline="bottom", fontSize=11)
            .encode(x="value:Q", y=alt.value(0), text="label:N")
        )
    chart = alt.layer(*layers).properties(height=alt.Step(_LEAGUE_ROW_STEP))
    return _render(chart, title, _league_description(title, table, rows), datasets)


@_remembered
def trend_chart(points: Sequence[Mapping[str, Any]], *, title: str, unit: str) -> str:
    """A line of `[{period, value}]`, such as a metric's national trend."""
    known = [p for p in points if p.get("value") is not None]
    if not known:
        return _message_chart(title, "No values for this measure yet.")
    domain = _period_domain(p["period"] for p in known)
    x = _period_x(domain)
    y = alt.Y("value:Q", title=unit or None, scale=alt.Scale(zero=False))
    data = alt.NamedData("trend")
    datasets = {"trend": [{"period": p["period"], "value": p["value"]} for p in known]}
    chart = alt.layer(
        alt.Chart(data, name="trend_line")
        .mark_line(color=NHS_BLUE, strokeWidth=2)
        .encode(x=x, y=y),
        alt.Chart(data, name="trend_points")
        .mark_point(filled=True, size=30, color=NHS_BLUE, opacity=1)
        .encode(x=x, y=y),
    ).properties(height=HEIGHT)
    first, last = known[0], known[-1]
    unit_words = f" {unit}" if unit else ""
    description = (
        f"{title}. Line chart of {len(known)} values from {first['period']} to "
        f"{last['period']}; the latest is {_number(last['value'])}{unit_words} in "
        f"{last['period']}."
    )
    return _render(chart, title, description, datasets)


_SPEND_MEASURES = {"planned_gbp": ("Planned", NHS_BLUE), "actual_gbp": ("Spent to date", CONCERN)}


@_remembered
def spend_chart(rows: Sequence[Mapping[str, Any]], *, title: str) -> str:
    """A plan's planned spend against spend to date (targets_api's ``spend`` rows of a plan's
    resources): a pair of bars for each financial year and scheme."""
    data = [
        {
            "row": f"{r['financial_year']} {r['scheme'].replace('_', ' ')}",
            "measure": label,
            "gbp": r[key],
        }
        for r in rows
        for key, (label, _) in _SPEND_MEASURES.items()
        if r.get(key) is not None
    ]
    if not data:
        return _message_chart(title, "The plan sets no spend and none has been reported.")
    labels = list(dict.fromkeys(d["row"] for d in data))
    measures = [label for label, _ in _SPEND_MEASURES.values()]
    chart = (
        alt.Chart(alt.NamedData("spend"), name="spend")
        .mark_bar()
        .encode(
            y=alt.Y("row:N", sort=labels, title=None, axis=alt.Axis(labelLimit=260)),
            yOffset=alt.YOffset("measure:N", sort=measures),
            x=alt.X("gbp:Q", title="GBP"),
            color=alt.Color(
                "measure:N",
                scale=alt.Scale(domain=measures, range=[c for _, c in _SPEND_MEASURES.values()]),
                legend=alt.Legend(title=None),
            ),
        )
        # The browser's font sets the long scheme labels wider than vl-convert measures them:
        # room on the left so "FY2025-26 disabled facilities grants" is not cut.
        .properties(height=alt.Step(2 * _LEAGUE_ROW_STEP), padding={"left": 48, "right": 5})
    )
    below = [r for r in rows if r.get("below_plan")]
    description = (
        f"{title}. Bar chart of planned spend and spend to date for {len(labels)} schemes and "
        f"financial years; {len(below)} ended below plan"
        + (
            ": " + ", ".join(f"{r['scheme']} in {r['financial_year']}" for r in below)
            if below
            else ""
        )
        + "."
    )
    return _render(chart, title, description, {"spend": data})


def _period_domain(codes: Iterable[str]) -> list[str]:
    """The periods in time order; for one periodicity, every period from the first to the last,
    so a missing month shows as a gap rather than closing up."""
    parsed = sorted({periods.parse(code) for code in codes}, key=lambda p: (p.start, p.end))
    if len({p.periodicity for p in parsed}) == 1:
        return [p.code for p in periods.periods_between(parsed[0], parsed[-1])]
    return [p.code for p in parsed]


def _period_x(domain: list[str]) -> alt.X:
    step = math.ceil(len(domain) / _MAX_AXIS_LABELS)
    labelled = domain[::-1][::step][::-1]  # counted back from the latest period
    return alt.X(
        "period:O",
        title=None,
        scale=alt.Scale(type="point", domain=domain, padding=0.5),
        axis=alt.Axis(values=labelled, labelAngle=-45, labelAlign="right"),
    )


def _present(rows: list[dict[str, Any]], field: str, order: list[str]) -> list[str]:
    """The values of ``field`` the rows have, in ``order`` and once each (a legend's entries)."""
    seen = {row[field] for row in rows}
    return [value for value in dict.fromkeys(order) if value in seen]


def _colour_of(kind: str) -> str:
    return next(c for label, c in _POINT_TYPES.values() if label == kind)


def _unique_labels(rows: list[Mapping[str, Any]]) -> list[str]:
    """Area names, with the code added where two areas share one (the axis is keyed by label)."""
    names = [r.get("area_name") or r["area_code"] for r in rows]
    shared = {n for n in names if names.count(n) > 1}
    return [
        f"{n} ({r['area_code']})" if n in shared else n for n, r in zip(names, rows, strict=True)
    ]


def _message_chart(title: str, message: str) -> str:
    chart = (
        alt.Chart(alt.NamedData("message"))
        .mark_text(fontSize=13, color="#4c6272")
        .encode(text="message:N")
        .properties(height=60)
    )
    return _render(chart, title, f"{title}. {message}", {"message": [{"message": message}]})


def _number(value: float) -> str:
    return f"{value:,.6g}"


def _spc_description(
    title: str,
    points: list[Mapping[str, Any]],
    target: Mapping[str, Any] | None,
    milestones: list[Mapping[str, Any]],
    forecast: Mapping[str, Any] | None,
) -> str:
    last = points[-1]
    kind = _POINT_TYPES[last.get("point_type")][0].lower()
    words = [
        f"{title}. Statistical process control chart of {len(points)} values from "
        f"{points[0]['period']} to {last['period']}; the latest, {_number(last['value'])} in "
        f"{last['period']}, is {kind}" + (" (provisional)." if last.get("provisional") else ".")
    ]
    if last.get("mean") is not None:
        words.append(f"Mean {_number(last['mean'])}.")
    if last.get("lpl") is not None and last.get("upl") is not None:
        words.append(f"Process limits {_number(last['lpl'])} to {_number(last['upl'])}.")
    if target:
        words.append(f"Target {_number(target['target_value'])} by {target['target_period']}.")
    if milestones:
        words.append(f"Trajectory of {len(milestones)} milestones.")
    if forecast:
        words.append(f"Forecast {_number(forecast['value'])} in {forecast['period']}.")
    return " ".join(words)


def event_study_chart(group: Mapping[str, Any], *, title: str, unit: str) -> str:
    """One group of targets_api's `GET /v1/evaluation` body: the pre-period estimates and the
    effects at each period since the event, each with its 95 % interval, a line at zero (no
    change) and a marker where the event falls (between k = -1 and k = 0)."""
    estimates = [
        {**e, "phase": phase}
        for phase, key in (("Before the event", "pre_periods"), ("After the event", "effects"))
        for e in group.get(key) or ()
    ]
    if not estimates:
        return _message_chart(title, group.get("refused") or "Nothing could be estimated.")
    phases = _present(estimates, "phase", ["Before the event", "After the event"])
    colours = {"Before the event": COMMON_CAUSE, "After the event": NHS_BLUE}
    data = alt.NamedData("estimates")
    x = alt.X(
        "k:Q",
        title="Periods since the event",
        axis=alt.Axis(values=[e["k"] for e in estimates], format="d"),
    )
    change = f"Change ({unit})" if unit else "Change"
    y = alt.Y("estimate:Q", title=change)
    colour = alt.Color(
        "phase:N",
        scale=alt.Scale(domain=phases, range=[colours[p] for p in phases]),
        legend=alt.Legend(title="Estimate with its 95 % interval", titleLimit=400),
    )
    marks = alt.NamedData("marks")
    chart = alt.layer(
        alt.Chart(marks, name="zero")
        .mark_rule(color=MEAN, strokeDash=[4, 2])
        .encode(y=alt.Y("zero:Q")),
        alt.Chart(marks, name="event")
        .mark_rule(color=TARGET, strokeDash=[2, 3])
        .encode(x=alt.X("event:Q")),
        alt.Chart(marks, name="event_label")
        .mark_text(align="left", dx=4, baseline="top", fontSize=11, color=TARGET)
        .encode(x="event:Q", y=alt.value(0), text="label:N"),
        alt.Chart(data, name="intervals")
        .mark_rule(strokeWidth=1.5)
        .encode(x=x, y=alt.Y("ci_lower:Q", title=change), y2="ci_upper:Q", color=colour),
        alt.Chart(data, name="estimates")
        .mark_point(filled=True, size=50, opacity=1)
        .encode(x=x, y=y, color=colour),
    ).properties(height=HEIGHT)
    datasets = {
        "estimates": [
            {key: e[key] for key in ("k", "estimate", "ci_lower", "ci_upper", "phase")}
            for e in estimates
        ],
        "marks": [{"zero": 0, "event": -0.5, "label": "Event"}],
    }
    average = group.get("average")
    summary = (
        f"the average effect after the event is {_number(average['estimate'])} "
        f"({_number(average['ci_lower'])} to {_number(average['ci_upper'])}): {group['reading']}"
        if average
        else "no average effect"
    )
    description = (
        f"{title}. Event-study chart of {len(estimates)} estimates from k = "
        f"{estimates[0]['k']} to k = {estimates[-1]['k']} periods since the event, each with "
        f"its 95 % interval; {summary}."
    )
    return _render(chart, title, description, datasets)


def _league_description(title: str, table: Mapping[str, Any], rows: list[Mapping[str, Any]]) -> str:
    counts = {label: 0 for label, _ in _COMPARISONS.values()}
    for r in rows:
        counts[_COMPARISONS[r["comparison"]][0]] += 1
    period = f" for {table['period']}" if table.get("period") else ""
    words = [f"{title}. League table{period} of {len(rows)} areas in rank order."]
    if table.get("national_value") is not None:
        words.append(f"England: {_number(table['national_value'])}.")
    words.append("; ".join(f"{label}: {n}" for label, n in counts.items() if n) + ".")
    return " ".join(words)


_ROOT = re.compile(r"<svg\b[^>]*>")
# Vega gives marks their own ARIA roles (graphics-symbol, graphics-object) and descriptions.
# Inside a role="img" root they are presentational anyway, and axe rates a role on an img's
# child as a serious violation: the root's label in words is the chart's one accessible name.
_MARK_ARIA = re.compile(r'\s(?:role="graphics-[a-z]+"|aria-roledescription="[^"]*")')
_VIEWBOX = re.compile(r'viewBox="([^"]+)"')


def _render(
    chart: alt.TopLevelMixin, title: str, description: str, datasets: dict[str, list[Any]]
) -> str:
    """The chart as embeddable SVG. Its layers name their data (``alt.NamedData``), which is
    added to the spec only here: altair copies every layer's inline values each time layers are
    combined, which cost more than rendering the chart."""
    # Vega-Lite itself refuses a bad spec when rendering; altair's own JSON-schema check would
    # cost as much again. The top-level properties go on the dict, as every altair method
    # copies the whole chart.
    spec = chart.to_dict(validate=False)
    spec.update(title=title, width=WIDTH, config=_CONFIG, datasets=datasets)
    return _embeddable(vl_convert.vegalite_to_svg(spec, vl_version=VEGA_LITE_VERSION), description)


def _embeddable(svg: str, description: str) -> str:
    """Vega's SVG with its fixed size replaced by `width="100%"` on the `viewBox`, an
    accessible name, and no ARIA roles on the marks inside. (These charts have no clips or
    gradients, so no ids that two charts on one page could share; tests/web/test_charts.py
    checks that stays so.)"""
    root = _ROOT.search(svg)
    viewbox = _VIEWBOX.search(root.group(0)) if root else None
    if root is None or viewbox is None:
        raise ValueError("vl-convert returned no SVG root with a viewBox")
    label = html.escape(description, quote=True)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{viewbox.group(1)}" width="100%" '
        f'role="img" aria-label="{label}" class="chart"><title>{label}</title>'
        + _MARK_ARIA.sub("", svg[root.end() :])
    )


# The icons are drawn on Making Data Count's own 378-unit grid (NHSRplotthedots'
# inst/icons): a ring in the icon's colour, a letter, and a little series of dots (variation)
# or a process line against a dashed target (assurance). Their drop shadows are left out.
_ICON_RING = '<circle cx="189" cy="189" r="151" fill="#fff" stroke="{0}" stroke-width="20"/>'
_ICON_LETTER = (
    '<text x="{x}" y="{y}" fill="{colour}" font-family="Arial, Helvetica, sans-serif" '
    'font-weight="700" font-size="117">{letter}</text>'
)
_DOTS = {
    "high": ((97, 210.5), (144, 229), (191.5, 210.5), (238.5, 165), (286, 180)),
    "low": ((97, 168.5), (144, 150), (191.5, 168.5), (238.5, 214), (286, 199)),
    "common": ((97, 195), (144, 233), (191.5, 153.5), (238.5, 221.5), (286, 206.5)),
}
_NEUTRAL_ARROW = {
    "high": "M103.7 242.2 180 165.9 151.7 137.6 258.3 119.7 240.4 226.2 212.1 197.9 135.7 274.3Z",
    "low": "M135.7 103.7 212.1 180 240.4 151.7 258.3 258.3 151.7 240.4 180 212.1 103.7 135.7Z",
}
_PROCESS_LINE = (
    "M72.5 238.8C89 218.2 107.7 200.8 129.6 200.5 152.1 201.5 176.6 238.7 192.6 241.3 "
    "206.3 244.1 205.9 217.7 212.8 216.7 217.6 215.4 220.2 238.2 233.1 240.5 248.6 243.8 "
    "291.6 234.4 302.5 236.2"
)

_VARIATIONS: dict[Variation, tuple[str, str]] = {
    "common_cause": (COMMON_CAUSE, "Common cause variation: no significant change"),
    "improvement_high": (
        IMPROVEMENT,
        "Special cause variation of an improving nature: the measure is significantly high",
    ),
    "improvement_low": (
        IMPROVEMENT,
        "Special cause variation of an improving nature: the measure is significantly low",
    ),
    "concern_high": (
        CONCERN,
        "Special cause variation of a concerning nature: the measure is significantly high",
    ),
    "concern_low": (
        CONCERN,
        "Special cause variation of a concerning nature: the measure is significantly low",
    ),
    "neutral_high": (
        NEUTRAL,
        "Special cause variation of a neutral nature: the measure is significantly high",
    ),
    "neutral_low": (
        NEUTRAL,
        "Special cause variation of a neutral nature: the measure is significantly low",
    ),
}
_ASSURANCES: dict[Assurance, tuple[str, str, float, str]] = {
    # colour, letter, the target line's height, words
    "consistent_pass": (
        IMPROVEMENT,
        "P",
        257.5,
        "Assurance: the process limits are on the passing side of the target, so it will "
        "consistently be met",
    ),
    "consistent_fail": (
        CONCERN,
        "F",
        185.5,
        "Assurance: the process limits are on the failing side of the target, so it will "
        "consistently be missed unless something changes",
    ),
    "inconsistent": (
        COMMON_CAUSE,
        "?",
        222.5,
        "Assurance: the target lies between the process limits, so it will be met or missed "
        "by random variation",
    ),
}
_DIRECTIONS: dict[SpcDirection | MetricDirection, str] = {
    "increase": "higher is better",
    "higher_is_better": "higher is better",
    "decrease": "lower is better",
    "lower_is_better": "lower is better",
    "neutral": "neither higher nor lower is better",
}


def variation_icon(
    variation: Variation | None, direction: SpcDirection | MetricDirection | None
) -> str:
    """Making Data Count's variation icon for a series' `variation` (null: SPC could not be
    computed, an empty ring); ``direction`` (the series' improvement direction or the metric's)
    is said in the label."""
    if variation is None:
        return _icon("No variation icon: there is not enough data for SPC", COMMON_CAUSE, "")
    colour, words = _VARIATIONS[variation]
    if direction is not None:
        words += f" ({_DIRECTIONS[direction]})"
    side = "low" if variation.endswith("_low") else "high"
    if variation.startswith("neutral"):
        return _icon(words, colour, f'<path d="{_NEUTRAL_ARROW[side]}" fill="{colour}"/>')
    if variation == "common_cause":
        return _icon(words, colour, _dot_series(_DOTS["common"], COMMON_CAUSE))
    letter = _ICON_LETTER.format(
        x=106, y=172 if side == "high" else 292, colour=colour, letter=side[0].upper()
    )
    return _icon(words, colour, letter + _dot_series(_DOTS[side], colour))


def assurance_icon(assurance: Assurance | None) -> str:
    """Making Data Count's assurance icon (null: no target, or a neutral measure, an empty
    ring)."""
    if assurance is None:
        return _icon("No assurance icon: there is no target to assure", COMMON_CAUSE, "")
    colour, letter, target_y, words = _ASSURANCES[assurance]
    body = (
        _ICON_LETTER.format(x=156, y=158, colour=colour, letter=letter)
        + f'<path d="M38.5 {target_y}H340.9" stroke="{colour}" stroke-width="8.7" '
        'stroke-dasharray="26 8.7" fill="none"/>'
        f'<path d="{_PROCESS_LINE}" stroke="{COMMON_CAUSE}" stroke-width="10.7" fill="none"/>'
    )
    return _icon(words, colour, body)


def _dot_series(dots: Sequence[tuple[float, float]], last_colour: str) -> str:
    """The grey line of five dots, the last two in ``last_colour`` (the special cause)."""
    line = " ".join(f"{x} {y}" for x, y in dots)
    circles = "".join(
        f'<circle cx="{x}" cy="{y}" r="21" fill="{last_colour if i >= 3 else COMMON_CAUSE}"/>'
        for i, (x, y) in enumerate(dots)
    )
    return f'<path d="M{line}" stroke="{COMMON_CAUSE}" stroke-width="9" fill="none"/>' + circles


def _icon(words: str, colour: str, body: str) -> str:
    label = html.escape(words, quote=True)
    # Sized in em, so an icon follows the text it sits in; the viewBox lets a page resize it.
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 378 378" width="2.5em" '
        f'height="2.5em" role="img" aria-label="{label}" class="mdc-icon"><title>{label}</title>'
        + _ICON_RING.format(colour)
        + body
        + "</svg>"
    )
