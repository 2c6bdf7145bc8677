"""The web pages' charts of what targets_api serves: its series and league table after a
refresh, rendered by services/web/charts.py and read back as SVG."""

import re

from services.common import periods
from services.web import charts
from tests.support.areas import BRADFORD, CORNWALL, LEEDS
from tests.support.svg import assert_embeddable, axis_labels, marks, parse, translation
from tests.targets_api.progress_support import refresh, store_observations

DISCHARGE = "bcf-discharge-usual-residence"  # a national monthly proportion
# Nearly two years: common cause, with one collapse below the lower limit (special cause
# concern) and one peak above the upper (special cause improvement).
VALUES = [70, 73, 68, 72, 69, 74, 67, 71, 70, 72, 69, 73, 50, 71, 72, 95, 70, 69, 72, 71, 73, 70]


def observations(place, values, first="2024-01"):
    """A monthly proportion's rows as ingest stores them, each out of 1,000 discharges."""
    start = periods.parse(first)
    return [
        (place, DISCHARGE, periods.shift(start, i).code, v, int(v * 10), 1000)
        for i, v in enumerate(values)
    ]


async def test_charts_of_what_targets_api_answers(client, admin, query):
    """The series and the league table as targets_api serves them after a refresh."""
    store_observations(
        query,
        observations(LEEDS, VALUES)
        + observations(BRADFORD, [80.0], first="2025-10")
        + observations(CORNWALL, [95.0], first="2025-10"),
    )
    await refresh(client, admin)
    series = (await client.get(f"/v1/places/{LEEDS}/progress/{DISCHARGE}", headers=admin)).json()
    assert len(series["points"]) == len(VALUES)
    svg = charts.spc_chart(series, title="Leeds: discharges to usual place of residence")
    assert_embeddable(svg)
    colours = {
        "common_cause": charts.COMMON_CAUSE,
        "special_cause_improvement": charts.IMPROVEMENT,
        "special_cause_concern": charts.CONCERN,
    }
    dots = marks(parse(svg), "spc_points")
    assert [d.get("stroke") for d in dots] == [colours[p["point_type"]] for p in series["points"]]
    assert {charts.IMPROVEMENT, charts.CONCERN} <= {d.get("stroke") for d in dots}

    table = await client.get(
        f"/v1/metrics/{DISCHARGE}/league-table",
        params={"level": "place", "period": "2025-10"},
        headers=admin,
    )
    assert table.status_code == 200, table.text
    body = table.json()
    svg = charts.league_chart(body, title="Discharges, 2025-10")
    assert_embeddable(svg)
    root = parse(svg)
    assert len(marks(root, "areas")) == body["count"] == 3
    assert len(marks(root, "intervals")) == 3  # a proportion: every place has its interval
    assert len(marks(root, "england")) == 1
    ranked = sorted(body["data"], key=lambda r: r["rank"])
    names = [t.text for t in sorted(axis_labels(root), key=lambda t: translation(t)[1])]
    assert [n for n in names if not re.match(r"[\d.]+$", n)] == [r["area_name"] for r in ranked]
