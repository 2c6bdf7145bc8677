"""Submissions: storage, versions, modes, scope, idempotency and dry runs."""

import asyncio

from tests.support.areas import BRADFORD, CORNWALL, LEEDS
from tests.support.submissions import DISCHARGE, FALLS, csv_body, json_submission, observation


async def post_json(client, headers, body, **params):
    return await client.post("/v1/submissions", json=body, headers=headers, params=params)


async def post_csv(client, headers, body: str, **params):
    return await client.post(
        "/v1/submissions",
        content=body.encode(),
        params=params,
        headers={**headers, "Content-Type": "text/csv"},
    )


async def test_json_submission_is_stored_with_the_value_derived_from_its_ratio(
    client, submitter, query
):
    response = await post_json(
        client,
        submitter,
        json_submission(
            observation(), observation(FALLS, "2025-Q2", numerator=30, denominator=60000)
        ),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["accepted"], body["rejected"]) == ("accepted", 2, 0)
    assert response.headers["location"] == f"/v1/submissions/{body['id']}"
    stored = query(
        "SELECT metric_code, period, value, version, metric_version, "
        "submission_id::text FROM observation ORDER BY metric_code"
    )
    # 912 / 1003 x 100 = 90.927...; 30 / 60000 x 100000 = 50
    assert [(m, p, round(v, 3), ver, mv, s) for m, p, v, ver, mv, s in stored] == [
        (DISCHARGE, "2025-07", 90.927, 1, 1, body["id"]),
        (FALLS, "2025-Q2", 50.0, 1, 1, body["id"]),
    ]


async def test_a_csv_may_name_several_places_in_scope(client, submitter, query):
    response = await post_csv(
        client,
        submitter,
        csv_body(
            f"{LEEDS},{DISCHARGE},2025-07,,912,1003,", f"{BRADFORD},{DISCHARGE},2025-07,,500,1000,"
        ),
    )
    assert response.status_code == 201, response.text
    assert response.json()["place_codes"] == [BRADFORD, LEEDS]
    assert query("SELECT count(*) FROM observation") == [(2,)]


async def test_a_correction_is_a_new_version_and_the_old_one_stays_readable(
    client, submitter, query
):
    first = (await post_json(client, submitter, json_submission(observation()))).json()
    second = await post_json(
        client,
        submitter,
        json_submission(
            observation(numerator=915, denominator=1003, note="late discharges recounted")
        ),
    )
    assert second.status_code == 201
    assert (second.json()["superseded"], second.json()["accepted"]) == (1, 1)
    versions = query(
        "SELECT version, numerator, superseded_at IS NULL, submission_id::text "
        "FROM observation ORDER BY version"
    )
    assert versions == [(1, 912.0, False, first["id"]), (2, 915.0, True, second.json()["id"])]

    current = (await client.get("/v1/observations", headers=submitter)).json()
    assert [(o["version"], o["numerator"]) for o in current["data"]] == [(2, 915.0)]
    history = (
        await client.get("/v1/observations", headers=submitter, params={"history": "true"})
    ).json()
    assert [o["version"] for o in history["data"]] == [1, 2]
    assert history["data"][0]["superseded_at"] is not None


async def test_resubmitting_the_same_value_makes_no_new_version(client, submitter, query):
    await post_json(client, submitter, json_submission(observation()))
    again = (await post_json(client, submitter, json_submission(observation()))).json()
    assert (again["accepted"], again["unchanged"], again["superseded"]) == (1, 1, 0)
    assert query("SELECT count(*) FROM observation") == [(1,)]


async def test_atomic_submission_with_one_bad_row_stores_nothing(client, submitter, query):
    response = await post_json(
        client, submitter, json_submission(observation(), observation(period="2025-13"))
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["rejected"] == 1
    assert [(e["row"], e["field"], e["code"]) for e in problem["errors"]] == [
        (2, "period", "invalid_period")
    ]
    assert query("SELECT count(*) FROM observation") == [(0,)]
    assert query("SELECT count(*) FROM submission") == [(0,)]
    assert query("SELECT count(*) FROM outbox") == [(0,)]


async def test_partial_submission_stores_the_valid_rows_and_reports_the_rest(
    client, submitter, query
):
    response = await post_json(
        client,
        submitter,
        json_submission(
            observation(), observation(period="2025-08", numerator=5, denominator=0), mode="partial"
        ),
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["accepted"], body["rejected"]) == ("partially_accepted", 1, 1)
    assert [(e["row"], e["field"], e["code"]) for e in body["errors"]] == [
        (2, "denominator", "not_positive")
    ]
    assert query("SELECT period FROM observation") == [("2025-07",)]


async def test_a_place_outside_the_keys_scope_is_403_and_stores_nothing(client, submitter, query):
    response = await post_csv(
        client,
        submitter,
        csv_body(
            f"{LEEDS},{DISCHARGE},2025-07,,912,1003,", f"{CORNWALL},{DISCHARGE},2025-07,,1,2,"
        ),
        mode="partial",
    )
    assert response.status_code == 403
    assert CORNWALL in response.json()["detail"]
    assert query("SELECT count(*) FROM observation") == [(0,)]


async def test_only_submitters_and_admins_may_submit(client, make_key):
    for role in ("viewer", "assessor", "steward", "signatory"):
        key = await make_key(role, "E92000001")
        response = await client.post(
            "/v1/submissions",
            json=json_submission(observation()),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 403, role
    assert (await client.post("/v1/submissions", json={})).status_code == 401


async def test_replay_with_the_same_idempotency_key_returns_the_first_response(
    client, submitter, query
):
    headers = {**submitter, "Idempotency-Key": "leeds-2025-07"}
    first = await post_json(client, headers, json_submission(observation()))
    replay = await post_json(client, headers, json_submission(observation()))
    assert replay.status_code == first.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    assert query("SELECT count(*) FROM submission") == [(1,)]


async def test_same_idempotency_key_with_another_body_is_409(client, submitter, query):
    headers = {**submitter, "Idempotency-Key": "k1"}
    await post_json(client, headers, json_submission(observation()))
    response = await post_json(client, headers, json_submission(observation(period="2025-08")))
    assert response.status_code == 409
    assert query("SELECT count(*) FROM observation") == [(1,)]


async def test_a_used_key_with_a_body_that_cannot_be_taken_is_409(client, submitter, query):
    """A JSON body is read and checked before its key's lock is taken; a refusal of the body
    must still come after the key is found used (API.md: same key, different body: 409)."""
    headers = {**submitter, "Idempotency-Key": "k2"}
    await post_json(client, headers, json_submission(observation()))
    for body in ({"place_code": LEEDS}, json_submission(observation(), place=CORNWALL)):
        response = await post_json(client, headers, body)
        assert response.status_code == 409, response.text
    assert query("SELECT count(*) FROM submission") == [(1,)]


async def test_idempotency_keys_belong_to_one_api_key(client, submitter, make_key, query):
    other = {"Authorization": f"Bearer {await make_key('submitter', LEEDS)}"}
    await post_json(client, {**submitter, "Idempotency-Key": "k"}, json_submission(observation()))
    response = await post_json(
        client, {**other, "Idempotency-Key": "k"}, json_submission(observation(period="2025-08"))
    )
    assert response.status_code == 201
    assert query("SELECT count(*) FROM submission") == [(2,)]


async def test_concurrent_requests_with_one_idempotency_key_make_one_submission(
    client, submitter, query
):
    headers = {**submitter, "Idempotency-Key": "burst"}
    body = json_submission(observation(), observation(period="2025-08", numerator=1, denominator=2))
    responses = await asyncio.gather(*(post_json(client, headers, body) for _ in range(8)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert query("SELECT count(*) FROM submission") == [(1,)]
    assert query("SELECT count(*) FROM observation") == [(2,)]


async def test_dry_run_answers_like_a_submission_and_stores_nothing(client, submitter, query):
    await post_json(client, submitter, json_submission(observation()))
    response = await post_json(
        client,
        submitter,
        json_submission(observation(numerator=1, denominator=2), observation(period="2025-08")),
        dry_run="true",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["dry_run"], body["accepted"], body["superseded"]) == (True, 2, 1)
    assert query("SELECT count(*) FROM observation") == [(1,)]
    assert query("SELECT count(*) FROM submission") == [(1,)]


async def test_submission_is_readable_by_its_submitter_and_assessors(client, submitter, make_key):
    created = (await post_json(client, submitter, json_submission(observation()))).json()
    own = await client.get(f"/v1/submissions/{created['id']}", headers=submitter)
    assert own.status_code == 200 and own.json() == created
    assessor = {"Authorization": f"Bearer {await make_key('assessor')}"}
    listed = (
        await client.get("/v1/submissions", headers=assessor, params={"place_code": LEEDS})
    ).json()
    assert [s["id"] for s in listed["data"]] == [created["id"]]
    stranger = {"Authorization": f"Bearer {await make_key('submitter', CORNWALL)}"}
    assert (
        await client.get(f"/v1/submissions/{created['id']}", headers=stranger)
    ).status_code == 404


async def test_every_submission_is_audited(client, submitter, query):
    created = (await post_json(client, submitter, json_submission(observation()))).json()
    assert query("SELECT action, entity_id FROM audit_log WHERE service = 'ingest'") == [
        ("submission.create", created["id"])
    ]


async def test_changes_are_written_to_the_outbox_in_the_same_transaction(client, submitter, query):
    created = (
        await post_json(
            client, submitter, json_submission(observation(), observation(period="2025-08"))
        )
    ).json()
    [(payload,)] = query("SELECT payload FROM outbox")
    assert payload == {
        "submission_id": created["id"],
        "changes": [
            {"place_code": LEEDS, "metric_code": DISCHARGE, "from": "2025-07", "to": "2025-08"}
        ],
    }
