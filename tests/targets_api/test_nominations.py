"""Leader nominations: a steward nominates, the place's local authority and its ICB each confirm
or decline; both confirmations make the term, a decline closes it; who may answer, once each;
concurrent confirmations make exactly one term; the profile and history say who confirmed."""

import asyncio
from datetime import date

import pytest

from tests.support.areas import BRADFORD, CORNWALL, LEEDS, WEST_YORKSHIRE
from tests.support.bodies import leader
from tests.support.clients import bearer
from tests.support.problems import assert_problem

RACES = 6


@pytest.fixture
async def signatories(make_key) -> dict[str, dict[str, str]]:
    """A signatory key for Leeds (its local authority) and one for West Yorkshire ICB."""
    return {
        LEEDS: bearer(await make_key("signatory", LEEDS)),
        WEST_YORKSHIRE: bearer(await make_key("signatory", WEST_YORKSHIRE)),
    }


async def nominate(client, steward, code: str = LEEDS, **changes):
    return await client.post(
        f"/v1/places/{code}/leader-nominations", json=leader(**changes), headers=steward
    )


async def decide(
    client, headers, nomination_id: int, organisation: str, decision="confirm", **more
):
    body = {"organisation_code": organisation, "decision": decision, "signatory": "A. Signatory"}
    if decision == "decline":
        body["comment"] = "Not this candidate"
    return await client.post(
        f"/v1/leader-nominations/{nomination_id}/decisions", json=body | more, headers=headers
    )


def terms(query, code: str = LEEDS) -> list[tuple]:
    return query(
        "SELECT name, appointed_on, ended_on FROM place_leader WHERE place_code = %s "
        "ORDER BY appointed_on",
        code,
    )


def actions(query, nomination_id: int) -> list[str]:
    return [
        action
        for (action,) in query(
            "SELECT action FROM audit_log WHERE entity_type = 'leader_nomination' "
            "AND entity_id = %s ORDER BY id",
            str(nomination_id),
        )
    ]


async def test_a_nomination_waits_for_both_bodies(client, steward):
    response = await nominate(client, steward)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/leader-nominations/{body['id']}"
    assert {k: body[k] for k in leader()} == leader()
    assert body["status"] == "nominated" and body["leader_id"] is None
    assert body["required_organisations"] == [LEEDS, WEST_YORKSHIRE]
    assert body["awaiting"] == [LEEDS, WEST_YORKSHIRE] and body["decisions"] == []
    assert (
        await client.get(f"/v1/leader-nominations/{body['id']}", headers=steward)
    ).json() == body
    listed = (await client.get(f"/v1/places/{LEEDS}/leader-nominations", headers=steward)).json()
    assert listed == {"data": [body], "count": 1}


async def test_both_confirmations_make_the_term_and_end_the_previous_one(
    client, steward, signatories, query
):
    assert (
        await client.put(f"/v1/places/{LEEDS}/leader", json=leader(), headers=steward)
    ).status_code == 201
    nomination = (
        await nominate(client, steward, name="Sam Patel", appointed_on="2026-01-05")
    ).json()

    first = await decide(client, signatories[LEEDS], nomination["id"], LEEDS)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "nominated"
    assert first.json()["awaiting"] == [WEST_YORKSHIRE]
    assert terms(query) == [("Alex Morgan", date(2025, 4, 1), None)]

    second = await decide(client, signatories[WEST_YORKSHIRE], nomination["id"], WEST_YORKSHIRE)
    assert second.status_code == 201, second.text
    confirmed = second.json()
    assert confirmed["status"] == "confirmed" and confirmed["closed_at"]
    assert confirmed["awaiting"] == []
    assert [d["organisation_code"] for d in confirmed["decisions"]] == [LEEDS, WEST_YORKSHIRE]
    assert terms(query) == [
        ("Alex Morgan", date(2025, 4, 1), date(2026, 1, 4)),
        ("Sam Patel", date(2026, 1, 5), None),
    ]
    [(term_id,)] = query("SELECT id FROM place_leader WHERE name = 'Sam Patel'")
    assert confirmed["leader_id"] == term_id
    assert actions(query, nomination["id"]) == [
        "leader_nomination.create",
        "leader_nomination.decision.confirm",
        "leader_nomination.decision.confirm",
        "leader_nomination.confirmed",
    ]


async def test_the_profile_and_history_say_who_confirmed_each_term(client, steward, signatories):
    await client.put(f"/v1/places/{LEEDS}/leader", json=leader(), headers=steward)
    nomination = (
        await nominate(client, steward, name="Sam Patel", appointed_on="2026-01-05")
    ).json()
    await decide(client, signatories[LEEDS], nomination["id"], LEEDS, signatory="Tom Riordan")
    done = await decide(
        client,
        signatories[WEST_YORKSHIRE],
        nomination["id"],
        WEST_YORKSHIRE,
        signatory="Rob Webster",
    )
    decided_at = [d["decided_at"] for d in done.json()["decisions"]]

    history = (await client.get(f"/v1/places/{LEEDS}/leaders", headers=steward)).json()["data"]
    [newest, oldest] = history
    assert newest["name"] == "Sam Patel" and newest["confirmed"] is True
    assert newest["nomination_id"] == nomination["id"]
    assert newest["confirmed_at"] == max(decided_at)
    assert newest["confirmed_by"] == [
        {"organisation_code": LEEDS, "signatory": "Tom Riordan", "decided_at": decided_at[0]},
        {
            "organisation_code": WEST_YORKSHIRE,
            "signatory": "Rob Webster",
            "decided_at": decided_at[1],
        },
    ]
    # A term recorded directly was agreed elsewhere: not confirmed here.
    assert oldest["confirmed"] is False and oldest["confirmed_by"] == []
    assert oldest["nomination_id"] is None and oldest["confirmed_at"] is None
    profile = (await client.get(f"/v1/places/{LEEDS}", headers=steward)).json()
    assert profile["current_leader"] == newest
    csv_text = (
        await client.get(f"/v1/places/{LEEDS}/leaders", headers=steward | {"Accept": "text/csv"})
    ).text
    assert csv_text.splitlines()[0].endswith(",confirmed,confirmed_at")
    assert ",true," in csv_text.splitlines()[1]


async def test_a_decline_closes_the_nomination_and_a_new_one_may_follow(
    client, steward, signatories, query
):
    nomination = (await nominate(client, steward)).json()
    assert (await decide(client, signatories[LEEDS], nomination["id"], LEEDS)).status_code == 201
    declined = await decide(
        client, signatories[WEST_YORKSHIRE], nomination["id"], WEST_YORKSHIRE, "decline"
    )
    assert declined.status_code == 201, declined.text
    assert declined.json()["status"] == "declined" and declined.json()["leader_id"] is None
    assert terms(query) == []

    problem = assert_problem(await decide(client, signatories[LEEDS], nomination["id"], LEEDS), 409)
    assert problem["current_status"] == "declined"
    again = await nominate(client, steward, name="Sam Patel")
    assert again.status_code == 201, again.text


async def test_a_decline_needs_a_reason(client, steward, signatories):
    nomination = (await nominate(client, steward)).json()
    response = await decide(
        client, signatories[LEEDS], nomination["id"], LEEDS, "decline", comment=None
    )
    assert_problem(response, 422, ("comment",))


async def test_a_confirmed_nomination_takes_no_more_decisions(
    client, steward, signatories, make_key
):
    nomination = (await nominate(client, steward)).json()
    await decide(client, signatories[LEEDS], nomination["id"], LEEDS)
    await decide(client, signatories[WEST_YORKSHIRE], nomination["id"], WEST_YORKSHIRE)
    admin = bearer(await make_key("admin"))
    problem = assert_problem(await decide(client, admin, nomination["id"], LEEDS, "decline"), 409)
    assert problem["current_status"] == "confirmed"


async def test_the_same_organisation_answers_once(client, steward, signatories, query, make_key):
    nomination = (await nominate(client, steward)).json()
    assert (await decide(client, signatories[LEEDS], nomination["id"], LEEDS)).status_code == 201
    other_key = bearer(await make_key("signatory", LEEDS))
    problem = assert_problem(
        await decide(client, other_key, nomination["id"], LEEDS, "decline"), 409
    )
    assert LEEDS in problem["detail"]
    assert actions(query, nomination["id"]).count("leader_nomination.decision.confirm") == 1


@pytest.mark.parametrize(
    ("scopes", "organisation"),
    [
        ((CORNWALL,), LEEDS),
        ((BRADFORD,), LEEDS),
        # A scope above the council covers it for reading, but does not speak for it.
        ((WEST_YORKSHIRE,), LEEDS),
        ((LEEDS,), WEST_YORKSHIRE),
    ],
    ids=[
        "another ICB's place",
        "a neighbour",
        "its ICB for the council",
        "the council for the ICB",
    ],
)
async def test_a_signatory_answers_only_for_its_own_organisation(
    client, steward, make_key, query, scopes, organisation
):
    nomination = (await nominate(client, steward)).json()
    key = bearer(await make_key("signatory", *scopes))
    assert_problem(await decide(client, key, nomination["id"], organisation), 403)
    assert actions(query, nomination["id"]) == ["leader_nomination.create"]


async def test_one_key_cannot_be_both_bodies(client, steward, make_key):
    nomination = (await nominate(client, steward)).json()
    both = bearer(await make_key("signatory", LEEDS, WEST_YORKSHIRE))
    assert (await decide(client, both, nomination["id"], LEEDS)).status_code == 201
    assert_problem(await decide(client, both, nomination["id"], WEST_YORKSHIRE), 403)


@pytest.mark.parametrize(
    "role_and_scopes",
    [("steward", LEEDS), ("submitter", LEEDS), ("viewer",), ("assessor",)],
    ids=lambda r: r[0],
)
async def test_only_signatories_decide(client, steward, make_key, role_and_scopes):
    nomination = (await nominate(client, steward)).json()
    key = bearer(await make_key(*role_and_scopes))
    assert_problem(await decide(client, key, nomination["id"], LEEDS), 403)


async def test_an_organisation_that_is_not_a_party_is_422(client, steward, make_key):
    nomination = (await nominate(client, steward)).json()
    admin = bearer(await make_key("admin"))
    assert_problem(
        await decide(client, admin, nomination["id"], BRADFORD), 422, ("organisation_code",)
    )


async def test_unknown_nominations_are_404(client, steward, signatories):
    assert_problem(await client.get("/v1/leader-nominations/999999", headers=steward), 404)
    assert_problem(await decide(client, signatories[LEEDS], 999999, LEEDS), 404)


async def test_one_open_nomination_per_place(client, steward):
    first = (await nominate(client, steward)).json()
    problem = assert_problem(await nominate(client, steward, name="Sam Patel"), 409)
    assert problem["open_nomination_id"] == first["id"]
    assert (await nominate(client, steward, code=BRADFORD)).status_code == 201


async def test_a_nomination_must_start_after_the_latest_term(client, steward):
    await client.put(f"/v1/places/{LEEDS}/leader", json=leader(), headers=steward)
    problem = assert_problem(await nominate(client, steward, name="Sam Patel"), 409)
    assert problem["current_leader_appointed_on"] == "2025-04-01"


async def test_a_term_recorded_meanwhile_makes_the_last_confirmation_409(
    client, steward, signatories, query
):
    nomination = (await nominate(client, steward, appointed_on="2026-01-05")).json()
    await decide(client, signatories[LEEDS], nomination["id"], LEEDS)
    await client.put(
        f"/v1/places/{LEEDS}/leader",
        json=leader(name="Interim", appointed_on="2026-02-01"),
        headers=steward,
    )
    assert_problem(
        await decide(client, signatories[WEST_YORKSHIRE], nomination["id"], WEST_YORKSHIRE), 409
    )
    # Nothing of the refused confirmation was kept: the bodies may still decline it.
    assert actions(query, nomination["id"]).count("leader_nomination.decision.confirm") == 1
    declined = await decide(
        client, signatories[WEST_YORKSHIRE], nomination["id"], WEST_YORKSHIRE, "decline"
    )
    assert declined.json()["status"] == "declined"


async def test_nominations_are_for_places_in_the_stewards_scope(client, make_key):
    elsewhere = bearer(await make_key("steward", CORNWALL))
    assert_problem(await nominate(client, elsewhere), 403)
    assert_problem(await nominate(client, elsewhere, code=WEST_YORKSHIRE), 422)


async def test_bad_nominations_are_422(client, steward):
    assert_problem(
        await nominate(client, steward, appointed_on="2999-01-01"), 422, ("appointed_on",)
    )
    assert_problem(await nominate(client, steward, name=""), 422, ("name",))


async def test_the_list_filters_by_status_and_pages(client, steward, signatories):
    declined = (await nominate(client, steward)).json()
    await decide(client, signatories[LEEDS], declined["id"], LEEDS, "decline")
    open_ = (await nominate(client, steward, name="Sam Patel")).json()
    page = (
        await client.get(
            f"/v1/places/{LEEDS}/leader-nominations", params={"limit": 1}, headers=steward
        )
    ).json()
    assert page["count"] == 2 and [n["id"] for n in page["data"]] == [open_["id"]]
    only = (
        await client.get(
            f"/v1/places/{LEEDS}/leader-nominations",
            params={"status": "declined"},
            headers=steward,
        )
    ).json()
    assert [n["id"] for n in only["data"]] == [declined["id"]]
    assert_problem(
        await client.get(
            f"/v1/places/{LEEDS}/leader-nominations", params={"status": "open"}, headers=steward
        ),
        422,
    )


async def test_simultaneous_confirmations_make_exactly_one_term(
    client, steward, signatories, query
):
    for race in range(RACES):
        nomination = (
            await nominate(
                client, steward, name=f"Leader {race}", appointed_on=f"2025-0{race + 2}-01"
            )
        ).json()
        answers = await asyncio.gather(
            decide(client, signatories[LEEDS], nomination["id"], LEEDS),
            decide(client, signatories[WEST_YORKSHIRE], nomination["id"], WEST_YORKSHIRE),
        )
        assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
        # The one that waited for the other's lock saw its confirmation and made the term.
        assert sorted(a.json()["status"] for a in answers) == ["confirmed", "nominated"]
        assert actions(query, nomination["id"]).count("leader_nomination.confirmed") == 1
    rows = terms(query)
    assert [name for name, _, _ in rows] == [f"Leader {race}" for race in range(RACES)]
    assert [ended for _, _, ended in rows].count(None) == 1


async def test_simultaneous_answers_of_one_organisation_keep_one(client, steward, make_key, query):
    nomination = (await nominate(client, steward)).json()
    keys = [bearer(await make_key("signatory", LEEDS)) for _ in range(2)]
    answers = await asyncio.gather(*(decide(client, key, nomination["id"], LEEDS) for key in keys))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    assert actions(query, nomination["id"]).count("leader_nomination.decision.confirm") == 1
