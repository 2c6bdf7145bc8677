"""Plans and targets: creating and reading plans, every rule a target is checked against, the
mandatory metrics a submission needs, metric versions moving on, and the audit history."""

import csv
import io

import pytest

from tests.support.areas import (
    BRADFORD,
    CORNWALL,
    LEEDS,
    NORTH_EAST_AND_NORTH_CUMBRIA,
    WEST_YORKSHIRE,
)
from tests.support.clients import bearer
from tests.support.problems import assert_problem
from tests.targets_api.plan_support import (
    AVOIDABLE,
    DISCHARGE,
    FALLS,
    PLAN,
    REABLEMENT,
    RESIDENTIAL,
    TARGETS,
    target,
)

METRIC = ("path", "metric_code")


@pytest.fixture
async def admin(make_key) -> dict[str, str]:
    return bearer(await make_key("admin"))


async def test_a_created_plan_is_a_first_draft_with_nothing_in_it(client, steward, query):
    response = await client.post(f"/v1/places/{LEEDS}/plans", json=PLAN, headers=steward)

    assert response.status_code == 201, response.text
    plan = response.json()
    assert response.headers["location"] == f"/v1/plans/{plan['id']}"
    assert {
        k: plan[k]
        for k in (
            "place_code",
            "title",
            "starts_on",
            "ends_on",
            "revision",
            "revises_plan_id",
            "status",
            "approval_round",
            "rejection_reason",
            "submitted_at",
            "agreed_at",
            "superseded_at",
            "metric_version_changed",
            "targets",
            "approvals",
        )
    } == {
        "place_code": LEEDS,
        **PLAN,
        "revision": 1,
        "revises_plan_id": None,
        "status": "draft",
        "approval_round": 0,
        "rejection_reason": None,
        "submitted_at": None,
        "agreed_at": None,
        "superseded_at": None,
        "metric_version_changed": False,
        "targets": [],
        "approvals": [],
    }
    fetched = await client.get(f"/v1/plans/{plan['id']}", headers=steward)
    assert fetched.json() == plan
    assert query("SELECT place_code, status, revision FROM plan") == [(LEEDS, "draft", 1)]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (WEST_YORKSHIRE, 422),
        ("E40000012", 422),
        ("E92000001", 422),
        ("E08999999", 404),
        ("leeds", 404),
    ],
)
async def test_plans_belong_to_places_only(client, admin, query, code, status):
    problem = assert_problem(
        await client.post(f"/v1/places/{code}/plans", json=PLAN, headers=admin), status
    )
    assert code in problem["detail"]
    assert_problem(await client.get(f"/v1/places/{code}/plans", headers=admin), status)
    assert query("SELECT count(*) FROM plan") == [(0,)]


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"title": "   "}, ("title",)),
        ({"title": "x" * 301}, ("title",)),
        ({"starts_on": "2025-04-31"}, ("starts_on",)),
        ({"ends_on": "2025-03-31"}, ("ends_on",)),  # the day before it starts
        ({"status": "agreed"}, ("status",)),  # the state is the workflow's, never the caller's
    ],
)
async def test_an_invalid_plan_is_422_naming_the_field(client, steward, query, changes, loc):
    assert_problem(
        await client.post(f"/v1/places/{LEEDS}/plans", json=PLAN | changes, headers=steward),
        422,
        loc,
    )
    assert query("SELECT count(*) FROM plan") == [(0,)]


async def test_a_one_day_plan_is_allowed(plans):
    plan = await plans.create(starts_on="2025-04-01", ends_on="2025-04-01")
    assert plan["starts_on"] == plan["ends_on"] == "2025-04-01"


async def test_an_unknown_plan_is_404(client, steward):
    assert_problem(await client.get("/v1/plans/999999", headers=steward), 404)
    assert_problem(await client.post("/v1/plans/999999/submit", headers=steward), 404)
    assert_problem(
        await client.put(f"/v1/plans/999999/targets/{FALLS}", json=target(FALLS), headers=steward),
        404,
    )


async def test_a_place_lists_its_own_plans_newest_first(client, plans, steward):
    first = await plans.create(title="First")
    await plans.create(BRADFORD, title="Bradford's")
    second = await plans.draft()
    await plans.propose(second["id"])

    listed = (await client.get(f"/v1/places/{LEEDS}/plans", headers=steward)).json()
    assert listed["count"] == 2
    assert [(p["id"], p["status"]) for p in listed["data"]] == [
        (second["id"], "proposed"),
        (first["id"], "draft"),
    ]
    assert "targets" not in listed["data"][0]
    drafts = (await client.get(f"/v1/places/{LEEDS}/plans?status=draft", headers=steward)).json()
    assert [p["id"] for p in drafts["data"]] == [first["id"]]
    page = (await client.get(f"/v1/places/{LEEDS}/plans?limit=1&offset=1", headers=steward)).json()
    assert (page["count"], [p["id"] for p in page["data"]]) == (2, [first["id"]])


async def test_the_list_answers_csv_when_asked(client, plans, steward):
    first = await plans.create(title="First, with a comma")
    second = await plans.create(title="Second")

    response = await client.get(
        f"/v1/places/{LEEDS}/plans?limit=1", headers={**steward, "Accept": "text/csv"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # All of them, not a page: an export is for a spreadsheet.
    assert [(int(r["id"]), r["title"], r["status"]) for r in rows] == [
        (second["id"], "Second", "draft"),
        (first["id"], "First, with a comma", "draft"),
    ]
    assert rows[0]["metric_version_changed"] == "false"


# --- targets ---------------------------------------------------------------------------------


async def test_a_target_is_set_against_the_metric_s_current_version(plans, query):
    plan = await plans.create()

    response = await plans.put_target(plan["id"], AVOIDABLE)

    assert response.status_code == 200, response.text
    assert response.json() | {"created_at": None, "updated_at": None} == {
        "metric_code": AVOIDABLE,
        "metric_version": 1,
        "current_metric_version": 1,
        "metric_version_changed": False,
        **TARGETS[AVOIDABLE],
        "created_at": None,
        "updated_at": None,
    }
    assert (await plans.get(plan["id"]))["targets"] == [response.json()]
    assert query("SELECT metric_code, metric_version, trajectory FROM plan_target") == [
        (AVOIDABLE, 1, TARGETS[AVOIDABLE]["trajectory"])
    ]


async def test_putting_a_target_again_replaces_it_whole(plans):
    plan = await plans.create()
    first = await plans.put_target(
        plan["id"],
        FALLS,
        target(FALLS, tolerance=5.0, trajectory=[{"period": "2025-Q3", "value": 600.0}]),
    )
    assert first.status_code == 200, first.text

    replaced = await plans.put_target(
        plan["id"],
        FALLS,
        {
            k: v
            for k, v in target(FALLS, target_value=555.0).items()
            if k not in ("trajectory", "tolerance")
        },
    )

    assert replaced.status_code == 200, replaced.text
    [stored] = (await plans.get(plan["id"]))["targets"]
    assert (stored["target_value"], stored["trajectory"], stored["tolerance"]) == (555.0, [], None)
    assert stored["updated_at"] > stored["created_at"]


async def test_a_plan_s_targets_are_listed_by_metric_code(plans):
    plan = await plans.draft()
    assert [t["metric_code"] for t in plan["targets"]] == sorted(TARGETS)


async def test_a_target_can_be_removed(client, plans, steward):
    plan = await plans.draft()

    response = await client.delete(f"/v1/plans/{plan['id']}/targets/{FALLS}", headers=steward)

    assert response.status_code == 204
    assert FALLS not in [t["metric_code"] for t in (await plans.get(plan["id"]))["targets"]]
    assert_problem(
        await client.delete(f"/v1/plans/{plan['id']}/targets/{FALLS}", headers=steward), 404
    )


A, D, R = AVOIDABLE, DISCHARGE, REABLEMENT  # quarterly rate, monthly and annual proportions
INVALID_TARGETS = {  # case: (metric, body, the fields its errors name)
    # periods in the metric's form
    "baseline monthly for a quarterly metric": (
        A,
        target(baseline_period="2024-12"),
        [("baseline_period",)],
    ),
    "target financial year for a quarterly metric": (
        A,
        target(target_period="FY2026-27"),
        [("target_period",)],
    ),
    "trajectory annual for a quarterly metric": (
        A,
        target(
            trajectory=[{"period": "2025-Q4", "value": 500.0}, {"period": "2026", "value": 480.0}]
        ),
        [("trajectory", 1, "period")],
    ),
    "quarterly target for a monthly metric": (
        D,
        target(D, target_period="2027-Q1"),
        [("target_period",)],
    ),
    "no such quarter": (A, target(baseline_period="2024-Q5"), [("baseline_period",)]),
    "not a period at all": (A, target(target_period="soon"), [("target_period",)]),
    "lower-case quarter": (A, target(baseline_period="2024-q4"), [("baseline_period",)]),
    # strictly in order: baseline < trajectory < target
    "trajectory before the baseline": (
        A,
        target(trajectory=[{"period": "2024-Q3", "value": 500.0}]),
        [("trajectory", 0, "period")],
    ),
    "trajectory at the baseline": (
        A,
        target(trajectory=[{"period": "2024-Q4", "value": 500.0}]),
        [("trajectory", 0, "period")],
    ),
    "trajectory out of order": (
        A,
        target(
            trajectory=[
                {"period": "2026-Q2", "value": 500.0},
                {"period": "2025-Q4", "value": 480.0},
            ]
        ),
        [("trajectory", 1, "period")],
    ),
    "trajectory period twice": (
        A,
        target(
            trajectory=[
                {"period": "2025-Q4", "value": 500.0},
                {"period": "2025-Q4", "value": 480.0},
            ]
        ),
        [("trajectory", 1, "period")],
    ),
    "trajectory at the target": (
        A,
        target(trajectory=[{"period": "2027-Q1", "value": 500.0}]),
        [("target_period",)],
    ),
    "target at the baseline": (
        A,
        target(baseline_period="2026-Q1", target_period="2026-Q1", trajectory=[]),
        [("target_period",)],
    ),
    # the target period inside the plan period (April 2025 to March 2027)
    "target before the plan starts": (
        A,
        target(baseline_period="2024-Q1", target_period="2025-Q1", trajectory=[]),
        [("target_period",)],
    ),
    "target after the plan ends": (A, target(target_period="2027-Q2"), [("target_period",)]),
    "annual target straddling the plan start": (
        R,
        target(R, baseline_period="2023", target_period="2025"),
        [("target_period",)],
    ),
    "annual target straddling the plan end": (
        R,
        target(R, target_period="2027"),
        [("target_period",)],
    ),
    # values within the metric's valid range (rates from 0, proportions 0 to 100)
    "negative baseline rate": (A, target(baseline_value=-1.0), [("baseline_value",)]),
    "negative target rate": (A, target(target_value=-0.5), [("target_value",)]),
    "proportion over 100": (D, target(D, target_value=100.5), [("target_value",)]),
    "trajectory proportion over 100": (
        D,
        target(D, trajectory=[{"period": "2026-03", "value": 101.0}]),
        [("trajectory", 0, "value")],
    ),
    # tolerance and the body's shape
    "negative tolerance": (A, target(tolerance=-0.1), [("tolerance",)]),
    "tolerance not a number": (A, target(tolerance="ten"), [("tolerance",)]),
    "value not a number": (A, target(target_value="lots"), [("target_value",)]),
    "missing baseline value": (
        A,
        {k: v for k, v in target().items() if k != "baseline_value"},
        [("baseline_value",)],
    ),
    "trajectory point without a value": (
        A,
        target(trajectory=[{"period": "2025-Q4"}]),
        [("trajectory", 0, "value")],
    ),
    "a field the caller may not set": (A, target(metric_version=3), [("metric_version",)]),
    # every number within the bound of services/common/magnitude.py (rates have no maximum)
    "target beyond the bound": (A, target(target_value=1.5e12), [("target_value",)]),
    "trajectory beyond the bound": (
        A,
        target(trajectory=[{"period": "2025-Q4", "value": 1e13}]),
        [("trajectory", 0, "value")],
    ),
    "trajectory nearer 0 than the bound": (
        A,
        target(trajectory=[{"period": "2025-Q4", "value": 1e-13}]),
        [("trajectory", 0, "value")],
    ),
    "tolerance beyond the bound": (A, target(tolerance=1e13), [("tolerance",)]),
    "every problem at once": (
        A,
        target(
            baseline_period="2024-12",
            baseline_value=-1.0,
            target_period="2027-Q2",
            trajectory=[{"period": "2025-Q4", "value": -2.0}],
        ),
        [("baseline_period",), ("baseline_value",), ("target_period",), ("trajectory", 0, "value")],
    ),
}


@pytest.mark.parametrize("case", INVALID_TARGETS)
async def test_an_invalid_target_is_422_naming_each_field(plans, query, case):
    metric, body, locs = INVALID_TARGETS[case]
    plan = await plans.create()

    assert_problem(await plans.put_target(plan["id"], metric, body), 422, *locs)
    assert query("SELECT count(*) FROM plan_target") == [(0,)]


VALID_EDGES = {
    "values at the bounds of the range": (
        DISCHARGE,
        target(
            DISCHARGE,
            baseline_value=0.0,
            target_value=100.0,
            trajectory=[{"period": "2026-03", "value": 100.0}],
        ),
    ),
    "target period ending on the plan's last day": (AVOIDABLE, target(target_period="2027-Q1")),
    "target period starting on the plan's first day": (
        AVOIDABLE,
        target(target_period="2025-Q2", trajectory=[]),
    ),
    "baseline long before the plan": (AVOIDABLE, target(baseline_period="2019-Q1")),
    "a target equal to the baseline": (AVOIDABLE, target(target_value=520.0)),
    "zero tolerance": (AVOIDABLE, target(tolerance=0)),
    "rates have no upper bound but the magnitude's": (AVOIDABLE, target(target_value=1e12)),
}


@pytest.mark.parametrize("case", VALID_EDGES)
async def test_targets_at_the_edges_of_the_rules_are_accepted(plans, case):
    metric, body = VALID_EDGES[case]
    plan = await plans.create()
    response = await plans.put_target(plan["id"], metric, body)
    assert response.status_code == 200, response.text


async def test_a_target_needs_a_known_metric(plans):
    plan = await plans.create()
    problem = assert_problem(
        await plans.put_target(plan["id"], "no-such-metric", target()), 422, METRIC
    )
    assert "no-such-metric" in problem["detail"]


async def test_a_retired_metric_takes_no_new_targets(plans, metrics_api, admin):
    assert (await metrics_api.post(f"/v1/metrics/{FALLS}/retire", headers=admin)).status_code == 200
    plan = await plans.create()

    problem = assert_problem(await plans.put_target(plan["id"], FALLS), 422, METRIC)

    assert "retired" in problem["detail"]


def local_metric(code: str, owner: str) -> dict:
    return {
        "code": code,
        "scope": "local",
        "owner_area_code": owner,
        "name": code,
        "domain": "Local",
        "kind": "proportion",
        "multiplier": 100,
        "direction": "higher_is_better",
        "periodicity": "quarterly",
    }


@pytest.mark.parametrize(
    ("owner", "allowed"),
    [
        (LEEDS, True),
        (WEST_YORKSHIRE, True),
        (BRADFORD, False),
        (CORNWALL, False),
        (NORTH_EAST_AND_NORTH_CUMBRIA, False),
    ],
)
async def test_a_local_metric_must_belong_to_the_place_or_its_icb(
    plans, metrics_api, admin, owner, allowed
):
    created = await metrics_api.post(
        "/v1/metrics", json=local_metric("local-one", owner), headers=admin
    )
    assert created.status_code == 201, created.text
    plan = await plans.create()

    response = await plans.put_target(
        plan["id"], "local-one", target(baseline_value=40.0, target_value=60.0, trajectory=[])
    )

    if allowed:
        assert response.status_code == 200, response.text
    else:
        assert owner in assert_problem(response, 422, METRIC)["detail"]


async def test_a_target_beyond_the_bound_is_422_even_for_a_metric_without_a_range(
    plans, metrics_api, admin, query
):
    # Issue 11: this target made every progress refresh fail, for every place.
    score = {**local_metric("leeds-score", LEEDS), "kind": "value", "multiplier": None}
    created = await metrics_api.post("/v1/metrics", json=score, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["valid_min"] is None and created.json()["valid_max"] is None
    plan = await plans.create()

    problem = assert_problem(
        await plans.put_target(
            plan["id"],
            "leeds-score",
            target(baseline_value=-1e308, target_value=1e308, trajectory=[]),
        ),
        422,
        ("baseline_value",),
        ("target_value",),
    )

    assert "1000000000000" in problem["detail"]
    assert query("SELECT count(*) FROM plan_target") == [(0,)]
    assert (
        await plans.put_target(
            plan["id"],
            "leeds-score",
            target(baseline_value=-1e12, target_value=1e12, trajectory=[]),
        )
    ).status_code == 200


async def test_a_target_stored_before_the_bound_existed_is_still_readable(plans, query):
    plan = await plans.create()
    assert (await plans.put_target(plan["id"], AVOIDABLE)).status_code == 200
    query(
        "UPDATE plan_target SET target_value = 1e300, "
        """trajectory = '[{"period": "2025-Q4", "value": 1e300}]'"""
    )

    (read,) = (await plans.get(plan["id"]))["targets"]

    assert (read["target_value"], read["trajectory"]) == (
        1e300,
        [{"period": "2025-Q4", "value": 1e300}],
    )


# --- submission ------------------------------------------------------------------------------


async def test_submission_names_every_missing_mandatory_national_metric(
    client, plans, steward, query
):
    plan = await plans.create()
    for code in (DISCHARGE, FALLS):
        assert (await plans.put_target(plan["id"], code)).status_code == 200

    problem = assert_problem(
        await plans.submit(plan["id"]),
        422,
        ("targets", AVOIDABLE),
        ("targets", REABLEMENT),
        ("targets", RESIDENTIAL),
    )

    assert problem["missing_metric_codes"] == [AVOIDABLE, REABLEMENT, RESIDENTIAL]
    assert all(code in problem["detail"] for code in problem["missing_metric_codes"])
    assert (await plans.get(plan["id"]))["status"] == "draft"
    assert query("SELECT count(*) FROM audit_log WHERE action = 'plan.submit'") == [(0,)]


async def test_an_empty_plan_cannot_be_submitted(plans):
    plan = await plans.create()
    problem = assert_problem(await plans.submit(plan["id"]), 422)
    assert problem["missing_metric_codes"] == sorted(TARGETS)


async def test_local_and_retired_metrics_are_not_needed_to_submit(plans, metrics_api, admin):
    retired = await metrics_api.post(f"/v1/metrics/{FALLS}/retire", headers=admin)
    assert retired.status_code == 200, retired.text
    local = local_metric("leeds-local", LEEDS)
    created = await metrics_api.post("/v1/metrics", json=local, headers=admin)
    assert created.status_code == 201, created.text
    plan = await plans.create()
    for code in set(TARGETS) - {FALLS}:
        assert (await plans.put_target(plan["id"], code)).status_code == 200

    response = await plans.submit(plan["id"])

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "proposed"


# --- metric versions ---------------------------------------------------------------------------


@pytest.fixture
def catalogue_always_confirmed(monkeypatch):
    """targets_api confirms its catalogue with metrics_api on every read, not only after its
    fresh window of a few seconds, so a test sees a new version at once. Request it before
    ``client``, which reads its settings from the environment when it is made."""
    monkeypatch.setenv("JOINEDUP_CATALOGUE_FRESH_S", "0")


def definition_of(metric: dict, **changes) -> dict:
    fields = (
        "name",
        "description",
        "domain",
        "mandatory",
        "kind",
        "multiplier",
        "unit",
        "direction",
        "periodicity",
        "aggregation",
        "valid_min",
        "valid_max",
        "decimals",
        "submission_deadline_days",
        "source",
    )
    return {name: metric[name] for name in fields} | changes


async def new_version(metrics_api, admin, code: str, **changes) -> int:
    current = (await metrics_api.get(f"/v1/metrics/{code}", headers=admin)).json()
    response = await metrics_api.put(
        f"/v1/metrics/{code}", json=definition_of(current, **changes), headers=admin
    )
    assert response.status_code == 200, response.text
    return response.json()["version"]


VERSION_FLAGS = {"metric_version_changed", "metric_version_changes", "current_metric_version"}


def without_version_flags(plan: dict) -> dict:
    """A plan or target without what a metric's new version changes in it."""
    return {
        k: [without_version_flags(t) for t in v] if k == "targets" else v
        for k, v in plan.items()
        if k not in VERSION_FLAGS
    }


async def test_a_new_metric_version_is_shown_on_the_target_and_the_plan(
    catalogue_always_confirmed, client, plans, metrics_api, admin, steward
):
    plan = await plans.in_state("agreed")
    assert not plan["metric_version_changed"]

    assert await new_version(metrics_api, admin, FALLS, name="Falls, newly defined") == 2

    after = await plans.get(plan["id"])
    assert after["metric_version_changed"] is True
    assert after["metric_version_changes"] == [
        {"metric_code": FALLS, "metric_version": 1, "current_metric_version": 2}
    ]
    by_code = {t["metric_code"]: t for t in after["targets"]}
    assert (
        by_code[FALLS]["metric_version"],
        by_code[FALLS]["current_metric_version"],
        by_code[FALLS]["metric_version_changed"],
    ) == (1, 2, True)
    assert not any(t["metric_version_changed"] for c, t in by_code.items() if c != FALLS)
    # Nothing changed silently: but for the flags, the plan and its targets are as agreed.
    assert without_version_flags(after) == without_version_flags(plan)
    listed = (await client.get(f"/v1/places/{LEEDS}/plans", headers=steward)).json()["data"]
    assert listed[0]["metric_version_changed"] is True


async def test_a_revision_keeps_the_old_version_until_the_target_is_set_again(
    catalogue_always_confirmed, plans, metrics_api, admin
):
    plan = await plans.in_state("agreed")
    await new_version(metrics_api, admin, FALLS, name="Falls, newly defined")

    revision = await plans.open_revision(plan["id"])
    carried = {t["metric_code"]: t for t in revision["targets"]}[FALLS]
    assert (carried["metric_version"], carried["metric_version_changed"]) == (1, True)

    reset = await plans.put_target(revision["id"], FALLS)
    assert reset.status_code == 200, reset.text
    assert (reset.json()["metric_version"], reset.json()["metric_version_changed"]) == (2, False)
    assert (await plans.get(revision["id"]))["metric_version_changed"] is False


# --- audit -----------------------------------------------------------------------------------


async def test_the_history_holds_every_change_oldest_first(client, plans, make_key, query):
    plan = await plans.draft()
    changed = await plans.put_target(plan["id"], FALLS, target(FALLS, target_value=555.0))
    assert changed.status_code == 200, changed.text
    deleted = await client.delete(f"/v1/plans/{plan['id']}/targets/{FALLS}", headers=plans.steward)
    assert deleted.status_code == 204, deleted.text
    assert (await plans.put_target(plan["id"], FALLS)).status_code == 200
    await plans.propose(plan["id"])
    assert (await plans.decide(plan["id"], LEEDS, "approve")).status_code == 201
    rejected = await plans.decide(
        plan["id"], WEST_YORKSHIRE, "reject", comment="Falls target too timid"
    )
    assert rejected.status_code == 201, rejected.text
    await plans.propose(plan["id"])
    await plans.agree(plan["id"])
    revision = await plans.open_revision(plan["id"])
    await plans.propose(revision["id"])
    await plans.agree(revision["id"])

    response = await client.get(
        f"/v1/plans/{plan['id']}/history", headers=bearer(await make_key("assessor"))
    )

    assert response.status_code == 200, response.text
    events = response.json()["data"]
    assert response.json()["count"] == len(events)
    assert [e["action"] for e in events] == [
        "plan.create",
        *["plan.target.put"] * 6,
        "plan.target.delete",
        "plan.target.put",
        "plan.submit",
        "plan.approval.approve",
        "plan.approval.reject",
        "plan.return_to_draft",
        "plan.submit",
        "plan.approval.approve",
        "plan.approval.approve",
        "plan.agree",
        "plan.supersede",
    ]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    by_action = {e["action"]: e for e in events}
    replaced = events[6]
    assert (replaced["before"]["target_value"], replaced["after"]["target_value"]) == (560.0, 555.0)
    assert by_action["plan.target.delete"]["before"]["metric_code"] == FALLS
    assert by_action["plan.target.delete"]["after"] is None
    assert (
        by_action["plan.agree"]["before"]["status"],
        by_action["plan.agree"]["after"]["status"],
    ) == ("proposed", "agreed")
    assert by_action["plan.return_to_draft"]["after"]["rejection_reason"] == (
        "Falls target too timid"
    )
    assert by_action["plan.approval.reject"]["after"]["organisation_code"] == WEST_YORKSHIRE
    steward_key_id = query("SELECT id FROM api_key WHERE role = 'steward'")[0][0]
    assert events[0]["actor_key_id"] == steward_key_id
    assert events[0]["actor"].startswith(f"key:{steward_key_id}:")
    assert all(e["occurred_at"] for e in events)

    revision_history = (
        await client.get(
            f"/v1/plans/{revision['id']}/history", headers=bearer(await make_key("admin"))
        )
    ).json()
    assert [e["action"] for e in revision_history["data"]] == [
        "plan.revise",
        "plan.submit",
        "plan.approval.approve",
        "plan.approval.approve",
        "plan.agree",
    ]
    assert [t["metric_code"] for t in revision_history["data"][0]["after"]["targets"]] == (
        sorted(TARGETS)
    )


async def test_the_history_of_an_unknown_plan_is_404(client, make_key):
    assert_problem(
        await client.get("/v1/plans/999999/history", headers=bearer(await make_key("assessor"))),
        404,
    )
