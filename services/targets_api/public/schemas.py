"""What anyone may read without a key: a public subset of the private answers, field by field.

Each model lists what it shows rather than inheriting the private one, so that a field added to a
private answer later is not published by accident (tests/targets_api/test_public.py checks that
every public field is one a viewer key sees too).
"""

from datetime import date, datetime

from pydantic import BaseModel, Field

from services.common.figures import Derived
from services.common.vocabulary import GovernanceModel, MemberCategory, Status
from services.targets_api.assessments.schemas import SystemLevel
from services.targets_api.plans.schemas import TrajectoryPointPublic
from services.targets_api.progress.schemas import Comparison


class PublicLeader(BaseModel):
    name: str
    role: str
    organisation: str
    appointed_on: date
    joint_appointment: bool


class PublicMember(BaseModel):
    organisation: str
    category: MemberCategory


class PublicGovernance(BaseModel):
    model: GovernanceModel
    model_description: str | None
    adopted_on: date | None
    scrutinised_on: date | None
    members: list[PublicMember]
    delegated_functions: list[str]
    adopted_by_national_date: bool
    meets_minimum_membership: bool


class PublicTarget(BaseModel):
    metric_code: str
    metric_name: str | None  # None only for a metric the catalogue no longer has
    unit: str | None
    baseline_period: str
    baseline_value: float
    target_period: str
    target_value: float
    trajectory: list[TrajectoryPointPublic]


class PublicPlan(BaseModel):
    """The place's agreed plan (never a draft or a proposal)."""

    id: int
    title: str
    starts_on: date
    ends_on: date
    revision: int
    agreed_at: datetime | None
    targets: list[PublicTarget]


class PublicProgress(BaseModel):
    """A target's progress as of its latest closed period; while that period is still open its
    figures and status are withheld (null), as the value itself is."""

    metric_code: str
    metric_name: str
    unit: str
    decimals: int
    latest_period: str | None = Field(description="The latest period, when it is closed")
    latest_value: float | None
    expected_value: float | None
    progress_pct: float | None
    status: Status | None = Field(description="Null while the latest period is still open")
    national_value: float | None
    comparison: Comparison | None


class PublicPlace(BaseModel):
    code: str
    name: str
    population: int | None
    icb_code: str | None
    icb_name: str | None
    region_code: str | None
    region_name: str | None
    leader: PublicLeader | None = Field(description="The leader in post today")
    governance: PublicGovernance | None = Field(description="The current arrangement")
    plan: PublicPlan | None
    progress: list[PublicProgress]


class PublishedValue(BaseModel):
    period: str
    value: float


class PublishedSeries(BaseModel):
    """A place's values of one metric for its closed periods only, oldest first."""

    place_code: str
    metric_code: str
    metric_name: str
    unit: str
    values: list[PublishedValue]


class PublicPlaceValue(BaseModel):
    place_code: str
    place_name: str
    value: float | None
    comparison: Comparison | None


class PublicMetricPerformance(BaseModel):
    """A metric rolled up at its latest closed period; no period (and no values) while none is
    closed."""

    metric_code: str
    metric_name: str | None
    unit: str | None
    period: str | None
    value: float | None
    places_expected: int
    places_reported: int
    coverage: Derived | None
    below_min_coverage: bool
    places: list[PublicPlaceValue]


class PublicAreaPerformance(BaseModel):
    area_code: str
    area_name: str
    level: SystemLevel
    member_places: int
    metrics: list[PublicMetricPerformance]


PUBLIC_PERFORMANCE_CSV_FIELDS = [
    "area_code",
    "metric_code",
    "period",
    "area_value",
    "coverage",
    *PublicPlaceValue.model_fields,
]
