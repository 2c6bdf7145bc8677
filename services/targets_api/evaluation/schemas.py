from typing import Literal

from pydantic import BaseModel, Field

from services.common.figures import Derived

Event = Literal["leader_confirmed", "governance_adopted"]
GroupBy = Literal["governance_model", "joint_appointment", "none"]
Reading = Literal["improved", "worsened", "increased", "decreased", "no detectable change"]


class EffectEstimate(BaseModel):
    k: int | None = Field(
        description="Periods since the event (0: the period containing it; negative: before "
        "it); null for the average over k = 0..window"
    )
    estimate: Derived
    se: Derived = Field(description="Clustered by place")
    ci_lower: Derived  # the 95 % t interval with the group's df
    ci_upper: Derived
    observations: int = Field(
        description="The treated observations averaged (for a pre-period: the group's "
        "observations at that k)"
    )
    places: int


class GroupEvaluation(BaseModel):
    group: str = Field(
        description="The governance model, `joint` or `not_joint`, or `all` (by=none)"
    )
    estimable: bool
    refused: str | None = Field(description="Why no estimate is given; null when estimable")
    treated_places: int | None
    control_places: int | None = Field(
        description="Places untreated in a period in which a treated place of the group is "
        "observed after its event (never-treated and not-yet-treated)"
    )
    observations: int | None
    treated_observations: int | None
    df: int | None = Field(description="min(treated_places, control_places) - 1")
    average: EffectEstimate | None = Field(
        description="The average effect over k = 0..window, weighted by treated observations"
    )
    reading: Reading | None = Field(
        description="From the average and the metric's direction: improved or worsened only "
        "when its interval excludes 0 (increased or decreased for a neutral metric)"
    )
    effects: list[EffectEstimate]  # k = 0..window
    pre_periods: list[EffectEstimate]  # k = -window..-1, on untreated observations only
    pretrend_p_value: Derived | None = Field(
        description="The pre-period estimates' joint Wald test (F); null without pre-periods"
    )
    warnings: list[str]


class Evaluation(BaseModel):
    metric_code: str
    metric_version: int
    direction: str
    periodicity: str
    event: Event
    by: GroupBy
    window: int
    first_period: str | None  # the closed periods used
    last_period: str | None
    periods: int
    places: int  # with observations in those periods
    warnings: list[str]
    groups: list[GroupEvaluation]


EVALUATION_CSV_FIELDS = [
    "metric_code",
    "event",
    "by",
    "window",
    "group",
    "estimable",
    "refused",
    "term",
    *EffectEstimate.model_fields,
    "df",
    "treated_places",
    "control_places",
    "reading",
    "pretrend_p_value",
]
