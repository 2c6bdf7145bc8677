"""A plan's page shows the resources behind it (the partial _plan_resources.html) from the
demo's data on the real services, in Chromium: each year's contributions and planned spend,
the planned-against-spent chart, and the table with its CSV."""

import csv
import io

import pytest

from tests.web.conftest import HALTON, Visitor

pytestmark = pytest.mark.e2e


def test_a_plan_s_page_shows_planned_spend_against_spend_to_date(visitor: Visitor):
    suite = visitor.suite
    visitor.sign_in(suite.keys.assessor)
    plan_id = suite.proposed[HALTON]  # a revision of the agreed plan: it carries its resources
    resources = suite.api("targets_api", f"/v1/plans/{plan_id}/resources")
    assert resources["contributions"] and any(r["actual_gbp"] for r in resources["spend"])

    page = visitor.open(f"/plans/{plan_id}", "plan-resources")
    section = page.locator("#plan-resources")
    summary = section.locator("dl.facts").inner_text()
    for year in resources["totals"]:
        assert f"{year['contributed_gbp']:,.0f} GBP contributed" in summary, year
    chart = section.locator("#chart-spend svg")
    assert chart.count() == 1
    below = sum(r["below_plan"] for r in resources["spend"])
    assert f"{below} ended below plan" in (chart.get_attribute("aria-label") or "")
    assert section.locator("#spend tbody tr").count() == len(resources["spend"])

    download = page.request.get(f"{visitor.base}/plans/{plan_id}/tables/spend.csv")
    assert download.ok and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text())))
    assert [(r["financial_year"], r["scheme"]) for r in rows] == [
        (r["financial_year"], r["scheme"]) for r in resources["spend"]
    ]
    assert [float(r["planned_gbp"]) for r in rows] == [r["planned_gbp"] for r in resources["spend"]]
