"""A place's scorecard: its leader and their history, its plans and the agreement of the one in
force (who approved, when), each target's latest, expected and target values, status and SPC
chart, and how complete its returns are."""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from services.common.periods import Periodicity, containing, england_today, shift
from services.web import charts
from services.web.api import Caller, Peer, bounded
from services.web.pages import catalogue, icons
from services.web.pages.plans_service import decisions
from services.web.tables import Row, Table, columns, moment, number, words

# The returns the scorecard counts: the twelve months before this one (and the quarters and
# years that end within them).
COMPLETENESS_MONTHS = 12


@dataclass(frozen=True)
class Chart:
    metric_code: str
    title: str
    svg: Markup


@dataclass
class Scorecard:
    area: dict[str, Any]
    lineage: list[dict[str, Any]]  # England first, the place last
    crumbs: catalogue.Crumbs
    profile: dict[str, Any]
    progress: dict[str, Any]
    plan: dict[str, Any] | None
    completeness: dict[str, Any]
    tables: list[Table]
    charts: list[Chart] = field(default_factory=list)

    @property
    def organisations(self) -> dict[str, str]:
        return catalogue.organisation_names(self.lineage)


def completeness_window() -> tuple[str, str]:
    this_month = containing(Periodicity.monthly, england_today())
    return shift(this_month, -COMPLETENESS_MONTHS).code, shift(this_month, -1).code


def _targets(progress: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> Table:
    rows = []
    for item in progress["items"]:
        decimals = item["decimals"]
        direction = metrics.get(item["metric_code"], {}).get("direction", "neutral")
        figures = (
            "latest_value",
            "baseline_value",
            "expected_value",
            "target_value",
            "forecast_value",
            "national_value",
        )
        rows.append(
            Row(
                values={
                    key: item[key]
                    for key in (
                        "metric_code",
                        "metric_name",
                        "unit",
                        "latest_period",
                        "provisional",
                        *figures,
                        "target_period",
                        "progress_pct",
                        "status",
                        "variation",
                        "assurance",
                        "trend",
                        "comparison",
                        "rank",
                        "rank_of",
                    )
                },
                shown={
                    **{key: number(item[key], decimals) for key in figures},
                    "progress_pct": number(item["progress_pct"], 0),
                    "status": words(item["status"]),
                    "variation": icons.variation(item["variation"], direction),
                    "assurance": icons.assurance(item["assurance"]),
                    "trend": words(item["trend"]),
                    "comparison": words(item["comparison"]),
                    "provisional": "provisional" if item["provisional"] else "",
                },
                links={"metric_name": f"/metrics/{item['metric_code']}"},
                css={"status": f"status-{item['status']}"},
            )
        )
    return Table(
        "targets",
        "Each target: latest, expected and target values and status",
        columns(
            ("metric_name", "Measure"),
            ("latest_period", "Latest period"),
            ("provisional", "Note"),
            ("latest_value", "Latest", True),
            ("expected_value", "Expected", True),
            ("target_value", "Target", True),
            ("target_period", "Target period"),
            ("status", "Status"),
            ("variation", "Variation"),
            ("assurance", "Assurance"),
            ("forecast_value", "Forecast", True),
            ("national_value", "England", True),
            ("comparison", "Compared with England"),
            ("rank", "Rank", True),
            ("rank_of", "Of", True),
        ),
        rows,
        empty="No agreed plan, so no targets yet.",
        key="metric_code",
        csv_columns=columns(*((key, key) for key in rows[0].values) if rows else ()),
    )


def _leaders(leaders: list[dict[str, Any]]) -> Table:
    keys = ("name", "role", "organisation", "appointed_on", "ended_on", "joint_appointment")
    return Table(
        "leaders",
        "Leaders, newest first",
        columns(
            ("name", "Name"),
            ("role", "Role"),
            ("organisation", "Organisation"),
            ("appointed_on", "Appointed"),
            ("ended_on", "Ended"),
            ("joint_appointment", "Joint appointment"),
        ),
        [
            Row(
                values={key: leader[key] for key in keys},
                shown={"joint_appointment": "yes" if leader["joint_appointment"] else "no"},
            )
            for leader in leaders
        ],
        empty="No leader has been appointed.",
    )


def _plans(plans: list[dict[str, Any]]) -> Table:
    keys = ("id", "title", "revision", "status", "starts_on", "ends_on", "agreed_at")
    return Table(
        "plans",
        "Plans, newest first",
        columns(
            ("title", "Plan"),
            ("revision", "Revision", True),
            ("status", "Status"),
            ("starts_on", "Starts"),
            ("ends_on", "Ends"),
            ("agreed_at", "Agreed"),
        ),
        [
            Row(
                values={key: plan[key] for key in keys},
                shown={"agreed_at": moment(plan["agreed_at"])},
                links={"title": f"/plans/{plan['id']}"},
            )
            for plan in plans
        ],
        empty="No plan yet.",
        key="id",
    )


def completeness_table(completeness: dict[str, Any], metrics: dict[str, dict[str, Any]]) -> Table:
    keys = ("expected", "received", "on_time", "late", "missing", "pending")
    return Table(
        "completeness",
        f"Returns due from {completeness['from']} to {completeness['to']}",
        columns(
            ("metric_name", "Measure"),
            ("periodicity", "Periodicity"),
            *((key, words(key).capitalize(), True) for key in keys),
            ("missing_periods", "Missing periods"),
        ),
        [
            Row(
                values={
                    "metric_code": row["metric_code"],
                    "metric_name": metrics.get(row["metric_code"], {}).get(
                        "name", row["metric_code"]
                    ),
                    "periodicity": row["periodicity"],
                    **{key: row[key] for key in keys},
                    "missing_periods": " ".join(row["missing_periods"]) or None,
                },
                shown={"missing_periods": " ".join(row["missing_periods"])},
            )
            for row in completeness["data"]
        ],
        empty="No returns were due in this window.",
        key="metric_code",
        csv_columns=columns(
            ("metric_code", "metric_code"),
            ("periodicity", "periodicity"),
            *((key, key) for key in keys),
            ("missing_periods", "missing_periods"),
        ),
    )


async def _chart(
    api: Caller, place_code: str, item: dict[str, Any], plan: dict[str, Any] | None
) -> Chart:
    series = await api.get(
        Peer.targets_api, f"/v1/places/{place_code}/progress/{item['metric_code']}"
    )
    target = next(
        (t for t in (plan or {}).get("targets", []) if t["metric_code"] == item["metric_code"]),
        None,
    )
    forecast = (
        {"period": item["target_period"], "value": item["forecast_value"]}
        if item["forecast_value"] is not None
        else None
    )
    # Rendering is CPU work in vl-convert (tenths of a second): off the event loop, so other
    # pages are served meanwhile.
    svg = await asyncio.to_thread(
        charts.spc_chart,
        series,
        trajectory=target["trajectory"] if target else (),
        forecast=forecast,
        title=item["metric_name"],
    )
    return Chart(item["metric_code"], item["metric_name"], Markup(svg))


async def scorecard(api: Caller, code: str, *, with_charts: bool) -> Scorecard:
    area = await catalogue.area(api, code)
    profile = await api.get(Peer.targets_api, f"/v1/places/{code}")
    progress = await api.get(Peer.targets_api, f"/v1/places/{code}/progress")
    plan_id = progress["plan_id"] or profile["current_agreed_plan_id"]
    plan = await api.get(Peer.targets_api, f"/v1/plans/{plan_id}") if plan_id else None
    leaders = await api.get_all(Peer.targets_api, f"/v1/places/{code}/leaders")
    plans = await api.get_all(Peer.targets_api, f"/v1/places/{code}/plans")
    first, last = completeness_window()
    window = {"from": first, "to": last}  # "from" is a Python word, not a keyword argument
    completeness = await api.get(Peer.ingest, "/v1/completeness", area=code, **window)
    metrics = await catalogue.metrics_by_code(api)
    lineage = await catalogue.lineage(api, area)
    names = catalogue.organisation_names(lineage)
    card = Scorecard(
        area=area,
        lineage=lineage,
        crumbs=catalogue.crumbs_of(lineage),
        profile=profile,
        progress=progress,
        plan=plan,
        completeness=completeness,
        tables=[
            _targets(progress, metrics),
            _leaders(leaders),
            _plans(plans),
            decisions(plan["approvals"] if plan else [], names, name="approvals"),
            completeness_table(completeness, metrics),
        ],
    )
    if with_charts:
        card.charts = await bounded(_chart(api, code, item, plan) for item in progress["items"])
    return card
