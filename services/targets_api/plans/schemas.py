from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from services.common.magnitude import Magnitude, NonNegativeMagnitude
from services.common.params import IsoDate
from services.common.request_body import RequestBody
from services.common.responses import ListPublic
from services.targets_api.resources.schemas import ResourcesPublic

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
# Period codes are checked against the metric's periodicity in the service; the length bound
# is the column's (FY2025-26 is the longest form).
PeriodCode = Annotated[
    str, StringConstraints(min_length=1, max_length=9), Field(examples=["2025-Q2"])
]
AreaCode = Annotated[
    str, StringConstraints(min_length=1, max_length=9), Field(examples=["E08000035"])
]
# A monthly trajectory over ten years is 120 points; anything far longer is a mistake.
MAX_TRAJECTORY_POINTS = 240


class PlanStatus(StrEnum):
    draft = "draft"
    proposed = "proposed"
    agreed = "agreed"
    superseded = "superseded"


class Decision(StrEnum):
    approve = "approve"
    reject = "reject"


class PlanCreate(RequestBody):
    title: Title
    starts_on: IsoDate
    ends_on: IsoDate

    @field_validator("ends_on")
    @classmethod
    def _not_before_start(cls, ends_on: date, info: ValidationInfo) -> date:
        starts_on = info.data.get("starts_on")
        if starts_on is not None and ends_on < starts_on:
            raise ValueError(f"the plan cannot end ({ends_on}) before it starts ({starts_on})")
        return ends_on


class TrajectoryPoint(RequestBody):
    period: PeriodCode
    value: Magnitude


class TrajectoryPointPublic(BaseModel):
    # Not TrajectoryPoint: a target stored before the magnitude bound must still be readable.
    period: str
    value: float


class TargetUpdate(RequestBody):
    """The body of a PUT: it creates the metric's target in the plan or replaces it whole."""

    baseline_period: PeriodCode
    baseline_value: Magnitude
    target_period: PeriodCode
    target_value: Magnitude
    trajectory: Annotated[list[TrajectoryPoint], Field(max_length=MAX_TRAJECTORY_POINTS)] = []
    tolerance: Annotated[
        NonNegativeMagnitude | None,
        Field(
            description="How far worse than expected still counts as at risk rather than off "
            "track; null means the default, 10% of |target - baseline|."
        ),
    ] = None


class ApprovalCreate(RequestBody):
    organisation_code: AreaCode = Field(
        description="The place itself (its local authority) or its ICB."
    )
    decision: Decision
    signatory: Title = Field(description="The person who signs on the organisation's behalf.")
    # Checked even when omitted, so that a rejection without a reason names this field.
    comment: Text | None = Field(default=None, validate_default=True)

    @field_validator("comment")
    @classmethod
    def _rejection_gives_a_reason(cls, comment: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("decision") is Decision.reject and not comment:
            raise ValueError("a rejection needs a comment saying why")
        return comment or None


class MetricVersionChange(BaseModel):
    metric_code: str
    metric_version: int = Field(description="The version the target was set against.")
    current_metric_version: int


class TargetPublic(BaseModel):
    metric_code: str
    metric_version: int = Field(description="The metric's version when the target was set.")
    current_metric_version: int | None = Field(
        description="The metric's version now, as metrics_api last confirmed it."
    )
    metric_version_changed: bool
    baseline_period: str
    baseline_value: float
    target_period: str
    target_value: float
    trajectory: list[TrajectoryPointPublic]
    tolerance: float | None
    created_at: datetime
    updated_at: datetime


class ApprovalPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    approval_round: int
    organisation_code: str
    decision: Decision
    signatory: str
    comment: str | None
    key_id: int
    decided_at: datetime


class PlanSummary(BaseModel):
    """A plan without its targets and approvals, as lists show it."""

    id: int
    place_code: str
    title: str
    starts_on: IsoDate
    ends_on: IsoDate
    revision: int
    revises_plan_id: int | None
    status: PlanStatus
    approval_round: int = Field(description="Starts at 0; each submission opens the next round.")
    rejection_reason: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    agreed_at: datetime | None
    superseded_at: datetime | None
    metric_version_changed: bool = Field(
        description="Some target was set against a metric version that has since been replaced."
    )
    metric_version_changes: list[MetricVersionChange]


class PlanPublic(PlanSummary):
    targets: list[TargetPublic]
    approvals: list[ApprovalPublic] = Field(description="Every round's decisions, oldest first.")
    resources: ResourcesPublic = Field(
        description="Its partners' contributions and planned spend, against actual spend"
    )


class PlansPublic(ListPublic[PlanSummary]):
    pass


class PlanEventPublic(BaseModel):
    """One entry of a plan's audit history."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor: str
    actor_key_id: int | None
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class PlanHistoryPublic(ListPublic[PlanEventPublic]):
    pass
