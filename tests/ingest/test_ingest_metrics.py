"""Submissions and timeliness on ingest's /metrics: counters by place and outcome, the last
submission of each place, and overdue data."""

from datetime import date

from prometheus_client.parser import text_string_to_metric_families

from services.common import periods
from services.common.periods import england_today
from services.ingest.completeness.service import last_period_past_deadline
from tests.ingest.support import MetricsAdmin, local_metric
from tests.support.areas import BRADFORD, LEEDS
from tests.support.submissions import DISCHARGE, csv_body, json_submission, observation


async def scrape(client) -> dict[tuple[str, frozenset], float]:
    text = (await client.get("/metrics")).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def reading(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_submissions_and_rows_are_counted_by_place_and_outcome(client, submitter):
    before = await scrape(client)
    accepted = await client.post(
        "/v1/submissions", headers=submitter, json=json_submission(observation())
    )
    # Atomic, one bad row (a month that does not exist) and one with an unknown place code:
    # refused whole, so both rows count as rejected, the unknown place under "unknown".
    refused = await client.post(
        "/v1/submissions",
        headers={**submitter, "Content-Type": "text/csv"},
        content=csv_body(
            f"{BRADFORD},{DISCHARGE},2025-13,,1,2,", f"E99999999,{DISCHARGE},2025-07,,1,2,"
        ).encode(),
    )
    assert (accepted.status_code, refused.status_code) == (201, 422)
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return reading(after, name, **labels) - reading(before, name, **labels)

    assert delta("joinedup_ingest_submissions_total", place=LEEDS, status="accepted") == 1
    assert delta("joinedup_ingest_rows_total", place=LEEDS, outcome="accepted") == 1
    assert delta("joinedup_ingest_submissions_total", place=BRADFORD, status="rejected") == 1
    assert delta("joinedup_ingest_rows_total", place=BRADFORD, outcome="rejected") == 1
    assert delta("joinedup_ingest_rows_total", place="unknown", outcome="rejected") == 1
    assert not any("E99999999" in str(key) for key in after)


async def test_a_dry_run_and_a_replay_are_not_counted(client, submitter):
    body = json_submission(observation())
    headers = {**submitter, "Idempotency-Key": "once"}
    assert (await client.post("/v1/submissions", headers=headers, json=body)).status_code == 201
    before = await scrape(client)

    replay = await client.post("/v1/submissions", headers=headers, json=body)
    assert (replay.status_code, replay.headers.get("Idempotent-Replayed")) == (201, "true")
    dry_run = await client.post(
        "/v1/submissions", headers=submitter, json=body, params={"dry_run": "true"}
    )
    assert (dry_run.status_code, dry_run.json()["dry_run"]) == (201, True), dry_run.text

    assert reading(
        await scrape(client), "joinedup_ingest_submissions_total", place=LEEDS, status="accepted"
    ) == reading(before, "joinedup_ingest_submissions_total", place=LEEDS, status="accepted")


async def test_the_last_submission_of_each_place_is_a_timestamp(client, submitter, query):
    stored = await client.post(
        "/v1/submissions", headers=submitter, json=json_submission(observation())
    )
    assert stored.status_code == 201, stored.text
    received = query("SELECT extract(epoch FROM received_at) FROM submission")[0][0]

    samples = await scrape(client)

    assert reading(
        samples, "joinedup_ingest_last_submission_timestamp_seconds", place=LEEDS
    ) == float(received)
    assert (
        "joinedup_ingest_last_submission_timestamp_seconds",
        frozenset({"place": BRADFORD}.items()),
    ) not in samples


def test_the_period_past_its_deadline_is_the_one_before_the_deadline_day():
    # With 30 days to submit, on 2026-03-31 February's deadline (30 March) has passed, but on
    # 2026-03-30 it has not (the deadline day itself is still on time).
    monthly = periods.Periodicity.monthly
    assert last_period_past_deadline(monthly, 30, date(2026, 3, 31)).code == "2026-02"
    assert last_period_past_deadline(monthly, 30, date(2026, 3, 30)).code == "2026-01"
    assert (
        last_period_past_deadline(periods.Periodicity.annual, 60, date(2026, 3, 2)).code == "2025"
    )


async def test_a_place_is_overdue_until_the_latest_period_past_its_deadline_arrives(
    client, submitter, query
):
    deadline_days = query(
        "SELECT submission_deadline_days FROM metric_version WHERE metric_code = %s", DISCHARGE
    )[0][0]
    due = last_period_past_deadline(periods.Periodicity.monthly, deadline_days, england_today())
    assert (
        reading(
            await scrape(client), "joinedup_completeness_overdue", place=LEEDS, metric=DISCHARGE
        )
        == 1
    )

    stored = await client.post(
        "/v1/submissions", headers=submitter, json=json_submission(observation(period=due.code))
    )
    assert stored.status_code == 201, stored.text

    samples = await scrape(client)
    assert reading(samples, "joinedup_completeness_overdue", place=LEEDS, metric=DISCHARGE) == 0
    assert reading(samples, "joinedup_completeness_overdue", place=BRADFORD, metric=DISCHARGE) == 1
    assert (
        reading(samples, "joinedup_scrape_collector_success", collector="timeliness_metrics") == 1
    )


async def test_a_metric_is_never_overdue_for_a_period_before_its_reporting_from(
    client, database_url, make_key
):
    """Both local to Leeds and never sent: the one reporting since 2020 is overdue with the
    latest month past its deadline; the one reporting from this month expects nothing yet."""
    admin = MetricsAdmin(database_url, await make_key("admin"))
    await admin.create(
        local_metric("leeds-since-2020", reporting_from="2020-01"),
        local_metric("leeds-from-now", reporting_from=f"{england_today():%Y-%m}"),
    )
    samples = await scrape(client)
    assert (
        reading(samples, "joinedup_completeness_overdue", place=LEEDS, metric="leeds-since-2020")
        == 1
    )
    assert not [
        labels
        for name, labels in samples
        if name == "joinedup_completeness_overdue" and ("metric", "leeds-from-now") in labels
    ]
