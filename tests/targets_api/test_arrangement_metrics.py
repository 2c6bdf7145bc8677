"""The gauges of places' arrangements on targets_api's /metrics: per ICB, places without a
leader confirmed by both bodies, without an adopted governance model, and missing each minimum
partnership category; a sample for every ICB, zeros included."""

from services.common.vocabulary import MINIMUM_MEMBERSHIP
from tests.support.areas import (
    CORNWALL_ICB,
    LEEDS,
    NORTH_EAST_AND_YORKSHIRE,
    WEST_YORKSHIRE,
    WEST_YORKSHIRE_PLACES,
)
from tests.support.bodies import FULL_MEMBERSHIP, governance, leader
from tests.support.clients import bearer
from tests.support.prometheus import counted

WY = {"icb": WEST_YORKSHIRE, "region": NORTH_EAST_AND_YORKSHIRE}
PLACES = len(WEST_YORKSHIRE_PLACES)


async def scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


async def test_every_place_counts_until_its_arrangements_are_in_place(client, steward, make_key):
    text = await scrape(client)
    assert counted(text, "joinedup_places_without_confirmed_leader", **WY) == PLACES
    assert counted(text, "joinedup_places_without_adopted_governance", **WY) == PLACES
    for category in MINIMUM_MEMBERSHIP:
        assert (
            counted(text, "joinedup_places_missing_governance_member", **WY, category=category)
            == PLACES
        )
    # Every ICB has its samples, Cornwall's included: two places, nothing recorded.
    assert counted(text, "joinedup_places_without_confirmed_leader", icb=CORNWALL_ICB) == 2

    # A term recorded directly was agreed elsewhere: it is not a confirmed leader.
    await client.put(f"/v1/places/{LEEDS}/leader", json=leader(), headers=steward)
    assert counted(await scrape(client), "joinedup_places_without_confirmed_leader", **WY) == PLACES

    nomination = await client.post(
        f"/v1/places/{LEEDS}/leader-nominations",
        json=leader(name="Sam Patel", appointed_on="2025-06-01"),
        headers=steward,
    )
    for organisation in (LEEDS, WEST_YORKSHIRE):
        decided = await client.post(
            f"/v1/leader-nominations/{nomination.json()['id']}/decisions",
            json={"organisation_code": organisation, "decision": "confirm", "signatory": "A. B"},
            headers=bearer(await make_key("signatory", organisation)),
        )
        assert decided.status_code == 201, decided.text
    members = [m for m in FULL_MEMBERSHIP if m["category"] != "healthwatch"]
    assert (
        await client.put(
            f"/v1/places/{LEEDS}/governance", json=governance(members=members), headers=steward
        )
    ).status_code == 201

    text = await scrape(client)
    assert counted(text, "joinedup_places_without_confirmed_leader", **WY) == PLACES - 1
    assert counted(text, "joinedup_places_without_adopted_governance", **WY) == PLACES - 1
    missing = {
        category: counted(
            text, "joinedup_places_missing_governance_member", **WY, category=category
        )
        for category in MINIMUM_MEMBERSHIP
    }
    assert missing == {c: PLACES if c == "healthwatch" else PLACES - 1 for c in MINIMUM_MEMBERSHIP}


async def test_a_model_not_yet_adopted_counts_as_without_one(client, steward):
    await client.put(
        f"/v1/places/{LEEDS}/governance", json=governance(adopted_on=None), headers=steward
    )
    text = await scrape(client)
    assert counted(text, "joinedup_places_without_adopted_governance", **WY) == PLACES
    assert (
        counted(text, "joinedup_places_missing_governance_member", **WY, category="healthwatch")
        == PLACES - 1
    )
