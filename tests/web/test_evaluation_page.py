"""The evaluation page in Chromium against the real services on the demo's data: it renders
cleanly (no console error, no serious accessibility violation), its figures are the API's, and
its tables download as CSV."""

import csv
import io

import pytest

from services.web.tables import number
from tests.web.conftest import NATIONAL_METRIC, Visitor

pytestmark = pytest.mark.e2e

PARAMS = {"metric_code": NATIONAL_METRIC, "event": "governance_adopted", "by": "governance_model"}
QUERY = "&".join(f"{k}={v}" for k, v in PARAMS.items())


def test_the_evaluation_page_shows_the_apis_estimates_per_group(visitor: Visitor):
    suite = visitor.suite
    visitor.sign_in(suite.keys.viewer)
    visitor.page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Evaluation"
    ).click()
    visitor.seen("evaluation-default")

    answer = suite.api("targets_api", "/v1/evaluation", **PARAMS)
    metric = suite.api("metrics_api", f"/v1/metrics/{NATIONAL_METRIC}")
    page = visitor.open(f"/evaluation?{QUERY}", "evaluation")
    assert answer["groups"]  # the demo's places adopted models
    for group in answer["groups"]:
        row = group["group"]
        average = group["average"] or {}
        assert visitor.cell("groups", row, "estimate") == number(
            average.get("estimate"), metric["decimals"]
        )
        assert visitor.cell("groups", row, "reading") == (group["reading"] or "not estimated")
        if not group["estimable"]:
            assert visitor.cell("groups", row, "note") == group["refused"]
    # A chart per group: the event study, or what stopped it.
    assert page.locator("figure.chart svg").count() == len(answer["groups"])
    # The form names what is shown.
    assert page.get_by_label("Measure", exact=True).input_value() == NATIONAL_METRIC
    assert page.get_by_label("Groups", exact=True).input_value() == "governance_model"

    download = visitor.page.request.get(f"{visitor.base}/evaluation/tables/groups.csv?{QUERY}")
    assert download.status == 200
    rows = list(csv.DictReader(io.StringIO(download.text())))
    assert [r["group"] for r in rows] == [g["group"] for g in answer["groups"]]
    assert [r["reading"] for r in rows] == [g["reading"] or "" for g in answer["groups"]]


def test_the_form_asks_again_with_the_choice(visitor: Visitor):
    visitor.sign_in(visitor.suite.keys.viewer)
    page = visitor.open("/evaluation", "evaluation-form")
    page.get_by_label("Event", exact=True).select_option("leader_confirmed")
    page.get_by_label("Groups", exact=True).select_option("joint_appointment")
    page.get_by_role("button", name="Estimate").click()
    page.wait_for_load_state()
    assert "by=joint_appointment" in page.url and "event=leader_confirmed" in page.url
    visitor.seen("evaluation-joint")
