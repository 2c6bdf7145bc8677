from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.common.request_body import RequestBody
from services.common.responses import ListPublic
from services.common.vocabulary import NominationDecision, NominationStatus
from services.targets_api.plans.schemas import AreaCode, Text, Title


class DecisionCreate(RequestBody):
    """One body's answer to a leader's nomination."""

    organisation_code: AreaCode = Field(
        description="The place itself (its local authority) or its ICB."
    )
    decision: NominationDecision
    signatory: Title = Field(description="The person who signs on the organisation's behalf.")
    # Checked even when omitted, so that a decline without a reason names this field.
    comment: Text | None = Field(default=None, validate_default=True)

    @field_validator("comment")
    @classmethod
    def _decline_gives_a_reason(cls, comment: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("decision") == "decline" and not comment:
            raise ValueError("a decline needs a comment saying why")
        return comment or None


class DecisionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    organisation_code: str
    decision: NominationDecision
    signatory: str
    comment: str | None
    key_id: int
    decided_at: datetime


class NominationPublic(BaseModel):
    """A proposed leader and where the two bodies' agreement stands."""

    id: int
    place_code: str
    name: str
    role: str
    organisation: str
    appointed_on: date
    joint_appointment: bool
    status: NominationStatus = Field(
        description="nominated until both bodies confirm (confirmed: the leader's term, "
        "leader_id, starts on appointed_on) or one declines (declined)"
    )
    nominated_by_key_id: int
    leader_id: int | None = Field(description="The term the nomination became, once confirmed")
    created_at: datetime
    closed_at: datetime | None = Field(description="When it was confirmed or declined")
    required_organisations: list[str] = Field(
        description="Who must confirm: the place itself (its local authority) and its ICB"
    )
    awaiting: list[str] = Field(
        description="Of the required organisations, those that have not answered yet (none "
        "once the nomination is closed)"
    )
    decisions: list[DecisionPublic] = Field(description="The bodies' answers, oldest first")


class NominationsPublic(ListPublic[NominationPublic]):
    """A place's nominations, newest first."""
