"""`joinedup demo`: the generated data on its own (pure, deterministic, valid by construction),
and one run through the three real services on the test database."""

import asyncio
import re
from collections import Counter
from datetime import date, timedelta
from itertools import pairwise
from statistics import mean, median

import httpx
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from services import cli
from services.common.periods import containing, index, parse_as
from services.common.vocabulary import SPEND_METRICS
from services.demo import generate, load
from services.demo.generate import Metric, Place, PlaceDemo
from services.ingest.submissions.schemas import CSV_COLUMNS
from services.metrics_api.metrics.schemas import MetricCreate, MetricScope
from services.metrics_api.metrics.service import resolve_definition
from services.metrics_api.seed import area_rows, national_metric_rows
from services.targets_api.evaluation import estimation
from services.targets_api.governance.schemas import GovernanceUpdate
from services.targets_api.resources.schemas import ResourcesUpdate
from tests.support.areas import LEEDS
from tests.support.clients import bearer

TODAY = date(2026, 11, 28)
AREAS = area_rows()
PLACES = [Place.from_area(a) for a in AREAS if a["level"] == "place"]
ICB_NAMES = {a["code"]: a["name"] for a in AREAS if a["level"] == "icb"}
NATIONAL = [
    Metric.from_api({**row, "scope": "national", "owner_area_code": "E92000001"})
    for row in national_metric_rows()
]
SPENT = set(SPEND_METRICS.values())
# Cheshire and Merseyside: Cheshire East corrects values, Sefton's plan is first sent back.
E2E_PLACES = ("E06000006", "E06000049", "E08000014")


def as_metrics_api_stores(body: dict) -> Metric:
    """A local metric as metrics_api would give it back, defaults applied."""
    definition = resolve_definition(MetricCreate(**body), scope=MetricScope.local)
    return Metric.from_api(
        {
            **definition.model_dump(mode="json"),
            "code": body["code"],
            "scope": "local",
            "owner_area_code": body["owner_area_code"],
        }
    )


def build(seed: int = 1, places: list[Place] = PLACES, years: int = 5) -> list[PlaceDemo]:
    local = [as_metrics_api_stores(b) for b in generate.local_metrics(seed, places, ICB_NAMES)]
    return generate.build(
        seed, places, NATIONAL + local, today=TODAY, years=years, icb_names=ICB_NAMES
    )


@pytest.fixture(scope="module")
def demo() -> list[PlaceDemo]:
    return build()


@pytest.fixture(scope="module")
def metrics() -> dict[str, Metric]:
    local = generate.local_metrics(1, PLACES, ICB_NAMES)
    return {m.code: m for m in NATIONAL + [as_metrics_api_stores(b) for b in local]}


def sent(place: PlaceDemo) -> list[generate.Observation]:
    return [*place.history, *place.late]


# --- generation ------------------------------------------------------------------------------


def test_the_same_seed_makes_the_same_demo_and_another_seed_another(demo):
    assert build() == demo
    other = build(seed=2)
    assert [p.history for p in other] != [p.history for p in demo]
    assert [p.leaders for p in other] != [p.leaders for p in demo]


def test_a_place_gets_the_same_national_data_whichever_places_are_loaded_with_it(demo):
    alone = build(places=[p for p in PLACES if p.code == LEEDS])[0]
    together = next(p for p in demo if p.place.code == LEEDS)

    def national(rows):
        return [r for r in rows if r.metric_code.startswith("bcf-")]

    assert national(alone.history) == national(together.history)
    assert alone.leaders == together.leaders


def test_every_place_has_every_national_metric_and_local_ones_only_where_they_apply(demo, metrics):
    assert len(demo) == 153
    for place in demo:
        codes = {row.metric_code for row in sent(place)}
        assert {m.code for m in NATIONAL} <= codes
        for code in codes:
            assert metrics[code].applies_to(place.place), (place.place.code, code)
    local_users = {
        p.place.code for p in demo for r in sent(p) if metrics[r.metric_code].scope == "local"
    }
    assert 5 <= len(local_users) < 40  # a few owners, and the places of a couple of ICBs


def test_every_row_is_valid_by_construction(demo, metrics):
    for place in demo:
        for batch in (place.history, place.late, place.corrections):
            keys = [(r.metric_code, r.period) for r in batch]
            assert len(keys) == len(set(keys)), "a (metric, period) twice in one submission"
        for row in (*sent(place), *place.corrections):
            metric = metrics[row.metric_code]
            period = parse_as(row.period, metric.periodicity)
            assert period.end < TODAY - timedelta(days=1)
            if metric.is_ratio:
                assert row.value is None
                assert isinstance(row.numerator, int) and isinstance(row.denominator, int)
                assert row.denominator > 0 and row.numerator >= 0
                if metric.kind == "proportion":
                    assert row.numerator <= row.denominator
            else:
                assert row.numerator is None and row.denominator is None
                assert isinstance(row.value, int if metric.decimals == 0 else float)
            value = row.value_for(metric)
            assert metric.valid_min is None or value >= metric.valid_min
            assert metric.valid_max is None or value <= metric.valid_max


def test_five_years_end_at_each_metrics_last_ended_period(demo, metrics):
    leeds = next(p for p in demo if p.place.code == LEEDS)
    by_metric: dict[str, list[str]] = {}
    for row in sent(leeds) + [generate.Observation(LEEDS, m, p) for m, p in leeds.missing]:
        by_metric.setdefault(row.metric_code, []).append(row.period)
    expected = {
        "monthly": ("2021-11", "2026-10", 60),
        "quarterly": ("2021-Q4", "2026-Q3", 20),
        "annual": ("2021", "2025", 5),
    }
    for code, periods in by_metric.items():
        ordered = sorted(periods, key=lambda p: index(parse_as(p, metrics[code].periodicity)))
        assert (ordered[0], ordered[-1], len(ordered)) == expected[metrics[code].periodicity]


def test_targets_are_valid_and_cover_every_mandatory_national_metric(demo, metrics):
    mandatory = {m.code for m in NATIONAL if m.mandatory}
    for place in demo:
        plan = place.plan
        assert (plan.starts_on, plan.ends_on) == (date(2025, 4, 1), date(2027, 3, 31))
        assert mandatory <= {t.metric_code for t in plan.targets}
        targets = [*plan.targets, *([plan.rejection.first] if plan.rejection else [])]
        for target in targets:
            metric = metrics[target.metric_code]
            periods = [
                target.baseline_period,
                *(p for p, _ in target.trajectory),
                target.target_period,
            ]
            parsed = [parse_as(p, metric.periodicity) for p in periods]
            assert [index(p) for p in parsed] == sorted({index(p) for p in parsed})
            assert plan.starts_on <= parsed[-1].start and parsed[-1].end <= plan.ends_on
            assert parsed[0].end < plan.starts_on
            for value in (
                target.baseline_value,
                target.target_value,
                *(v for _, v in target.trajectory),
            ):
                assert metric.valid_min is None or value >= metric.valid_min
                assert metric.valid_max is None or value <= metric.valid_max
            if metric.improvement and target.baseline_value not in (
                metric.valid_min,
                metric.valid_max,
            ):
                assert (target.target_value - target.baseline_value) * metric.improvement > 0
            assert target.tolerance is None or target.tolerance >= 0


def test_some_plans_are_first_sent_back_for_a_timid_target(demo):
    rejected = [p.plan for p in demo if p.plan.rejection]
    assert 2 <= len(rejected) <= 20
    for plan in rejected:
        final = next(t for t in plan.targets if t.metric_code == plan.rejection.first.metric_code)
        timid = plan.rejection.first
        assert abs(timid.target_value - timid.baseline_value) < abs(
            final.target_value - final.baseline_value
        )
        assert plan.rejection.comment


def test_step_changes_show_in_the_series(demo, metrics):
    steps = [(p, code, period) for p in demo for code, period in p.steps]
    # Spend to date by scheme is not modelled as a series with steps.
    series = sum(len({r.metric_code for r in sent(p)} - SPENT) for p in demo)
    assert 0.2 < len(steps) / series < 0.6
    # A step moves the level: the periods after it differ from those before by more than
    # values usually move from one period to the next.
    ratios = []
    for place, code, period in steps:
        metric = metrics[code]
        values = {r.period: r.value_for(metric) for r in sent(place) if r.metric_code == code}
        periods = sorted(values, key=lambda p: index(parse_as(p, metric.periodicity)))
        ordered = [values[p] for p in periods]
        at = next(
            (
                i
                for i, p in enumerate(periods)
                if index(parse_as(p, metric.periodicity))
                >= index(parse_as(period, metric.periodicity))
            ),
            len(periods),
        )
        before, after = ordered[max(0, at - 4) : at], ordered[at : at + 4]
        if len(before) < 4 or len(after) < 4:
            continue
        usual = median(abs(b - a) for a, b in pairwise(ordered))
        if usual == 0:  # a tiny place, where the count is nearly always zero
            continue
        ratios.append(abs(mean(after) - mean(before)) / usual)
    assert len(ratios) > 50
    assert median(ratios) > 1.5


def test_missing_and_late_rows_are_a_small_share(demo):
    expected = sum(len(sent(p)) + len(p.missing) for p in demo)
    missing = sum(len(p.missing) for p in demo)
    late = sum(len(p.late) for p in demo)
    assert 0.01 < missing / expected < 0.05
    assert 0.015 < late / expected < 0.05
    for place in demo:
        assert not {(r.metric_code, r.period) for r in sent(place)} & set(place.missing)
        assert not {(r.metric_code, r.period) for r in place.history} & {
            (r.metric_code, r.period) for r in place.late
        }


def test_the_latest_period_is_missing_more_often_while_its_deadline_is_ahead(demo):
    pending = sum(("bcf-discharge-usual-residence", "2026-10") in p.missing for p in demo)
    assert 3 <= pending <= 30  # 2026-10 is due by 15 December; about 8 % have not sent it


def test_corrections_change_values_already_sent(demo, metrics):
    corrected = [p for p in demo if p.corrections]
    assert 0.2 < len(corrected) / len(demo) < 0.5
    for place in corrected:
        originals = {(r.metric_code, r.period): r for r in sent(place)}
        for row in place.corrections:
            original = originals[(row.metric_code, row.period)]
            metric = metrics[row.metric_code]
            assert row.value_for(metric) != original.value_for(metric)
            assert row.note.startswith("corrected")


def test_leaders_terms_follow_each_other_and_have_begun(demo):
    two_terms = 0
    for place in demo:
        dates = [leader.appointed_on for leader in place.leaders]
        assert dates == sorted(set(dates)) and dates[-1] <= TODAY
        two_terms += len(dates) == 2
        for leader in place.leaders:
            assert leader.organisation and leader.role and leader.name
    assert 20 < two_terms < 90


def test_some_nominations_are_declined_first_and_a_few_wait_for_the_icb(demo):
    declined = [p for p in demo if p.nomination.declined is not None]
    pending = [p for p in demo if p.nomination.pending]
    assert 8 < len(declined) < 45 and 2 <= len(pending) < 25
    for place in declined:
        assert place.nomination.declined.name != place.leaders[-1].name
        assert place.nomination.declined.appointed_on == place.leaders[-1].appointed_on
        assert place.nomination.decline_comment
    # A nomination still waiting leaves the previous leader in post: every place has one.
    assert all(len(p.leaders) > 1 for p in pending)


def test_governance_is_valid_and_some_places_fall_short(demo):
    recorded = [p.governance for p in demo if p.governance is not None]
    assert 5 < len(demo) - len(recorded) < 30, "some places have no model"
    without_healthwatch = [
        g for g in recorded if "healthwatch" not in {m["category"] for m in g["members"]}
    ]
    assert 8 < len(without_healthwatch) < 45
    late = [g for g in recorded if g["adopted_on"] > "2023-04-01"]
    assert 10 < len(late) < 50
    for body in recorded:
        valid = GovernanceUpdate.model_validate(body).model_dump(mode="json", exclude_none=True)
        assert valid == {k: v for k, v in body.items() if v is not None}


def test_plans_have_resources_and_some_schemes_spend_below_plan(demo):
    complete = {"FY2025-26": "2026-Q1"}  # the plan's first year, ended by TODAY
    schemes = below = 0
    for place in demo:
        body = place.plan.resources
        assert body is not None
        valid = ResourcesUpdate.model_validate(body)
        organisations = {c.organisation for c in valid.contributions}
        assert organisations == {place.place.code, place.place.icb_code}
        years = {s.financial_year for s in valid.planned_spend}
        assert years == {"FY2025-26", "FY2026-27"}
        spent = {(r.metric_code, r.period): r.value for r in sent(place) if r.metric_code in SPENT}
        for row in valid.planned_spend:
            at_year_end = spent.get((SPEND_METRICS[row.scheme], complete.get(row.financial_year)))
            if at_year_end is not None:
                schemes += 1
                below += at_year_end < float(row.amount_gbp) * 0.9
    assert 0.15 < below / schemes < 0.45, (below, schemes)


def test_local_metric_definitions_are_valid_and_owned_by_places_and_icbs():
    bodies = generate.local_metrics(1, PLACES, ICB_NAMES)
    owners = Counter(b["owner_area_code"][:3] for b in bodies)
    assert owners["E54"] >= 1 and sum(n for level, n in owners.items() if level != "E54") >= 1
    for body in bodies:
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,63}", body["code"])
        as_metrics_api_stores(body)  # raises if metrics_api would refuse it
    assert generate.local_metrics(1, PLACES, ICB_NAMES) == bodies


def test_csv_has_ingests_header_and_one_line_per_row(demo):
    rows = demo[0].history
    lines = generate.csv_text(rows).splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert len(lines) == len(rows) + 1
    assert lines[1].split(",")[:3] == [rows[0].place_code, rows[0].metric_code, rows[0].period]


def test_a_refusal_is_told_with_the_problems_detail_and_row_errors():
    response = httpx.Response(
        422,
        json={
            "type": "urn:joinedup:problem:unprocessable",
            "title": "Unprocessable",
            "status": 422,
            "detail": "1 row has errors; nothing was stored.",
            "errors": [
                {
                    "row": 3,
                    "field": "period",
                    "code": "period_not_ended",
                    "msg": "period 2026-11 has not ended",
                }
            ],
        },
    )
    told = load.describe("POST", "http://127.0.0.1:8003/v1/submissions", response)
    assert told.splitlines() == [
        "POST /v1/submissions answered 422 Unprocessable Entity: 1 row has errors; nothing was "
        "stored.",
        "  row 3 period: period_not_ended: period 2026-11 has not ended",
    ]


# --- through the real services ---------------------------------------------------------------


@pytest.mark.e2e
async def test_the_demo_through_the_real_services(start_suite, make_key, query, database_url):
    suite = start_suite()
    endpoints = load.Endpoints(suite.metrics_api.url, suite.targets_api.url, suite.ingest.url)
    options = load.Options(seed=1, years=2, places=E2E_PLACES, progress_timeout_s=30)
    code = await asyncio.to_thread(cli._run_demo, database_url, endpoints, options)
    assert code == 0

    reader = bearer(await make_key("assessor"))
    async with httpx.AsyncClient(
        base_url=suite.targets_api.url, headers=reader, timeout=15
    ) as targets:
        for place in E2E_PLACES:
            plans = (await targets.get(f"/v1/places/{place}/plans")).json()["data"]
            assert [p["status"] for p in plans] == ["agreed"]
            assert (await targets.get(f"/v1/places/{place}/leaders")).json()["count"] >= 1
            nominations = (await targets.get(f"/v1/places/{place}/leader-nominations")).json()
            assert nominations["count"] >= 1
            progress = (await targets.get(f"/v1/places/{place}/progress")).json()
            assert not progress["refresh_pending"]
            assert len(progress["items"]) >= 6  # five national targets and a local one
            statuses = {item["status"] for item in progress["items"]}
            assert statuses - {"no_data"}, progress
        # Sefton's plan was sent back once by the ICB before it was agreed.
        sefton = (await targets.get(f"/v1/places/{E2E_PLACES[2]}/plans")).json()["data"][0]
        assert sefton["approval_round"] == 2
        series = (
            await targets.get(f"/v1/places/{E2E_PLACES[1]}/progress/bcf-discharge-usual-residence")
        ).json()
        assert len(series["points"]) >= 20
        # The first place's own escalation, answered by its ICB as the seed draws, beside what
        # the rules opened; every one went through the API, so every step is in the history.
        raised = (await targets.get(f"/v1/places/{E2E_PLACES[0]}/escalations")).json()["data"]
        assert "Step-down beds for winter" in {e["title"] for e in raised}
    steps = query("SELECT count(*) FROM escalation_step")[0][0]
    assert (
        steps >= 1
        and steps == query("SELECT count(*) FROM audit_log WHERE entity_type = 'escalation'")[0][0]
    )

    def stored() -> list[tuple]:
        return query(
            "SELECT place_code, metric_code, period, version, superseded_at IS NULL "
            "FROM observation WHERE place_code = ANY(%s) ORDER BY 1, 2, 3, 4",
            list(E2E_PLACES),
        )

    first = stored()
    current = [row for row in first if row[4]]
    # Two years a place: 24 + 8 + 8 + 2 + 2 national outcome rows, 8 x 8 of spend by scheme
    # and 24 of the ICB's own metric, and 24 of Sefton's; a few may be missing.
    assert 0.9 * 420 <= len(current) <= 420
    assert any(row[3] == 2 for row in first)  # Cheshire East's corrections are new versions
    assert {row[1] for row in current} >= {
        "sefton-discharge-before-noon",
        "cheshire-and-merseyside-virtual-ward-occupancy",
    }
    # No demo key outlives the run.
    assert query("SELECT count(*), count(revoked_at) FROM api_key WHERE name LIKE 'demo %%'") == [
        (5, 5)
    ]

    # Again: nothing new is stored and no plan is added.
    assert await asyncio.to_thread(cli._run_demo, database_url, endpoints, options) == 0
    assert stored() == first
    assert query("SELECT count(*) FROM plan WHERE place_code = ANY(%s)", list(E2E_PLACES)) == [(3,)]
    assert query("SELECT count(*), count(revoked_at) FROM api_key WHERE name LIKE 'demo %%'") == [
        (10, 10)
    ]


def test_the_icbs_answer_escalations_in_every_way_and_the_same_way_each_run():
    about = [
        {"place_code": f"E0800{n:04}", "metric_code": "bcf-falls-65plus", "reason": "off_track"}
        for n in range(200)
    ]
    answers = [generate.escalation_answers(1, e) for e in about]
    assert set(answers) == {
        (),
        ("acknowledge",),
        ("acknowledge", "escalate"),
        ("acknowledge", "resolve"),
    }
    assert answers == [generate.escalation_answers(1, e) for e in about]
    assert answers != [generate.escalation_answers(2, e) for e in about]


def test_the_planted_effect_is_what_the_evaluation_finds(demo, metrics):
    """From a joint committee's adoption its discharge to usual residence improves, and no
    other model's does: the estimator (services/targets_api/evaluation) finds exactly that."""
    model, code, _ = generate.PLANTED_EFFECT
    metric = metrics[code]
    rows = [(p.place.code, o) for p in demo for o in sent(p) if o.metric_code == code]
    codes = sorted({c for c, _ in rows})
    position = np.array([index(parse_as(o.period, metric.periodicity)) for _, o in rows])
    first = int(position.min())
    governance = {p.place.code: p.governance for p in demo}
    cohort = np.array(
        [
            index(containing(metric.periodicity, date.fromisoformat(g["adopted_on"]))) - first
            if (g := governance[c])
            else estimation.NEVER
            for c in codes
        ],
        dtype=np.int64,
    )
    panel = estimation.Panel(
        place=np.searchsorted(codes, [c for c, _ in rows]).astype(np.int64),
        period=position - first,
        y=np.array([o.value_for(metric) for _, o in rows]),
        cohort=cohort,
    )
    models = np.array([(governance[c] or {}).get("model") for c in codes], dtype=object)
    with threadpool_limits(limits=1):
        found = {m: estimation.estimate(panel, models == m, 12) for m, _ in generate.MODELS}
    planted = found.pop(model)
    assert isinstance(planted, estimation.Estimate)
    assert planted.average.ci_lower > 0
    for other in found.values():
        if isinstance(other, estimation.Estimate):
            assert other.average.ci_lower <= 0 <= other.average.ci_upper
