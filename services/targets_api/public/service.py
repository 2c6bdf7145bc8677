"""The public record: the private services' own answers (same definitions, same code), cut down
to what is published. Open periods' figures are withheld here, never computed differently."""

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalogue import Catalogue
from services.common.errors import NotFound
from services.targets_api.assessments import service as assessments
from services.targets_api.assessments.schemas import AreaPerformance, MetricPerformance
from services.targets_api.governance import service as governance
from services.targets_api.governance.schemas import GovernancePublic
from services.targets_api.leaders import service as leaders
from services.targets_api.plans import service as plans
from services.targets_api.plans.schemas import PlanPublic
from services.targets_api.progress import service as progress
from services.targets_api.progress.schemas import ProgressItem
from services.targets_api.public.schemas import (
    PublicAreaPerformance,
    PublicGovernance,
    PublicLeader,
    PublicMember,
    PublicMetricPerformance,
    PublicPlace,
    PublicPlaceValue,
    PublicPlan,
    PublicProgress,
    PublicTarget,
    PublishedSeries,
    PublishedValue,
)


async def place_record(
    session: AsyncSession, *, catalogue: Catalogue, code: str, today: date, national_date: date
) -> PublicPlace:
    """The place, its leader in post, its governance, its agreed plan and its progress."""
    profile = await leaders.get_profile(session, catalogue=catalogue, code=code, today=today)
    try:
        arrangement: GovernancePublic | None = await governance.get_governance(
            session, catalogue=catalogue, code=code, national_date=national_date, today=today
        )
    except NotFound:  # a place without an arrangement recorded is still a place
        arrangement = None
    plan = (
        None
        if profile.current_agreed_plan_id is None
        else await plans.get_plan(
            session, catalogue=catalogue, plan_id=profile.current_agreed_plan_id
        )
    )
    state = await progress.progress_state(session, catalogue=catalogue, code=code)
    stored = await progress.place_progress(session, catalogue=catalogue, state=state, today=today)
    leader = profile.current_leader
    return PublicPlace(
        code=profile.code,
        name=profile.name,
        population=profile.population,
        icb_code=profile.icb_code,
        icb_name=_area_name(catalogue, profile.icb_code),
        region_code=profile.region_code,
        region_name=_area_name(catalogue, profile.region_code),
        leader=None if leader is None else PublicLeader.model_validate(leader.model_dump()),
        governance=None if arrangement is None else _governance(arrangement),
        plan=None if plan is None else _plan(plan, catalogue),
        progress=[_progress(item) for item in stored.items],
    )


def _area_name(catalogue: Catalogue, code: str | None) -> str | None:
    area = catalogue.area(code) if code else None
    return area.name if area else None


def _governance(arrangement: GovernancePublic) -> PublicGovernance:
    # Not who recorded it (changed_by names a key) nor its history of versions.
    return PublicGovernance(
        **arrangement.model_dump(
            include={
                "model",
                "model_description",
                "adopted_on",
                "scrutinised_on",
                "delegated_functions",
                "adopted_by_national_date",
                "meets_minimum_membership",
            }
        ),
        members=[
            PublicMember(organisation=m.organisation, category=m.category)
            for m in arrangement.members
        ],
    )


def _plan(plan: PlanPublic, catalogue: Catalogue) -> PublicPlan:
    # Not its approvals: they carry the keys that signed them.
    targets = []
    for t in plan.targets:
        metric = catalogue.metric(t.metric_code)
        targets.append(
            PublicTarget(
                **t.model_dump(
                    include={
                        "metric_code",
                        "baseline_period",
                        "baseline_value",
                        "target_period",
                        "target_value",
                        "trajectory",
                    }
                ),
                metric_name=metric.name if metric else None,
                unit=metric.unit if metric else None,
            )
        )
    return PublicPlan(
        **plan.model_dump(include={"id", "title", "starts_on", "ends_on", "revision", "agreed_at"}),
        targets=targets,
    )


def _progress(item: ProgressItem) -> PublicProgress:
    shown = {"metric_code", "metric_name", "unit", "decimals"}
    if item.provisional is False:
        # Everything computed from the latest value is as provisional as the value is.
        shown |= {
            "latest_period",
            "latest_value",
            "expected_value",
            "progress_pct",
            "status",
            "national_value",
            "comparison",
        }
    return PublicProgress.model_validate(
        {name: None for name in PublicProgress.model_fields} | item.model_dump(include=shown)
    )


async def published_series(
    session: AsyncSession, *, catalogue: Catalogue, code: str, metric_code: str, today: date
) -> PublishedSeries:
    """The place's current values of the metric for its closed periods."""
    state = await progress.series_state(
        session, catalogue=catalogue, code=code, metric_code=metric_code
    )
    series = await progress.place_series(session, catalogue=catalogue, state=state, today=today)
    metric = catalogue.metric(metric_code)
    assert metric is not None  # series_state refused an unknown metric
    return PublishedSeries(
        place_code=code,
        metric_code=metric_code,
        metric_name=metric.name,
        unit=metric.unit,
        values=[
            PublishedValue(period=p.period, value=p.value)
            for p in series.points
            if not p.provisional
        ],
    )


async def area_performance(
    session: AsyncSession,
    *,
    catalogue: Catalogue,
    state: assessments.PerformanceState,
    today: date,
) -> PublicAreaPerformance:
    """The area's roll-ups at their latest closed periods, with its member places' values there.
    Targets' statuses are left out: the refresh computes them from the latest value, open or
    closed, and a place's own public record shows each status once its period is closed."""
    performance: AreaPerformance = await assessments.area_performance(
        session,
        catalogue=catalogue,
        state=state,
        min_coverage=assessments.DEFAULT_MIN_COVERAGE,
        today=today,
    )
    return PublicAreaPerformance(
        **performance.model_dump(include={"area_code", "area_name", "level", "member_places"}),
        metrics=[_metric(m, catalogue) for m in performance.metrics],
    )


def _metric(row: MetricPerformance, catalogue: Catalogue) -> PublicMetricPerformance:
    metric = catalogue.metric(row.metric_code)
    closed = row.period is not None and row.provisional is False
    return PublicMetricPerformance(
        metric_code=row.metric_code,
        metric_name=metric.name if metric else None,
        unit=metric.unit if metric else None,
        period=row.period if closed else None,
        value=row.value if closed else None,
        places_expected=row.places_expected,
        places_reported=row.places_reported if closed else 0,
        coverage=row.coverage if closed else None,
        below_min_coverage=row.below_min_coverage,
        places=[
            PublicPlaceValue(
                place_code=p.place_code,
                place_name=p.place_name,
                value=p.value if closed else None,
                comparison=p.comparison if closed else None,
            )
            for p in row.places
        ],
    )
