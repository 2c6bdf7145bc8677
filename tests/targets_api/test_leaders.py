"""Place leaders: appointment, history, the place profile, who may appoint, and the audit."""

import asyncio
import csv
import io
from datetime import date, timedelta

import pytest

from services.common.auth import ENGLAND
from services.common.periods import england_today
from tests.metrics_api.support import audit_count, key_id
from tests.support.areas import BRADFORD, CORNWALL, LEEDS, NORTH_EAST_AND_YORKSHIRE, WEST_YORKSHIRE
from tests.support.bodies import leader
from tests.support.clients import bearer
from tests.support.problems import assert_problem


async def appoint(client, headers, code: str = LEEDS, **changes):
    return await client.put(f"/v1/places/{code}/leader", json=leader(**changes), headers=headers)


def terms(query, code: str = LEEDS) -> list[tuple]:
    """The place's stored terms, oldest first: (name, appointed_on, ended_on)."""
    return query(
        "SELECT name, appointed_on, ended_on FROM place_leader WHERE place_code = %s "
        "ORDER BY appointed_on",
        code,
    )


def leader_audits(query) -> list[tuple]:
    return query(
        "SELECT entity_type, entity_id, actor_key_id, before, after FROM audit_log "
        "WHERE action = 'place_leader.appoint' ORDER BY id"
    )


@pytest.fixture
async def as_admin(make_key) -> dict[str, str]:
    return bearer(await make_key("admin"))


# --- appointing ------------------------------------------------------------------------------


async def test_the_first_leader_is_201_and_is_the_current_leader(client, steward, query):
    response = await appoint(client, steward)
    assert response.status_code == 201, response.text
    body = response.json()
    assert {k: body[k] for k in leader()} == leader()
    assert body["place_code"] == LEEDS and body["ended_on"] is None
    assert isinstance(body["id"], int) and body["created_at"]
    assert terms(query) == [("Alex Morgan", date(2025, 4, 1), None)]
    profile = (await client.get(f"/v1/places/{LEEDS}", headers=steward)).json()
    assert profile["current_leader"] == body
    assert profile["next_leader"] is None


async def test_a_new_leader_ends_the_previous_term_the_day_before(client, steward, query):
    await appoint(client, steward)
    response = await appoint(
        client, steward, name="Sam Patel", appointed_on="2026-01-05", joint_appointment=False
    )
    assert response.status_code == 201, response.text
    assert response.json()["ended_on"] is None
    assert terms(query) == [
        ("Alex Morgan", date(2025, 4, 1), date(2026, 1, 4)),
        ("Sam Patel", date(2026, 1, 5), None),
    ]
    profile = (await client.get(f"/v1/places/{LEEDS}", headers=steward)).json()
    assert profile["current_leader"]["name"] == "Sam Patel"


async def test_leaders_of_other_places_are_untouched(client, steward, query):
    await appoint(client, steward, code=BRADFORD, name="Bradford Leader")
    await appoint(client, steward)
    await appoint(client, steward, name="Sam Patel", appointed_on="2026-01-05")
    assert terms(query, BRADFORD) == [("Bradford Leader", date(2025, 4, 1), None)]


@pytest.mark.parametrize(
    "same",
    [leader(), leader(name="  Alex Morgan  ", role=" Director of Integration ")],
    ids=["identical", "identical once trimmed"],
)
async def test_the_latest_leader_sent_again_is_200_and_changes_nothing(
    client, steward, query, same
):
    first = (await appoint(client, steward)).json()
    audited = audit_count(query)
    again = await client.put(f"/v1/places/{LEEDS}/leader", json=same, headers=steward)
    assert again.status_code == 200, again.text
    assert again.json() == first
    assert audit_count(query) == audited
    assert terms(query) == [("Alex Morgan", date(2025, 4, 1), None)]


@pytest.mark.parametrize(
    ("appointed_on", "changes"),
    [
        ("2025-04-01", {"name": "Sam Patel"}),
        ("2025-04-01", {"joint_appointment": False}),
        ("2025-03-31", {"name": "Sam Patel"}),
        ("2019-01-01", {}),
    ],
    ids=["same day, another person", "same day, details changed", "the day before", "years before"],
)
async def test_a_term_must_start_after_the_latest_one(
    client, steward, query, appointed_on, changes
):
    await appoint(client, steward)
    audited = audit_count(query)
    response = await appoint(client, steward, appointed_on=appointed_on, **changes)
    problem = assert_problem(response, 409)
    assert "2025-04-01" in problem["detail"]
    assert problem["current_leader_appointed_on"] == "2025-04-01"
    assert audit_count(query) == audited
    assert terms(query) == [("Alex Morgan", date(2025, 4, 1), None)]


async def test_a_handover_may_be_recorded_up_to_a_year_ahead(client, steward, query):
    today = england_today()
    await appoint(client, steward)
    too_far = (today + timedelta(days=367)).isoformat()
    assert_problem(
        await appoint(client, steward, name="Later", appointed_on=too_far), 422, ("appointed_on",)
    )
    handover = today + timedelta(days=30)
    response = await appoint(client, steward, name="Sam Patel", appointed_on=handover.isoformat())
    assert response.status_code == 201, response.text
    profile = (await client.get(f"/v1/places/{LEEDS}", headers=steward)).json()
    # Until the handover day the outgoing leader is still the one in post.
    assert profile["current_leader"]["name"] == "Alex Morgan"
    assert profile["current_leader"]["ended_on"] == (handover - timedelta(days=1)).isoformat()
    assert profile["next_leader"]["name"] == "Sam Patel"
    a_year = (today + timedelta(days=366)).isoformat()
    assert (await appoint(client, steward, name="Last", appointed_on=a_year)).status_code == 201


async def test_a_leader_who_started_today_is_in_post(client, steward):
    today = england_today().isoformat()
    await appoint(client, steward)
    await appoint(client, steward, name="Sam Patel", appointed_on=today)
    profile = (await client.get(f"/v1/places/{LEEDS}", headers=steward)).json()
    assert profile["current_leader"]["name"] == "Sam Patel"
    assert profile["next_leader"] is None


# --- which codes ------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["E08000999", "not-a-code"])
async def test_an_unknown_area_is_404(client, steward, code):
    assert_problem(await appoint(client, steward, code=code), 404)
    assert_problem(await client.get(f"/v1/places/{code}/leaders", headers=steward), 404)
    assert_problem(await client.get(f"/v1/places/{code}", headers=steward), 404)


@pytest.mark.parametrize("code", [WEST_YORKSHIRE, NORTH_EAST_AND_YORKSHIRE, ENGLAND])
async def test_an_icb_region_or_england_is_not_a_place(client, as_admin, query, code):
    audited = audit_count(query)
    assert_problem(await appoint(client, as_admin, code=code), 422, ("path", "code"))
    assert_problem(
        await client.get(f"/v1/places/{code}/leaders", headers=as_admin), 422, ("path", "code")
    )
    assert_problem(await client.get(f"/v1/places/{code}", headers=as_admin), 422, ("path", "code"))
    assert audit_count(query) == audited
    assert query("SELECT count(*) FROM place_leader") == [(0,)]


async def test_a_place_added_a_moment_ago_takes_a_leader(client, metrics_api, as_admin):
    # Read once so targets_api holds a cached catalogue that does not have the new place.
    assert (await client.get(f"/v1/places/{LEEDS}", headers=as_admin)).status_code == 200
    area = {
        "code": "E06000999",
        "name": "Newtown",
        "level": "place",
        "parent_code": WEST_YORKSHIRE,
        "population": 1000,
    }
    assert (await metrics_api.post("/v1/areas", json=area, headers=as_admin)).status_code == 201
    response = await appoint(client, as_admin, code="E06000999")
    assert response.status_code == 201, response.text


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"name": "   "}, ("name",)),
        ({"name": "x" * 201}, ("name",)),
        ({"role": ""}, ("role",)),
        ({"organisation": "o" * 301}, ("organisation",)),
        ({"name": "Alex\nMorgan"}, ("name",)),
        ({"organisation": "Leeds\x00"}, ("organisation",)),
        ({"name": 42}, ("name",)),
        ({"joint_appointment": "yes"}, ("joint_appointment",)),
        ({"joint_appointment": 1}, ("joint_appointment",)),
        ({"joint_appointment": None}, ("joint_appointment",)),
        ({"appointed_on": "2025-02-30"}, ("appointed_on",)),
        ({"appointed_on": "01/04/2025"}, ("appointed_on",)),
        ({"appointed_on": 1743465600}, ("appointed_on",)),
        ({"appointed_on": "1999-12-31"}, ("appointed_on",)),
        ({"accountable_officer": True}, ("accountable_officer",)),
    ],
    ids=lambda value: repr(value)[:40],
)
async def test_invalid_fields_are_422_naming_the_field(client, steward, query, changes, loc):
    response = await client.put(
        f"/v1/places/{LEEDS}/leader", json=leader() | changes, headers=steward
    )
    assert_problem(response, 422, loc)
    assert query("SELECT count(*) FROM place_leader") == [(0,)]


@pytest.mark.parametrize("field", list(leader()))
async def test_every_field_is_required(client, steward, field):
    body = {k: v for k, v in leader().items() if k != field}
    response = await client.put(f"/v1/places/{LEEDS}/leader", json=body, headers=steward)
    assert_problem(response, 422, (field,))


async def test_names_are_stored_trimmed(client, steward, query):
    await appoint(client, steward, name="  Alex Morgan ")
    assert terms(query)[0][0] == "Alex Morgan"


# --- who may appoint --------------------------------------------------------------------------

# Each kind of key and whether it may appoint Leeds's leader.
CALLERS = {
    "admin": (("admin",), True),
    "steward for England": (("steward", ENGLAND), True),
    "steward for the region": (("steward", NORTH_EAST_AND_YORKSHIRE), True),
    "steward for the ICB": (("steward", WEST_YORKSHIRE), True),
    "steward for Leeds": (("steward", LEEDS), True),
    "steward for Cornwall and Leeds": (("steward", CORNWALL, LEEDS), True),
    "steward for Cornwall": (("steward", CORNWALL), False),
    "steward for Bradford": (("steward", BRADFORD), False),
    "viewer": (("viewer",), False),
    "assessor": (("assessor",), False),
    "submitter for Leeds": (("submitter", LEEDS), False),
    "signatory for Leeds": (("signatory", LEEDS), False),
    "service": (("service",), False),
}


@pytest.mark.parametrize("caller", CALLERS)
async def test_appointing_needs_a_steward_covering_the_place(client, make_key, query, caller):
    role_and_scopes, allowed = CALLERS[caller]
    response = await appoint(client, bearer(await make_key(*role_and_scopes)))
    if allowed:
        assert response.status_code == 201, response.text
        assert len(leader_audits(query)) == 1
    else:
        assert_problem(response, 403)
        assert leader_audits(query) == []
        assert query("SELECT count(*) FROM place_leader") == [(0,)]


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("jdu_000000000000_made-up-secret"), {"Authorization": "Basic YWRtaW46YWRtaW4="}],
    ids=["no key", "unknown key", "not bearer"],
)
async def test_without_a_valid_key_every_route_is_401(client, query, headers):
    assert_problem(await appoint(client, headers), 401)
    assert_problem(await client.put(f"/v1/places/{LEEDS}/leader", json={}, headers=headers), 401)
    assert_problem(await client.get(f"/v1/places/{LEEDS}/leaders", headers=headers), 401)
    assert_problem(await client.get(f"/v1/places/{LEEDS}", headers=headers), 401)
    assert query("SELECT count(*) FROM place_leader") == [(0,)]


async def test_a_revoked_steward_key_is_401(client, make_key, query):
    key = await make_key("steward", LEEDS)
    query("UPDATE api_key SET revoked_at = now() WHERE public_id = %s", key.split("_")[1])
    assert_problem(await appoint(client, bearer(key)), 401)


async def test_an_out_of_scope_steward_cannot_see_whether_a_term_would_conflict(
    client, steward, make_key
):
    await appoint(client, steward)
    cornwall = bearer(await make_key("steward", CORNWALL))
    assert_problem(await appoint(client, cornwall, appointed_on="2020-01-01"), 403)


@pytest.mark.parametrize(
    "role_and_scopes",
    [
        ("admin",),
        ("steward", CORNWALL),
        ("submitter", CORNWALL),
        ("signatory", CORNWALL),
        ("assessor",),
        ("viewer",),
    ],
    ids=lambda r: r[0],
)
async def test_any_key_reads_leaders_and_profiles(client, steward, make_key, role_and_scopes):
    await appoint(client, steward)
    headers = bearer(await make_key(*role_and_scopes))
    history = await client.get(f"/v1/places/{LEEDS}/leaders", headers=headers)
    assert history.status_code == 200 and history.json()["count"] == 1
    profile = await client.get(f"/v1/places/{LEEDS}", headers=headers)
    assert profile.status_code == 200 and profile.json()["current_leader"]["name"] == "Alex Morgan"


# --- history ----------------------------------------------------------------------------------


@pytest.fixture
async def three_terms(client, steward) -> list[str]:
    """Three leaders of Leeds; their names newest first."""
    for name, day in [("First", "2023-04-01"), ("Second", "2024-06-15"), ("Third", "2025-10-01")]:
        assert (await appoint(client, steward, name=name, appointed_on=day)).status_code == 201
    return ["Third", "Second", "First"]


async def test_history_is_newest_first_and_pages(client, steward, three_terms):
    response = await client.get(f"/v1/places/{LEEDS}/leaders", headers=steward)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [t["name"] for t in body["data"]] == three_terms
    assert [t["ended_on"] for t in body["data"]] == [None, "2025-09-30", "2024-06-14"]
    page = (
        await client.get(f"/v1/places/{LEEDS}/leaders?limit=1&offset=1", headers=steward)
    ).json()
    assert page["count"] == 3 and [t["name"] for t in page["data"]] == ["Second"]
    other = (await client.get(f"/v1/places/{BRADFORD}/leaders", headers=steward)).json()
    assert other == {"data": [], "count": 0}


@pytest.mark.parametrize("params", ["limit=0", "limit=1001", "offset=-1"])
async def test_bad_paging_is_422(client, steward, params):
    response = await client.get(f"/v1/places/{LEEDS}/leaders?{params}", headers=steward)
    assert_problem(response, 422, ("query", params.split("=")[0]))


async def test_history_as_csv(client, steward, three_terms):
    response = await client.get(
        f"/v1/places/{LEEDS}/leaders?limit=1", headers=steward | {"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["name"] for r in rows] == three_terms  # every term: CSV is not paged
    assert rows[1] == rows[1] | {
        "place_code": LEEDS,
        "appointed_on": "2024-06-15",
        "ended_on": "2025-09-30",
        "joint_appointment": "true",
    }
    assert rows[0]["ended_on"] == ""


# --- the profile ------------------------------------------------------------------------------


def add_plan(query, status: str, code: str = LEEDS) -> int:
    # The plans package owns this table; a bare row is all the profile reads.
    return query(
        "INSERT INTO plan (place_code, title, starts_on, ends_on, revision, status) "
        "VALUES (%s, 'Plan', '2025-04-01', '2026-03-31', 1, %s) RETURNING id",
        code,
        status,
    )[0][0]


async def test_the_profile_of_a_place_without_leader_or_plans(client, steward):
    response = await client.get(f"/v1/places/{LEEDS}", headers=steward)
    assert response.status_code == 200
    assert response.json() == {
        "code": LEEDS,
        "name": "Leeds",
        "level": "place",
        "parent_code": WEST_YORKSHIRE,
        "population": 829413,
        "icb_code": WEST_YORKSHIRE,
        "region_code": NORTH_EAST_AND_YORKSHIRE,
        "current_leader": None,
        "next_leader": None,
        "current_agreed_plan_id": None,
        "plan_counts": {"draft": 0, "proposed": 0, "agreed": 0, "superseded": 0},
        "progress_counts": {
            "on_track": 0,
            "at_risk": 0,
            "off_track": 0,
            "achieved": 0,
            "no_data": 0,
            "not_assessed": 0,
        },
    }


async def test_the_profile_counts_plans_and_names_the_agreed_one(client, steward, query):
    for status in ["superseded", "superseded", "draft", "proposed"]:
        add_plan(query, status)
    agreed = add_plan(query, "agreed")
    add_plan(query, "agreed", code=BRADFORD)
    add_plan(query, "draft", code=BRADFORD)
    profile = (await client.get(f"/v1/places/{LEEDS}", headers=steward)).json()
    assert profile["current_agreed_plan_id"] == agreed
    assert profile["plan_counts"] == {"draft": 1, "proposed": 1, "agreed": 1, "superseded": 2}


async def test_a_place_whose_leader_has_gone_has_none_in_post(client, steward, query):
    await appoint(client, steward)
    # Terms end only through a new appointment; this stands for a history imported with an end.
    query("UPDATE place_leader SET ended_on = '2025-12-31' WHERE place_code = %s", LEEDS)
    profile = (await client.get(f"/v1/places/{LEEDS}", headers=steward)).json()
    assert profile["current_leader"] is None and profile["next_leader"] is None


async def test_the_profile_has_an_etag(client, steward):
    first = await client.get(f"/v1/places/{LEEDS}", headers=steward)
    etag = first.headers["etag"]
    cached = await client.get(f"/v1/places/{LEEDS}", headers=steward | {"If-None-Match": etag})
    assert cached.status_code == 304
    await appoint(client, steward)
    changed = await client.get(f"/v1/places/{LEEDS}", headers=steward | {"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


# --- audit ------------------------------------------------------------------------------------


async def test_every_appointment_is_audited_with_the_term_it_ended(client, make_key, query):
    key = await make_key("steward", WEST_YORKSHIRE)
    first = (await appoint(client, bearer(key))).json()
    second = (
        await appoint(client, bearer(key), name="Sam Patel", appointed_on="2026-01-05")
    ).json()
    assert leader_audits(query) == [
        ("place", LEEDS, key_id(query, key), None, first),
        ("place", LEEDS, key_id(query, key), first, second),
    ]


# --- concurrency and atomicity ----------------------------------------------------------------


def assert_consistent_history(query, code: str = LEEDS) -> None:
    """One current term, and each term ends the day before the next begins."""
    rows = terms(query, code)
    assert [ended for _, _, ended in rows].count(None) == 1
    assert rows[-1][2] is None
    for (_, _, ended), (_, starts, _) in zip(rows, rows[1:], strict=False):
        assert ended == starts - timedelta(days=1)


@pytest.mark.parametrize("with_a_leader", [True, False], ids=["a leader in post", "no leader yet"])
async def test_concurrent_appointments_leave_one_current_leader(
    client, steward, query, with_a_leader
):
    if with_a_leader:
        await appoint(client, steward, name="Incumbent", appointed_on="2024-01-01")
    days = ["2025-05-01", "2025-03-01", "2025-04-01", "2025-02-01", "2025-06-01"]
    responses = await asyncio.gather(
        *(appoint(client, steward, name=f"Leader {day}", appointed_on=day) for day in days)
    )
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409} and 201 in statuses, [r.text for r in responses]
    added = statuses.count(201)
    assert len(terms(query)) == added + with_a_leader
    assert len(leader_audits(query)) == added + with_a_leader
    assert_consistent_history(query)


@pytest.fixture
def audit_refused(query):
    """The audit log refuses every insert, as if its disk were full."""
    query("""
        CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
        CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log
        FOR EACH ROW EXECUTE FUNCTION refuse_audit();
    """)


async def test_an_appointment_that_cannot_be_audited_changes_nothing(
    client, steward, query, request
):
    await appoint(client, steward)
    request.getfixturevalue("audit_refused")
    refused = await appoint(client, steward, name="Sam Patel", appointed_on="2026-01-05")
    assert_problem(refused, 500)
    assert "audit" not in refused.text  # the cause is logged, never sent
    assert terms(query) == [("Alex Morgan", date(2025, 4, 1), None)]
    assert len(leader_audits(query)) == 1
