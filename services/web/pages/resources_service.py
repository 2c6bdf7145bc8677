"""The resources behind a plan on its page (the partial _plan_resources.html): each year's
contributions and planned spend, and planned spend against spend to date by scheme, as a chart
and a table with its CSV. Everything comes from the plan's ``resources`` (targets_api)."""

import asyncio
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from services.web import charts
from services.web.tables import Row, Table, columns, number, percent, words


@dataclass
class ResourcesView:
    totals: list[dict[str, Any]]  # per financial year: contributions, planned and actual spend
    chart: Markup
    tables: list[Table]


def _spend(rows: list[dict[str, Any]]) -> Table:
    keys = (
        "financial_year",
        "scheme",
        "planned_gbp",
        "actual_gbp",
        "actual_to",
        "variance_gbp",
        "spent_share",
        "below_plan",
    )
    return Table(
        "spend",
        "Planned spend against spend to date, by financial year and scheme",
        columns(
            ("financial_year", "Financial year"),
            ("scheme", "Scheme"),
            ("planned_gbp", "Planned (GBP)", True),
            ("actual_gbp", "Spent to date (GBP)", True),
            ("actual_to", "To"),
            ("variance_gbp", "Difference (GBP)", True),
            ("spent_share", "Share spent", True),
            ("below_plan", "Below plan"),
        ),
        [
            Row(
                values={key: r[key] for key in keys},
                shown={
                    "scheme": words(r["scheme"]),
                    "planned_gbp": number(r["planned_gbp"], 0),
                    "actual_gbp": number(r["actual_gbp"], 0),
                    "variance_gbp": number(r["variance_gbp"], 0),
                    "spent_share": percent(r["spent_share"]),
                    "below_plan": "yes" if r["below_plan"] else "",
                },
            )
            for r in rows
        ],
        empty="The plan sets no spend and none has been reported.",
    )


async def resources_view(resources: dict[str, Any]) -> ResourcesView:
    # Rendering is CPU work in vl-convert: off the event loop, as the place's charts are.
    svg = await asyncio.to_thread(
        charts.spend_chart, resources["spend"], title="Planned spend and spend to date"
    )
    return ResourcesView(
        totals=resources["totals"], chart=Markup(svg), tables=[_spend(resources["spend"])]
    )
