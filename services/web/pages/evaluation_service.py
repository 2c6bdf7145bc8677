"""The evaluation page: targets_api's estimate of a metric's change after places' leaders were
confirmed or their governance adopted, per group, with an event-study chart per group."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from services.web import charts
from services.web.api import Caller, Peer
from services.web.pages import catalogue
from services.web.tables import Row, Table, columns, number, words

EVENTS = (("governance_adopted", "Governance adopted"), ("leader_confirmed", "Leader confirmed"))
GROUPINGS = (
    ("governance_model", "Governance model"),
    ("joint_appointment", "Joint appointment or not"),
    ("none", "All places together"),
)


@dataclass(frozen=True)
class Choice:
    metric_code: str | None  # None: the first national measure by name
    event: str
    by: str


@dataclass
class EvaluationPage:
    choice: Choice
    metrics: list[dict[str, Any]]  # the national metrics, for the form
    evaluation: dict[str, Any]
    crumbs: catalogue.Crumbs
    tables: list[Table]
    charts: list[tuple[dict[str, Any], Markup]] = field(default_factory=list)


async def evaluation_page(api: Caller, asked: Choice, *, with_charts: bool) -> EvaluationPage:
    metrics = sorted(
        (m for m in (await catalogue.metrics_by_code(api)).values() if m["scope"] == "national"),
        key=lambda m: m["name"],
    )
    choice = Choice(asked.metric_code or metrics[0]["code"], asked.event, asked.by)
    evaluation = await api.get(
        Peer.targets_api,
        "/v1/evaluation",
        metric_code=choice.metric_code,
        event=choice.event,
        by=choice.by,
    )
    metric = next((m for m in metrics if m["code"] == choice.metric_code), None)
    decimals = metric["decimals"] if metric else None
    page = EvaluationPage(
        choice=choice,
        metrics=metrics,
        evaluation=evaluation,
        crumbs=[*await catalogue.england_crumb(api), ("Evaluation", None)],
        tables=[_groups(evaluation, decimals), _estimates(evaluation, decimals)],
    )
    if with_charts:
        unit = metric["unit"] if metric else ""
        name = metric["name"] if metric else choice.metric_code
        for group in evaluation["groups"]:
            title = f"{name}: {words(group['group'])}"
            # vl-convert's rendering is CPU work: off the event loop.
            svg = await asyncio.to_thread(charts.event_study_chart, group, title=title, unit=unit)
            page.charts.append((group, Markup(svg)))
    return page


def _interval(effect: dict[str, Any] | None, decimals: int | None) -> str:
    if effect is None:
        return "—"
    return f"{number(effect['ci_lower'], decimals)} to {number(effect['ci_upper'], decimals)}"


def _groups(evaluation: dict[str, Any], decimals: int | None) -> Table:
    return Table(
        "groups",
        "The average change after the event, per group",
        columns(
            ("group", "Group"),
            ("treated_places", "Treated places", True),
            ("control_places", "Control places", True),
            ("estimate", "Average change", True),
            ("interval", "95 % interval"),
            ("reading", "Reading"),
            ("pretrend_p_value", "Pre-trend p", True),
            ("note", "Refused or warned"),
        ),
        csv_columns=columns(
            ("group", "Group"),
            ("treated_places", "Treated places", True),
            ("control_places", "Control places", True),
            ("estimate", "Average change", True),
            ("ci_lower", "Lower", True),
            ("ci_upper", "Upper", True),
            ("reading", "Reading"),
            ("pretrend_p_value", "Pre-trend p", True),
            ("note", "Refused or warned"),
        ),
        rows=[
            Row(
                values={
                    "group": g["group"],
                    "treated_places": g["treated_places"],
                    "control_places": g["control_places"],
                    "estimate": (g["average"] or {}).get("estimate"),
                    "ci_lower": (g["average"] or {}).get("ci_lower"),
                    "ci_upper": (g["average"] or {}).get("ci_upper"),
                    "interval": _interval(g["average"], decimals),
                    "reading": g["reading"],
                    "pretrend_p_value": g["pretrend_p_value"],
                    "note": g["refused"] or " ".join(g["warnings"]) or None,
                },
                shown={
                    "group": words(g["group"]),
                    "estimate": number((g["average"] or {}).get("estimate"), decimals),
                    "pretrend_p_value": number(g["pretrend_p_value"], 3),
                    "reading": g["reading"] or "not estimated",
                },
            )
            for g in evaluation["groups"]
        ],
        key="group",
    )


def _estimates(evaluation: dict[str, Any], decimals: int | None) -> Table:
    return Table(
        "estimates",
        "Each period's estimate before and after the event",
        columns(
            ("group", "Group"),
            ("k", "Periods since the event", True),
            ("estimate", "Estimate", True),
            ("interval", "95 % interval"),
            ("places", "Places", True),
        ),
        csv_columns=columns(
            ("group", "Group"),
            ("k", "Periods since the event", True),
            ("estimate", "Estimate", True),
            ("ci_lower", "Lower", True),
            ("ci_upper", "Upper", True),
            ("places", "Places", True),
        ),
        rows=[
            Row(
                values={
                    "group": g["group"],
                    "k": e["k"],
                    "estimate": e["estimate"],
                    "ci_lower": e["ci_lower"],
                    "ci_upper": e["ci_upper"],
                    "interval": _interval(e, decimals),
                    "places": e["places"],
                },
                shown={"group": words(g["group"]), "estimate": number(e["estimate"], decimals)},
            )
            for g in evaluation["groups"]
            for e in [*g["pre_periods"], *g["effects"]]
        ],
    )
