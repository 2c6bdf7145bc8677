from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.common.request_body import RequestBody
from services.common.responses import ListPublic
from services.common.vocabulary import (
    EscalationAction,
    EscalationLevel,
    EscalationReason,
    EscalationState,
)
from services.targets_api.leaders.schemas import printable


def _text(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


def _paragraphs(value: str) -> str:
    # Line breaks are allowed in a description (the CSV quotes them); NUL never (PostgreSQL
    # text cannot hold it), nor the other control characters that break reports.
    if any((ord(c) < 32 and c not in "\n\r\t") or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return value


Title = Annotated[str, _text(200), AfterValidator(printable)]
Paragraphs = Annotated[str, _text(5000), AfterValidator(_paragraphs)]


class EscalationCreate(RequestBody):
    """A place's obstacle, put to its ICB."""

    title: Title = Field(examples=["Discharge delays: no step-down beds from January"])
    description: Paragraphs = Field(description="What is in the way, and what was tried")
    ask: Paragraphs = Field(description="What the place asks the ICB to do")
    metric_code: Annotated[str, _text(64)] | None = Field(
        default=None, description="The metric (a target of the agreed plan, or data) it is about"
    )


class StepCreate(RequestBody):
    """The addressee's answer: why it acknowledges, resolves or escalates."""

    note: Paragraphs | None = Field(default=None, description="The answer, kept in the history")


class StepPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: EscalationAction
    note: str | None
    from_area: str | None = Field(description="Where it was addressed before the step")
    to_area: str = Field(description="Where it is addressed after the step")
    actor: str = Field(description="The key (key:<id>:<name>) or the rule that took the step")
    at: datetime


class EscalationPublic(BaseModel):
    """One escalation at one level; ``escalated_to_id`` names the row it opened above."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    place_code: str
    place_name: str
    plan_id: int | None
    metric_code: str | None
    reason: EscalationReason
    title: str
    description: str
    ask: str
    addressed_to: str = Field(description="The area code it is addressed to")
    addressed_to_name: str
    level: EscalationLevel
    state: EscalationState
    escalated_from_id: int | None
    escalated_to_id: int | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    acknowledge_by: date | None = Field(
        description="For an open escalation at an ICB: the last day to acknowledge it before "
        "it goes to the region by itself"
    )


class EscalationDetail(EscalationPublic):
    steps: list[StepPublic] = Field(description="Its history at this level, oldest first")


class EscalationsPublic(ListPublic[EscalationPublic]):
    """Escalations, newest first."""


CSV_FIELDS = (
    "id",
    "place_code",
    "place_name",
    "plan_id",
    "metric_code",
    "reason",
    "title",
    "addressed_to",
    "addressed_to_name",
    "level",
    "state",
    "escalated_from_id",
    "escalated_to_id",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "acknowledge_by",
)
