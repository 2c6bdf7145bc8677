"""GET /v1/evaluation against the real database: a panel of every seeded place's monthly
discharge proportion, with governance adopted (and leaders confirmed) at staggered dates and a
known effect planted for one model."""

import csv
import io
from datetime import date

import pytest

from tests.support.problems import assert_problem
from tests.targets_api.plan_support import DISCHARGE

EFFECT = 5.0  # percentage points, for joint_committee places after adoption
# The first 132 places by code in four models (the rest never adopt): 50 joint committees with
# the effect, 50 ICB committees without one, 14 lead providers (a warning) and 6 individual
# executives (refused); 12 adopt in 2021, before the data.
MODELS = [
    ("joint_committee", 50),
    ("icb_committee", 50),
    ("lead_provider", 14),
    ("individual_executive", 6),
]


@pytest.fixture(autouse=True)
def _today(clock) -> None:
    clock.today = date(2026, 6, 1)  # 2024-01..2025-12 are closed


def _plant(query, *, versions: bool = False) -> None:
    """Governance versions for the first places (cycling through MODELS' counts), adoption
    staggered over 2024-07..2025-06, and two years of observations: a place level, a common
    monthly wave, deterministic noise of +-0.5 and EFFECT after a joint committee's adoption."""
    cases = " ".join(
        f"WHEN n <= {sum(c for _, c in MODELS[: i + 1])} THEN '{model}'"
        for i, (model, _) in enumerate(MODELS)
    )
    query(f"""
        INSERT INTO place_governance (place_code, version, model, adopted_on, changed_by)
        SELECT code, 1, CASE {cases} END,
               CASE WHEN n %% 11 = 0 THEN DATE '2021-05-01'
                    ELSE DATE '2024-07-01' + CAST(n * 37 %% 360 AS int) END, 'test'
        FROM (SELECT code, row_number() OVER (ORDER BY code) AS n FROM area
              WHERE level = 'place') p
        WHERE n <= {sum(c for _, c in MODELS)}""")
    query(
        """
        INSERT INTO observation (place_code, metric_code, period, version, value, metric_version,
                                 submission_id)
        SELECT a.code, %s, to_char(d, 'YYYY-MM'), 1,
               60 + abs(hashtext(a.code)) %% 20 + 2 * sin(extract(month FROM d))
               + (abs(hashtext(a.code || d::text)) %% 1000) / 1000.0 - 0.5
               + CASE WHEN g.model = 'joint_committee' AND d >= date_trunc('month', g.adopted_on)
                      THEN %s ELSE 0 END,
               CASE WHEN %s AND d >= DATE '2025-09-01' THEN 2 ELSE 1 END,
               gen_random_uuid()
        FROM area a
        CROSS JOIN generate_series(DATE '2024-01-01', DATE '2025-12-01', INTERVAL '1 month') d
        LEFT JOIN place_governance g ON g.place_code = a.code
        WHERE a.level = 'place'""",
        DISCHARGE,
        EFFECT,
        versions,
    )


async def evaluation(client, headers, **params) -> dict:
    params = {"metric_code": DISCHARGE, "event": "governance_adopted"} | params
    response = await client.get("/v1/evaluation", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def groups_of(body: dict) -> dict[str, dict]:
    return {g["group"]: g for g in body["groups"]}


async def test_the_planted_effect_is_found_for_its_model_and_not_for_the_other(
    client, viewer, query
):
    _plant(query)
    body = await evaluation(client, viewer, by="governance_model", window=6)

    assert body["first_period"] == "2024-01" and body["last_period"] == "2025-12"
    assert body["periods"] == 24 and body["places"] == 153
    # 120 // 11 = 10 places adopted in 2021 and are left out, said once for all groups.
    assert any("10 places had the event" in w for w in body["warnings"])
    groups = groups_of(body)
    joint, icb = groups["joint_committee"], groups["icb_committee"]
    assert joint["average"]["ci_lower"] < EFFECT < joint["average"]["ci_upper"]
    assert joint["reading"] == "improved"  # higher is better, the interval is above 0
    assert icb["average"]["ci_lower"] < 0 < icb["average"]["ci_upper"]
    assert icb["reading"] == "no detectable change"
    for group in (joint, icb):
        assert [e["k"] for e in group["effects"]] == list(range(7))
        assert [e["k"] for e in group["pre_periods"]] == list(range(-6, 0))
        assert group["pretrend_p_value"] > 0.01
        assert group["df"] == min(group["treated_places"], group["control_places"]) - 1
        assert group["control_places"] >= 33  # at least the never-adopting places
    # 50 joint committees less the 50 // 11 = 4 or 5 of them adopting in 2021.
    assert 45 <= joint["treated_places"] <= 46


async def test_small_groups_are_warned_about_or_refused_saying_why(client, viewer, query):
    _plant(query)
    groups = groups_of(await evaluation(client, viewer, by="governance_model", window=6))

    lead = groups["lead_provider"]
    assert lead["estimable"] and lead["treated_places"] < 20
    assert any("treated" in w and "control places" in w for w in lead["warnings"])
    refused = groups["individual_executive"]
    assert not refused["estimable"] and refused["average"] is None
    assert "at least 10" in refused["refused"]


async def test_a_version_change_inside_the_data_is_a_warning_naming_the_versions(
    client, viewer, query
):
    _plant(query, versions=True)
    body = await evaluation(client, viewer)
    assert any("versions 1, 2" in w for w in body["warnings"])
    assert [g["group"] for g in body["groups"]] == ["all"]


async def test_leader_confirmed_by_joint_appointment(client, viewer, query):
    _plant(query)
    # A confirmed nomination's term for the first 100 places, joint for every third; one more
    # place has a term that did not come from a nomination (it has no event). The viewer's key
    # stands in for the nominating steward's.
    query("""
        WITH terms AS (
            INSERT INTO place_leader (place_code, name, role, organisation, appointed_on,
                                      joint_appointment)
            SELECT code, 'A Leader', 'Place Director', 'Council',
                   DATE '2024-06-15' + CAST(n * 3 AS int), n %% 3 = 0
            FROM (SELECT code, row_number() OVER (ORDER BY code) AS n FROM area
                  WHERE level = 'place') p
            WHERE n <= 101
            RETURNING id, place_code, name, role, organisation, appointed_on, joint_appointment
        )
        INSERT INTO leader_nomination (place_code, name, role, organisation, appointed_on,
                                       joint_appointment, status, nominated_by_key_id,
                                       leader_id, closed_at)
        SELECT place_code, name, role, organisation, appointed_on, joint_appointment,
               'confirmed', (SELECT max(id) FROM api_key), id, now()
        FROM terms WHERE place_code <> (SELECT max(place_code) FROM terms)""")

    body = await evaluation(client, viewer, event="leader_confirmed", by="joint_appointment")

    assert body["window"] == 12  # monthly's default
    groups = groups_of(body)
    assert set(groups) == {"joint", "not_joint"}
    assert groups["joint"]["treated_places"] + groups["not_joint"]["treated_places"] == 100
    assert all(g["estimable"] for g in groups.values())


async def test_the_answer_as_csv_has_a_row_per_group_and_estimate(client, viewer, query):
    _plant(query)
    body = await evaluation(client, viewer, by="governance_model", window=6)
    response = await client.get(
        "/v1/evaluation",
        params={
            "metric_code": DISCHARGE,
            "event": "governance_adopted",
            "by": "governance_model",
            "window": 6,
        },
        headers=viewer | {"Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    joint = [r for r in rows if r["group"] == "joint_committee"]
    assert [r["term"] for r in joint] == ["average"] + ["effect"] * 7 + ["pre_period"] * 6
    average = groups_of(body)["joint_committee"]["average"]
    assert float(joint[0]["estimate"]) == pytest.approx(average["estimate"])
    assert joint[0]["reading"] == "improved"
    refused = [r for r in rows if r["group"] == "individual_executive"]
    assert len(refused) == 1 and refused[0]["estimable"] == "false" and refused[0]["refused"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"metric_code": "no-such-metric"}, ["query", "metric_code"]),
        ({"by": "joint_appointment"}, ["query", "by"]),
        ({"window": 13}, ["query", "window"]),
        ({"window": 0}, ["query", "window"]),
        ({"event": "plan_agreed"}, ["query", "event"]),
    ],
)
async def test_requests_that_cannot_be_estimated_are_422_naming_the_field(
    client, viewer, params, loc
):
    query_params = {"metric_code": DISCHARGE, "event": "governance_adopted"} | params
    response = await client.get("/v1/evaluation", params=query_params, headers=viewer)
    assert_problem(response, 422)
    assert loc in [e["loc"] for e in response.json()["errors"]]


async def test_a_key_is_needed(client):
    response = await client.get(
        "/v1/evaluation", params={"metric_code": DISCHARGE, "event": "governance_adopted"}
    )
    assert_problem(response, 401)
