"""The web app end to end, in Chromium, against the real services on demo data."""

import csv
import io
import re

import httpx
import pytest

from services.common.periods import england_today, parse, shift
from services.web.pages.places_service import completeness_window
from services.web.tables import MISSING, number, words
from tests.support.clients import bearer
from tests.web.conftest import (
    CHESHIRE_EAST,
    HALTON,
    ICB,
    NATIONAL_METRIC,
    REGION,
    SEFTON,
    Visitor,
    WebSuite,
)

pytestmark = pytest.mark.e2e


def test_an_assessor_signs_in_and_every_page_renders_cleanly(visitor: Visitor):
    """Every page: 200, no console error, no serious accessibility violation, a screenshot."""
    suite = visitor.suite
    visitor.page.goto(f"{visitor.base}/")
    assert visitor.page.url.endswith("/sign-in")  # not signed in yet
    visitor.seen("sign-in")
    visitor.sign_in(suite.keys.assessor)
    assert visitor.page.url.endswith("/areas/E92000001")
    visitor.seen("england")
    page = visitor.open(f"/areas/{REGION}", "region")
    # England -> region -> ICB -> place -> metric, by the links on the pages.
    page.get_by_role("link", name="NHS Cheshire and Merseyside Integrated Care Board").first.click()
    assert page.url.endswith(f"/areas/{ICB}")
    visitor.seen("icb")
    breadcrumbs = page.get_by_role("navigation", name="Breadcrumb")
    assert breadcrumbs.inner_text().split()[:1] == ["England"]
    page.locator("#matrix").get_by_role("link", name="Halton").click()
    assert page.url.endswith(f"/places/{HALTON}")
    visitor.seen("place")
    assert page.locator("figure.chart svg").count() >= 5  # an SPC chart per target
    page.locator("#targets").get_by_role("link").first.click()
    assert "/metrics/" in page.url
    visitor.seen("metric-places")
    visitor.open(f"/metrics/{NATIONAL_METRIC}?level=icb", "metric-icbs")
    visitor.open(f"/plans/{suite.proposed[HALTON]}", "plan-proposed")
    visitor.open("/approvals", "approvals-assessor")
    visitor.open("/areas/E99999999", "not-found", status=404)
    assert "E99999999" in visitor.page.inner_text("main")


def test_on_a_phone_the_scorecard_fits_the_screen(web_suite: WebSuite, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    visitor = Visitor(web_suite, context.new_page())
    visitor.sign_in(web_suite.keys.assessor)
    page = visitor.open(f"/places/{CHESHIRE_EAST}", "place-phone")
    # Wide tables scroll inside their own region; the page itself does not scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()


def test_the_numbers_on_the_pages_are_the_apis(visitor: Visitor):
    suite = visitor.suite
    visitor.sign_in(suite.keys.viewer)
    metrics = {m["code"]: m for m in suite.api("metrics_api", "/v1/metrics", limit=1000)["data"]}

    performance = suite.api("targets_api", f"/v1/areas/{ICB}/performance")
    visitor.open(f"/areas/{ICB}", "icb-viewer")
    for item in performance["metrics"]:
        decimals = metrics[item["metric_code"]]["decimals"]
        row = item["metric_code"]
        assert visitor.cell("measures", row, "value") == number(item["value"], decimals)
        assert visitor.cell("measures", row, "period") == item["period"]
        assert visitor.cell("measures", row, "places_reported") == str(item["places_reported"])
        assert visitor.cell("measures", row, "on_track") == str(item["status_counts"]["on_track"])
        for place in item["places"]:
            cell = visitor.cell("matrix", place["place_code"], item["metric_code"])
            assert cell.startswith(number(place["value"], decimals)), cell

    progress = suite.api("targets_api", f"/v1/places/{HALTON}/progress")
    assert progress["items"]
    visitor.open(f"/places/{HALTON}", "place-viewer")
    for item in progress["items"]:
        row = item["metric_code"]
        for key in ("latest_value", "expected_value", "target_value", "national_value"):
            assert visitor.cell("targets", row, key) == number(item[key], item["decimals"]), key
        assert visitor.cell("targets", row, "status") == item["status"].replace("_", " ")
        assert visitor.cell("targets", row, "target_period") == item["target_period"]

    league = suite.api(
        "targets_api", f"/v1/metrics/{NATIONAL_METRIC}/league-table", level="place", limit=1000
    )
    visitor.open(f"/metrics/{NATIONAL_METRIC}", "metric-viewer")
    decimals = metrics[NATIONAL_METRIC]["decimals"]
    assert league["data"]
    for row in league["data"]:
        assert visitor.cell("league-table", row["area_code"], "value") == number(
            row["value"], decimals
        )
        assert visitor.cell("league-table", row["area_code"], "rank") == str(row["rank"])

    # The CSV of a table holds the API's values at full precision, with the same session.
    download = visitor.page.request.get(
        f"{visitor.base}/metrics/{NATIONAL_METRIC}/tables/league-table.csv?level=place"
    )
    assert download.status == 200
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text())))
    assert [(r["area_code"], float(r["value"])) for r in rows] == [
        (r["area_code"], r["value"]) for r in league["data"]
    ]


def test_a_place_and_its_icb_approve_a_plan_and_its_page_then_says_agreed(visitor: Visitor):
    suite = visitor.suite
    plan_id = suite.proposed[HALTON]
    for key, organisation, shot in (
        (suite.keys.halton_signatory, HALTON, "approve-as-halton"),
        (suite.keys.icb_signatory, ICB, "approve-as-icb"),
    ):
        named = suite.api("metrics_api", f"/v1/areas/{organisation}")["name"]
        visitor.sign_in(key)
        assert visitor.page.url.endswith("/approvals")
        waiting = visitor.page.locator(f'#waiting tr[data-row="{plan_id}"]')
        assert waiting.count() == 1
        assert named in waiting.inner_text()  # the body decided for, by its name
        visitor.seen(f"approvals-{organisation}")
        waiting.locator('[data-key="title"] a').click()
        form = visitor.page.get_by_role("form", name=f"Decide for {named}")
        form.get_by_label("Your name, as signatory").fill("Pat Signatory")
        form.get_by_label("Comment").fill("Agreed at the board.")
        visitor.seen(shot)
        form.get_by_role("button", name="Approve").click()
        visitor.page.wait_for_url(re.compile(rf".*/plans/{plan_id}$"))
        decisions = visitor.page.locator("#decisions").inner_text()
        assert named in decisions and "Pat Signatory" in decisions
        visitor.sign_out()
    visitor.sign_in(suite.keys.viewer)
    visitor.open(f"/plans/{plan_id}", "plan-agreed")
    assert "Status: agreed" in visitor.page.locator("#plan-status").inner_text()
    api = suite.api("targets_api", f"/v1/plans/{plan_id}")
    assert api["status"] == "agreed"
    # The place's page says who agreed its plan in force, each body by its name.
    agreed_by = visitor.open(f"/places/{HALTON}").locator("dt:text-is('Agreed by') + dd")
    for code in (HALTON, ICB):
        named = suite.api("metrics_api", f"/v1/areas/{code}")["name"]
        assert f"Pat Signatory for {named}" in agreed_by.inner_text()


def test_a_viewer_sees_no_approve_button_and_the_api_refuses_it_anyway(visitor: Visitor):
    suite = visitor.suite
    plan_id = suite.proposed[CHESHIRE_EAST]
    visitor.sign_in(suite.keys.viewer)
    page = visitor.open(f"/plans/{plan_id}", "plan-as-viewer")
    assert page.get_by_role("button", name="Approve").count() == 0
    # Forged by hand with this session's own token: the page never offered it, and the API,
    # which is the authority, refuses the viewer's key.
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = page.request.post(
        f"{visitor.base}/plans/{plan_id}/decisions",
        form={
            "csrf_token": token or "",
            "organisation_code": CHESHIRE_EAST,
            "decision": "approve",
            "signatory": "Not Allowed",
        },
        headers={"Accept": "text/html"},
    )
    assert answer.status == 403
    assert "targets_api answered 403" in answer.text()
    assert suite.api("targets_api", f"/v1/plans/{plan_id}")["status"] == "proposed"


def test_a_forged_post_without_the_csrf_token_is_refused(visitor: Visitor):
    suite = visitor.suite
    plan_id = suite.proposed[CHESHIRE_EAST]
    visitor.sign_in(suite.keys.icb_signatory)
    page = visitor.open(f"/plans/{plan_id}", "plan-as-icb-signatory")
    assert page.get_by_role("button", name="Approve").count() == 1  # this key may decide
    body = {"organisation_code": ICB, "decision": "approve", "signatory": "Forger"}
    for form in (body, {**body, "csrf_token": "not-the-token"}):
        answer = page.request.post(
            f"{visitor.base}/plans/{plan_id}/decisions",
            form=form,
            headers={"Accept": "application/json"},
        )
        assert answer.status == 403
        assert answer.json()["type"].endswith("csrf-token-invalid")
    approvals = suite.api("targets_api", f"/v1/plans/{plan_id}")["approvals"]
    assert all(a["signatory"] != "Forger" for a in approvals)
    # Sign-out needs the token too, so another site cannot sign a person out either.
    assert page.request.post(f"{visitor.base}/sign-out").status == 403


def test_a_refusal_by_the_api_is_said_on_the_page(visitor: Visitor):
    """A submitter reads only the data of the places in its scope: another place's returns
    are refused by the API, and the page says so (the web app never widens access)."""
    visitor.sign_in(visitor.suite.keys.leeds_submitter)
    page = visitor.open(f"/places/{HALTON}", "refused", status=403)
    assert "ingest answered 403" in page.inner_text("main")
    assert page.locator("#targets").count() == 0


LEEDS = "E08000035"  # the submitter's place (West Yorkshire; no demo data of its own)
CSV_HEADER = "place_code,metric_code,period,value,numerator,denominator,note\n"
# The file's two months: ended, and inside the page's completeness window (the last twelve
# months), so that what is due changes with them.
_LAST_MONTH = parse(completeness_window()[1])
MONTHS = [shift(_LAST_MONTH, -n).code for n in (2, 1)]
GOOD_ROWS = "".join(
    f"{LEEDS},bcf-discharge-usual-residence,{month},,{905 + n},1001,\n"
    for n, month in enumerate(MONTHS)
)
BAD_ROW = f"{LEEDS},no-such-measure,2025-07,3,,,\n"


def _dry_run(suite: WebSuite, body: str) -> dict:
    """Ingest's own dry run of a file, as the page asks it (partial: every row counted)."""
    answer = httpx.post(
        f"{suite.apis['ingest'].url}/v1/submissions",
        params={"mode": "partial", "dry_run": "true"},
        content=body.encode(),
        headers={**bearer(suite.keys.leeds_submitter), "Content-Type": "text/csv"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def _check_file(visitor: Visitor, name: str, body: str) -> None:
    page = visitor.page
    page.get_by_label("CSV file").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": body.encode()}
    )
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_url(re.compile(rf".*/data/{LEEDS}#dry-run$"))


def test_a_file_with_a_bad_row_shows_that_rows_error(visitor: Visitor):
    suite = visitor.suite
    visitor.sign_in(suite.keys.leeds_submitter)
    visitor.page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Data returns"
    ).click()
    visitor.page.wait_for_url(re.compile(rf".*/data/{LEEDS}$"))
    visitor.seen("data-returns")
    body = CSV_HEADER + GOOD_ROWS.splitlines(keepends=True)[1] + BAD_ROW
    _check_file(visitor, "with-a-bad-row.csv", body)
    visitor.seen("data-dry-run")
    ingest = _dry_run(suite, body)
    assert ingest["accepted"] == 1 and ingest["rejected"] == 1, ingest
    page = visitor.page
    assert page.locator("#dry-accepted").inner_text() == str(ingest["accepted"])
    assert page.locator("#dry-rejected").inner_text() == str(ingest["rejected"])
    shown = [
        [cell.inner_text() for cell in row.locator("[data-key]").all()]
        for row in page.locator("#row-errors tbody tr").all()
    ]
    expected = [[str(e["row"]), e["field"], e["code"], e["msg"]] for e in ingest["errors"]]
    assert shown == expected and shown[0][:2] == ["2", "metric_code"], shown
    download = page.request.get(f"{visitor.base}/data/{LEEDS}/tables/row-errors.csv")
    assert download.status == 200
    rows = list(csv.DictReader(io.StringIO(download.text())))
    assert [[r["row"], r["field"], r["code"], r["msg"]] for r in rows] == expected
    # Checking stores nothing.
    assert suite.api("ingest", "/v1/submissions", suite.keys.leeds_submitter)["count"] == 0


def test_a_good_file_submitted_twice_is_stored_once_and_listed(visitor: Visitor):
    suite = visitor.suite
    submitter = suite.keys.leeds_submitter
    before = suite.api("ingest", "/v1/submissions", submitter, place_code=LEEDS)["count"]
    visitor.sign_in(submitter)
    visitor.open(f"/data/{LEEDS}", "data-before-submitting")
    body = CSV_HEADER + GOOD_ROWS
    _check_file(visitor, "good.csv", body)
    page = visitor.page
    assert "No row has an error." in page.inner_text("main")
    page.get_by_label("Atomic: all rows or none").check()
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(re.compile(rf".*/data/{LEEDS}#submitted$"))
    visitor.seen("data-submitted")
    # The same submission sent again (a double click, a retry): ingest answers as the first
    # time, because the page sends the upload's one Idempotency-Key.
    again = page.request.post(
        f"{visitor.base}/data/{LEEDS}/submissions",
        form={"csrf_token": token, "mode": "atomic"},
        headers={"Accept": "text/html"},
    )
    assert again.status == 200  # the page, after its redirect
    listed = suite.api("ingest", "/v1/submissions", submitter, place_code=LEEDS)
    assert listed["count"] == before + 1
    stored = listed["data"][0]  # newest first
    assert stored["accepted"] == 2 and stored["status"] == "accepted"
    status = page.locator("#submitted").inner_text()
    assert stored["id"] in status and "2 rows stored" in status
    visitor.open(f"/data/{LEEDS}", "data-after-submitting")
    for key in ("accepted", "rejected", "superseded", "unchanged", "status"):
        assert visitor.cell("submissions", stored["id"], key) == str(stored[key]), key
    # What is still due: the same numbers as ingest's completeness of the place.
    due = page.request.get(f"{visitor.base}/data/{LEEDS}/tables/completeness.csv")
    assert due.status == 200
    first, last = completeness_window()
    ingest = suite.api(
        "ingest", "/v1/completeness", submitter, area=LEEDS, to=last, **{"from": first}
    )
    figures = ("expected", "received", "on_time", "late", "missing")
    [discharge] = [r for r in ingest["data"] if r["metric_code"] == "bcf-discharge-usual-residence"]
    assert discharge["received"] == 2  # the file's two months
    assert [{k: int(r[k]) for k in figures} for r in csv.DictReader(io.StringIO(due.text()))] == [
        {k: r[k] for k in figures} for r in ingest["data"]
    ]


def test_a_viewer_has_no_upload_form_and_ingest_refuses_a_forged_one(visitor: Visitor):
    suite = visitor.suite
    visitor.sign_in(suite.keys.viewer)
    assert visitor.page.get_by_role("link", name="Data returns").count() == 0
    # An unscoped key is asked which place it means.
    page = visitor.open("/data", "data-choose-place")
    page.get_by_label("Place code").fill(LEEDS)
    page.get_by_role("button", name="Open").click()
    page.wait_for_url(re.compile(rf".*/data/{LEEDS}$"))
    visitor.seen("data-as-viewer")
    assert page.get_by_label("CSV file").count() == 0
    assert "ingest answered 403" in page.inner_text("main")  # its words, for the submissions
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
    answer = page.request.post(
        f"{visitor.base}/data/{LEEDS}/checks",
        multipart={
            "csrf_token": token,
            "file": {
                "name": "f.csv",
                "mimeType": "text/csv",
                "buffer": (CSV_HEADER + GOOD_ROWS).encode(),
            },
        },
        headers={"Accept": "text/html"},
    )
    assert answer.status == 403
    assert "ingest answered 403" in answer.text()


def test_the_session_cookie_holds_no_key_and_sign_out_ends_the_session(visitor: Visitor):
    suite = visitor.suite
    visitor.sign_in(suite.keys.assessor)
    [cookie] = visitor.page.context.cookies()
    assert cookie["name"] == "joinedup_session"
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["value"] not in suite.keys.all() and "jdu_" not in cookie["value"]
    visitor.sign_out()
    # The old session id is worth nothing now, even sent again by hand.
    after = httpx.get(
        f"{visitor.base}/areas/{ICB}",
        cookies={"joinedup_session": cookie["value"]},
        headers={"Accept": "text/html"},
    )
    assert after.status_code == 303 and after.headers["location"] == "/sign-in"


def test_a_revoked_or_unknown_key_cannot_sign_in(visitor: Visitor):
    visitor.page.goto(f"{visitor.base}/sign-in")
    visitor.page.get_by_label("API key").fill("jdu_000000000000_not-a-key")
    visitor.page.get_by_role("button", name="Sign in").click()
    assert visitor.page.url.endswith("/sign-in")
    assert "not valid or has been revoked" in visitor.page.inner_text("main")
    visitor.seen("sign-in-refused", status=401)


def test_the_keys_never_reach_the_log(visitor: Visitor):
    """(Every page shown is checked for the keys as it is shown: Visitor.seen.)"""
    suite = visitor.suite
    for key in (suite.keys.assessor, suite.keys.halton_signatory):
        visitor.sign_in(key)
        visitor.open(f"/places/{HALTON}", "place-for-the-log")
        visitor.sign_out()
    log = suite.web_log()
    assert f"GET /places/{HALTON}" in log and "POST /sign-in" in log  # requests are logged
    for secret in suite.keys.secrets():
        assert secret not in log


def test_the_web_answers_probes_and_problems_without_a_session(web_suite: WebSuite):
    web = web_suite.web.url
    assert httpx.get(f"{web}/readyz").json()["status"] == "ok"
    metrics = httpx.get(f"{web}/metrics")
    assert metrics.status_code == 200 and 'service="web"' in metrics.text
    not_signed_in = httpx.get(f"{web}/areas/{ICB}", headers={"Accept": "application/json"})
    assert not_signed_in.status_code == 401
    assert not_signed_in.headers["content-type"] == "application/problem+json"
    # /v1/me, which sign-in asks, tells a key who it is and nothing else.
    me = httpx.get(
        f"{web_suite.apis['targets_api'].url}/v1/me", headers=bearer(web_suite.keys.viewer)
    ).json()
    assert me["role"] == "viewer" and set(me) == {"id", "name", "role", "scopes"}


def _open_nomination(suite: WebSuite, place: str) -> dict:
    """The place's nomination waiting for answers: the demo's, or a new one from today."""
    with httpx.Client(
        base_url=suite.apis["targets_api"].url, headers=bearer(suite.keys.steward), timeout=30
    ) as client:
        waiting = client.get(
            f"/v1/places/{place}/leader-nominations", params={"status": "nominated"}
        ).json()["data"]
        if waiting:
            return waiting[0]
        nominated = client.post(
            f"/v1/places/{place}/leader-nominations",
            json={
                "name": "Jo Okafor",
                "role": "Place Director",
                "organisation": "Halton Borough Council and NHS Cheshire and Merseyside",
                "appointed_on": england_today().isoformat(),
                "joint_appointment": True,
            },
        )
        assert nominated.status_code == 201, nominated.text
        return nominated.json()


def test_both_signatories_confirm_a_leader_on_the_place_page(visitor: Visitor):
    suite = visitor.suite
    nomination = _open_nomination(suite, HALTON)
    name = nomination["name"]

    visitor.sign_in(suite.keys.viewer)
    page = visitor.open(f"/places/{HALTON}")
    assert f"Nomination waiting for an answer: {name}" in page.content()
    assert page.get_by_role("button", name="Confirm").count() == 0  # a viewer may not answer
    visitor.sign_out()

    for key, organisation in (
        (suite.keys.halton_signatory, HALTON),
        (suite.keys.icb_signatory, ICB),
    ):
        if organisation not in nomination["awaiting"]:
            continue  # the demo's own signatory answered already
        named = suite.api("metrics_api", f"/v1/areas/{organisation}")["name"]
        visitor.sign_in(key)
        # A signatory's work list names the nomination beside the plans, and the body by name.
        assert visitor.page.url.endswith("/approvals")
        listed = visitor.page.locator(f'#nominations tr[data-row="{nomination["id"]}"]')
        assert named in listed.inner_text()
        page = visitor.open(f"/places/{HALTON}")
        form = page.get_by_role("form", name=f"Confirm or decline {name} for {named}")
        # Only the forms of the body this key speaks for.
        assert page.get_by_role("button", name="Confirm").count() == 1
        forged = page.request.post(
            f"{visitor.base}/nominations/{nomination['id']}/decisions",
            form={"organisation_code": organisation, "decision": "decline", "signatory": "X"},
            headers={"Accept": "application/json"},
        )
        assert forged.status == 403 and forged.json()["type"].endswith("csrf-token-invalid")
        form.get_by_label("Your name, as signatory").fill("Pat Signatory")
        visitor.seen(f"nomination-{organisation}")
        form.get_by_role("button", name="Confirm").click()
        visitor.page.wait_for_url(re.compile(rf".*/places/{HALTON}#arrangements$"))
        visitor.sign_out()

    visitor.sign_in(suite.keys.viewer)
    page = visitor.open(f"/places/{HALTON}", "place-leader-confirmed")
    confirmation = page.locator("#leader-confirmation").inner_text()
    icb_name = suite.api("metrics_api", f"/v1/areas/{ICB}")["name"]
    assert name in confirmation and "Pat Signatory" in confirmation and icb_name in confirmation
    assert f"Nomination waiting for an answer: {name}" not in page.content()
    stored = suite.api("targets_api", f"/v1/leader-nominations/{nomination['id']}")
    assert stored["status"] == "confirmed"
    assert [d["decision"] for d in stored["decisions"]] == ["confirm", "confirm"]


def test_the_icb_and_england_pages_show_the_governance_roll_up(visitor: Visitor):
    suite = visitor.suite
    visitor.sign_in(suite.keys.assessor)
    for area in (ICB, "E92000001"):
        page = visitor.open(f"/areas/{area}", f"governance-{area}")
        rollup = suite.api("targets_api", f"/v1/areas/{area}/governance")
        summary = page.locator("#governance-rollup").inner_text()
        assert f"{rollup['with_model']} of {rollup['places']}" in summary
        shown = page.locator("#governance tbody tr")
        assert shown.count() == len(rollup["falling_short"])
        csv_text = page.request.get(f"{visitor.base}/areas/{area}/governance.csv").text()
        assert len(csv_text.strip().splitlines()) == len(rollup["falling_short"]) + 1


def _agreed_plan(suite: WebSuite, place: str) -> dict:
    [agreed] = suite.api("targets_api", f"/v1/places/{place}/plans", status="agreed")["data"]
    return suite.api("targets_api", f"/v1/plans/{agreed['id']}")


def test_a_steward_starts_a_draft_and_sets_a_target_with_the_api_s_errors_beside_the_fields(
    visitor: Visitor,
):
    suite = visitor.suite
    agreed = next(t for t in _agreed_plan(suite, SEFTON)["targets"])
    # The agreed plan's target is for 2027-Q1 (January to March 2027), before the new plan starts
    # on 2027-04-01: targets_api wants the target period inside the plan, so the new draft aims at
    # 2028-Q1, its last quarter, from the same baseline.
    assert agreed["target_period"] == "2027-Q1", agreed
    wanted = {**agreed, "target_period": "2028-Q1"}
    visitor.sign_in(suite.keys.steward)
    visitor.open(f"/places/{SEFTON}", "place-as-steward")
    visitor.page.locator("#new-plan").click()
    visitor.page.wait_for_url(re.compile(rf".*/places/{SEFTON}/plans/new$"))
    form = visitor.page.get_by_role("form", name="The plan")
    form.get_by_label("Title").fill("Sefton better care 2027")
    form.get_by_label("Starts on").fill("2027-04-01")
    form.get_by_label("Ends on").fill("2026-03-31")  # before it starts: the API says no
    form.get_by_role("button", name="Start the draft").click()
    # The refusal is the page the form posted to; wait for it before looking at it.
    visitor.page.wait_for_url(re.compile(rf".*/places/{SEFTON}/plans$"))
    visitor.seen("new-plan-refused", status=422)
    assert visitor.page.locator("#ends_on-error").count() == 1
    assert visitor.page.get_by_label("Title").input_value() == "Sefton better care 2027"
    visitor.page.get_by_label("Ends on").fill("2028-03-31")
    visitor.page.get_by_role("button", name="Start the draft").click()
    visitor.page.wait_for_url(re.compile(r".*/plans/\d+$"))
    plan_id = int(visitor.page.url.rsplit("/", 1)[1])
    assert "Status: draft" in visitor.page.locator("#plan-status").inner_text()

    new = visitor.page.get_by_role("form", name="Add a target")
    new.get_by_label("Measure").select_option(wanted["metric_code"])
    for name in ("baseline_period", "target_period"):
        new.locator(f'[name="{name}"]').fill(wanted[name])
    new.locator('[name="baseline_value"]').fill(str(wanted["baseline_value"]))
    new.locator('[name="target_value"]').fill(str(wanted["target_value"]))
    new.get_by_label("Trajectory").fill(f"{wanted['target_period']}: lots")
    new.get_by_role("button", name="Add the target").click()
    visitor.page.wait_for_url(re.compile(rf".*/plans/{plan_id}/targets$"))
    visitor.seen("target-refused", status=422)
    error = visitor.page.locator("#n-trajectory-error").inner_text()
    assert "point 1" in error
    assert suite.api("targets_api", f"/v1/plans/{plan_id}")["targets"] == []
    # Strictly between the baseline and the target: the agreed plan's first point is.
    points = wanted["trajectory"][:1]
    visitor.page.locator("#n-trajectory").fill(
        "\n".join(f"{p['period']}: {p['value']}" for p in points)
    )
    visitor.page.get_by_role("button", name="Add the target").click()
    visitor.page.wait_for_url(re.compile(rf".*/plans/{plan_id}#target-.*"))
    visitor.seen("draft-with-a-target")
    [stored] = suite.api("targets_api", f"/v1/plans/{plan_id}")["targets"]
    assert (stored["metric_code"], stored["target_value"], stored["trajectory"]) == (
        wanted["metric_code"],
        wanted["target_value"],
        points,
    )
    # One target is not a whole plan: the API names what is missing, and the page says it.
    visitor.page.get_by_role("button", name="Propose the plan").click()
    visitor.page.wait_for_url(re.compile(rf".*/plans/{plan_id}/submission$"))
    visitor.seen("propose-refused", status=422)
    assert "not proposed" in visitor.page.locator("#refused").inner_text()
    assert suite.api("targets_api", f"/v1/plans/{plan_id}")["status"] == "draft"


def test_a_steward_revises_an_agreed_plan_edits_a_target_and_proposes_it(visitor: Visitor):
    suite = visitor.suite
    agreed = _agreed_plan(suite, SEFTON)
    target = agreed["targets"][0]
    visitor.sign_in(suite.keys.steward)
    visitor.open(f"/plans/{agreed['id']}", "agreed-plan-as-steward")
    visitor.page.get_by_role("button", name="Start a revision").click()
    visitor.page.wait_for_url(re.compile(r".*/plans/\d+$"))
    revision_id = int(visitor.page.url.rsplit("/", 1)[1])
    assert revision_id != agreed["id"]
    form = visitor.page.locator(f"#target-{target['metric_code']}")
    changed = target["target_value"] + 1
    form.get_by_label("Target value").fill(str(changed))
    visitor.seen("revision-editing")
    form.get_by_role("button", name="Save the target").click()
    visitor.page.wait_for_url(re.compile(rf".*/plans/{revision_id}#target-.*"))
    visitor.page.get_by_role("button", name="Propose the plan").click()
    visitor.page.wait_for_url(re.compile(rf".*/plans/{revision_id}$"))
    visitor.seen("revision-proposed")
    assert "Status: proposed" in visitor.page.locator("#plan-status").inner_text()
    revision = suite.api("targets_api", f"/v1/plans/{revision_id}")
    assert revision["status"] == "proposed"
    edited = next(t for t in revision["targets"] if t["metric_code"] == target["metric_code"])
    assert edited["target_value"] == changed
    # The ICB's signatory now finds it on the work list.
    visitor.sign_out()
    visitor.sign_in(suite.keys.icb_signatory)
    assert visitor.page.locator(f'#waiting tr[data-row="{revision_id}"]').count() == 1


def test_a_viewer_gets_no_plan_forms_and_the_api_refuses_a_forged_one(visitor: Visitor):
    suite = visitor.suite
    visitor.sign_in(suite.keys.viewer)
    page = visitor.open(f"/places/{SEFTON}/plans/new", "new-plan-as-viewer")
    assert page.locator("#not-a-steward").count() == 1
    assert page.get_by_role("button", name="Start the draft").count() == 0
    before = suite.api("targets_api", f"/v1/places/{SEFTON}/plans")["count"]
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    answer = page.request.post(
        f"{visitor.base}/places/{SEFTON}/plans",
        form={
            "csrf_token": token or "",
            "title": "Not allowed",
            "starts_on": "2027-04-01",
            "ends_on": "2028-03-31",
        },
        headers={"Accept": "text/html"},
    )
    assert answer.status == 403
    assert "targets_api answered 403" in answer.text()
    assert suite.api("targets_api", f"/v1/places/{SEFTON}/plans")["count"] == before


def test_a_data_team_scoped_to_an_icb_chooses_among_its_places(visitor: Visitor):
    suite = visitor.suite
    visitor.sign_in(suite.keys.icb_submitter)
    page = visitor.open("/data", "data-choose-a-place")
    listed = page.locator("#places a").all_inner_texts()
    members = suite.api("metrics_api", "/v1/areas", level="place", parent=ICB, limit=1000)["data"]
    assert listed == sorted(p["name"] for p in members)
    page.get_by_role("link", name=next(p["name"] for p in members if p["code"] == SEFTON)).click()
    page.wait_for_url(re.compile(rf".*/data/{SEFTON}$"))
    visitor.seen("data-sefton-as-icb-submitter")


def test_anyone_reads_a_places_public_record_without_signing_in(visitor: Visitor):
    """From the sign-in page, with no key: England's public record, then a place's: its leader,
    its agreed plan (not the revision proposed beside it), its progress once closed, and its
    ICB's and England's roll-ups. The keyed pages stay closed."""
    suite = visitor.suite
    visitor.open("/sign-in")
    visitor.page.locator("#public-england").click()
    visitor.page.wait_for_url(re.compile(r".*/public/areas/E92000001$"))
    visitor.seen("public-england")
    visitor.page.locator(f'li[data-row="{HALTON}"] a').click()
    visitor.page.wait_for_url(re.compile(rf".*/public/places/{HALTON}$"))
    visitor.seen("public-halton")
    page = visitor.page
    profile = suite.api("targets_api", f"/v1/places/{HALTON}", suite.keys.viewer)
    leader = profile["current_leader"]
    assert f"{leader['name']}, {leader['role']}" in page.locator("#public-leader").inner_text()
    plan = _agreed_plan(suite, HALTON)
    plan_text = page.locator("#public-plan").inner_text()
    assert f"(revision {plan['revision']})" in plan_text
    # The revision proposed beside it (the suite's, unless a test has agreed it since: the
    # suite is shared and the order random) and any draft are not the public's.
    plans = suite.api("targets_api", f"/v1/places/{HALTON}/plans", suite.keys.viewer)["data"]
    for other in plans:
        if other["status"] in ("draft", "proposed"):
            assert f"(revision {other['revision']})" not in plan_text, other
    assert page.locator("#public-targets tbody tr").count() == len(plan["targets"])
    progress = suite.api("targets_api", f"/v1/places/{HALTON}/progress", suite.keys.viewer)
    for item in progress["items"]:
        status = visitor.cell("public-targets", item["metric_code"], "status")
        # An open period's status is the public's only once the period closes.
        assert status == (
            "Awaiting published figures" if item["provisional"] else words(item["status"])
        ), item
        # The latest value shown is the latest closed one, even while a later period is open.
        published = suite.api(
            "targets_api", f"/public/v1/places/{HALTON}/values/{item['metric_code']}"
        )["values"]
        latest = visitor.cell("public-targets", item["metric_code"], "latest")
        if published:
            last = published[-1]
            assert latest == f"{number(last['value'], item['decimals'])} ({last['period']})"
        else:
            assert latest == MISSING, item
    icb = suite.api("targets_api", f"/public/v1/areas/{ICB}/performance")
    shown = next(
        m
        for m in icb["metrics"]
        if m["period"] and m["metric_code"] in {t["metric_code"] for t in plan["targets"]}
    )
    assert visitor.cell("public-rollups", f"{ICB}-{shown['metric_code']}", "value") == number(
        shown["value"]
    )
    assert page.locator('#public-rollups tr[data-row^="E92000001-"]').count() > 0
    # Each target's published values are drawn as a chart, not shown as the chart's markup.
    for target in plan["targets"]:
        figure = page.locator(f"#public-chart-{target['metric_code']}")
        assert figure.locator("> svg[role=img]").count() == 1, target["metric_code"]
        assert "<svg" not in figure.inner_text()
    # Without a key every other page still asks to sign in.
    visitor.open(f"/places/{HALTON}")
    assert page.url.endswith("/sign-in")


def test_an_icb_signatory_acknowledges_a_place_s_escalation_on_the_icb_page(visitor: Visitor):
    """Shown on the place's page and the ICB's; only the ICB's key gets the answers."""
    suite = visitor.suite
    raised = httpx.post(
        f"{suite.apis['targets_api'].url}/v1/places/{HALTON}/escalations",
        json={"title": "Web: no reablement staff", "description": "Vacancies.", "ask": "Help."},
        headers=bearer(suite.keys.halton_signatory),
        timeout=30,
    )
    assert raised.status_code == 201, raised.text
    escalation = raised.json()
    card = f"#escalation-{escalation['id']}"

    # On the place's page, but the place's own key may not answer what it put to its ICB.
    visitor.sign_in(suite.keys.halton_signatory)
    page = visitor.open(f"/places/{HALTON}")
    shown = page.locator(card).inner_text()
    assert "Web: no reablement staff" in shown
    # The place and the addressee by name, and why it was raised.
    assert escalation["place_name"] in shown and escalation["addressed_to_name"] in shown
    assert "Vacancies." in shown
    assert page.locator(f"{card} button").count() == 0
    visitor.sign_out()

    visitor.sign_in(suite.keys.icb_signatory)
    page = visitor.open(f"/areas/{ICB}", "escalation-at-icb")
    buttons = page.locator(f"{card} button")
    assert [buttons.nth(i).inner_text() for i in range(buttons.count())] == [
        "Acknowledge",
        "Escalate",
        "Resolve",
    ]
    page.locator(f"{card} textarea").fill("On the board's agenda")
    page.locator(card).get_by_role("button", name="Acknowledge").click()
    visitor.page.wait_for_url(re.compile(rf".*/areas/{ICB}#escalations$"))
    assert "acknowledged" in visitor.page.locator(f"{card} .escalation-state").inner_text()
    assert visitor.page.locator(f"{card} button").count() == 2  # escalate, resolve
    stored = suite.api("targets_api", f"/v1/escalations/{escalation['id']}")
    assert stored["state"] == "acknowledged"
    assert stored["steps"][-1]["note"] == "On the board's agenda"
