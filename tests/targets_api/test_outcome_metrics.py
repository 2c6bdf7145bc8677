"""Outcome metrics on targets_api's /metrics: read from the materialised progress, labelled by
codes, with names carried once by the info series."""

import asyncio
import threading
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.targets_api.main import TargetsApiSettings
from services.targets_api.main import create_app as create_targets_api
from services.targets_api.progress import outcome_metrics
from tests.support.areas import CORNWALL, LEEDS, NORTH_EAST_AND_YORKSHIRE, WEST_YORKSHIRE
from tests.support.clients import asgi_client
from tests.support.services import free_port
from tests.targets_api.plan_support import DISCHARGE, FALLS
from tests.targets_api.progress_support import refresh, store_observations
from tests.targets_api.test_progress import LEEDS_DISCHARGE, LEEDS_RATES, OTHERS_DISCHARGE

LEEDS_DISCHARGE_LABELS = {
    "place": LEEDS,
    "metric": DISCHARGE,
    "icb": WEST_YORKSHIRE,
    "region": NORTH_EAST_AND_YORKSHIRE,
}


async def scrape(client) -> dict[str, list[tuple[dict[str, str], float]]]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value_of(samples, name: str, **labels: str) -> float:
    found = [v for sample_labels, v in samples[name] if labels.items() <= sample_labels.items()]
    assert len(found) == 1, (name, labels, found)
    return found[0]


async def test_each_agreed_target_is_a_set_of_gauges(client, plans, make_key, query):
    await plans.in_state("agreed")
    # One place's return for a month still open (far ahead, so open whenever this runs) must
    # not pass for England's value, which stays at the latest closed month.
    early = [(CORNWALL, DISCHARGE, "2099-01", 10.0, 1, 10)]
    store_observations(query, LEEDS_DISCHARGE + OTHERS_DISCHARGE + LEEDS_RATES + early)
    await refresh(client, {"Authorization": f"Bearer {await make_key('admin')}"})

    samples = await scrape(client)

    labels = LEEDS_DISCHARGE_LABELS
    assert value_of(samples, "joinedup_outcome_value", **labels) == 90.0
    assert value_of(samples, "joinedup_outcome_target", **labels) == 92.0
    assert value_of(samples, "joinedup_outcome_expected", **labels) == pytest.approx(89.375)
    # progress_pct 42.857 % as a ratio
    assert value_of(samples, "joinedup_outcome_progress_ratio", **labels) == pytest.approx(
        1.5 / 3.5
    )
    # One series per target with its status; 2025-09 ends as October begins.
    assert [
        s
        for s in samples["joinedup_outcome_status"]
        if s[0]["place"] == LEEDS and s[0]["metric"] == DISCHARGE
    ] == [(labels | {"status": "on_track"}, 1.0)]
    assert (
        value_of(samples, "joinedup_outcome_latest_period_end_timestamp_seconds", **labels)
        == datetime(2025, 10, 1, tzinfo=UTC).timestamp()
    )
    assert (
        value_of(
            samples, "joinedup_outcome_consecutive_off_track_periods", place=LEEDS, metric=FALLS
        )
        == 1
    )
    assert value_of(samples, "joinedup_national_value", metric=DISCHARGE) == pytest.approx(90.0)
    assert value_of(samples, "joinedup_scrape_collector_success", collector="outcome_metrics") == 1


async def test_names_come_once_in_the_info_series(client):
    samples = await scrape(client)

    areas = {labels["area"]: labels for labels, _ in samples["joinedup_area_info"]}
    assert len(areas) == 1 + 7 + 42 + 153
    assert areas[LEEDS] == {
        "area": LEEDS,
        "name": "Leeds",
        "level": "place",
        "parent": WEST_YORKSHIRE,
    }
    metrics = {labels["metric"]: labels for labels, _ in samples["joinedup_metric_info"]}
    assert metrics[DISCHARGE]["periodicity"] == "monthly"
    assert metrics[DISCHARGE]["direction"] == "higher_is_better"
    # No targets yet, so no outcome series (but the families are declared).
    assert "joinedup_outcome_status" not in samples


async def test_a_scrape_while_the_database_is_unreachable_still_answers():
    nowhere = f"postgresql://joinedup@127.0.0.1:{free_port()}/joinedup"
    app = create_targets_api(TargetsApiSettings(database_url=nowhere))
    async for client in asgi_client(app):
        await scrape(client)
        samples = await scrape(client)  # the process's own metrics count the first

    assert value_of(samples, "joinedup_scrape_collector_success", collector="outcome_metrics") == 0
    assert "joinedup_http_requests_total" in samples


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """Counts the exposition's builds, each of which still runs in full."""
    counted: list[int] = []
    build = outcome_metrics._families

    def counting(*rows):
        counted.append(threading.get_ident())
        return build(*rows)

    monkeypatch.setattr(outcome_metrics, "_families", counting)
    return counted


async def test_the_exposition_is_kept_until_a_refresh_changes_it(
    client, plans, make_key, query, builds
):
    admin = {"Authorization": f"Bearer {await make_key('admin')}"}
    await plans.in_state("agreed")
    store_observations(query, LEEDS_DISCHARGE + OTHERS_DISCHARGE)
    await refresh(client, admin)

    first = await scrape(client)
    assert value_of(first, "joinedup_outcome_value", **LEEDS_DISCHARGE_LABELS) == 90.0
    again = await scrape(client)
    assert len(builds) == 1, "the second scrape was answered from the kept exposition"
    assert builds[0] != threading.get_ident(), "built on the event loop's thread"
    assert again["joinedup_outcome_value"] == first["joinedup_outcome_value"]

    store_observations(query, [(LEEDS, DISCHARGE, "2025-10", 91.0, 910, 1000)])
    await refresh(client, admin)

    after = await scrape(client)
    assert len(builds) == 2
    assert value_of(after, "joinedup_outcome_value", **LEEDS_DISCHARGE_LABELS) == 91.0


async def test_requests_are_answered_while_the_exposition_is_built(
    client, plans, make_key, query, monkeypatch
):
    """The build waits at a gate only this test opens, and opens it only once a request has been
    answered meanwhile: a build on the event loop would hold the loop at the gate (until its
    timeout), so the request could only be answered after the scrape had finished."""
    admin = {"Authorization": f"Bearer {await make_key('admin')}"}
    await plans.in_state("agreed")
    store_observations(query, LEEDS_DISCHARGE)
    await refresh(client, admin)
    entered, gate = threading.Event(), threading.Event()
    build = outcome_metrics._families

    def gated(*rows):
        entered.set()
        gate.wait(timeout=10)
        return build(*rows)

    monkeypatch.setattr(outcome_metrics, "_families", gated)
    scraping = asyncio.create_task(client.get("/metrics"))
    try:
        assert await asyncio.to_thread(entered.wait, 30), "the build never started"
        answered = await client.get(f"/v1/places/{LEEDS}/progress", headers=admin)
        assert answered.status_code == 200
        assert not scraping.done(), "the scrape finished before the request was answered"
    finally:
        gate.set()
    scraped = await scraping
    assert scraped.status_code == 200
    assert 'joinedup_outcome_value{place="E08000035"' in scraped.text
