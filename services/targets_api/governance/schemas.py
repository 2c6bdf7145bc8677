from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from services.common.params import IsoDate
from services.common.request_body import RequestBody
from services.common.responses import ListPublic
from services.common.vocabulary import GovernanceModel, MemberCategory
from services.targets_api.leaders.schemas import Organisation, line, printable

Description = Annotated[str, line(1000), AfterValidator(printable)]
DelegatedFunction = Annotated[
    str, line(300), AfterValidator(printable), Field(examples=["Better Care Fund pooled budget"])
]
# A partnership of a hundred organisations is already beyond any place's; more is a mistake.
MAX_MEMBERS = 100
MAX_FUNCTIONS = 50


def _described_when_other(description: str | None, info: ValidationInfo, kind: str) -> str | None:
    if description is None and info.data.get(kind) == "other":
        raise ValueError(f"an {kind} of 'other' needs a description saying what it is")
    return description


class Member(RequestBody):
    """One organisation in the place partnership, in one category."""

    organisation: Organisation
    category: MemberCategory
    # Checked even when omitted, so that an `other` without one names this field.
    description: Description | None = Field(
        default=None, validate_default=True, description="What it is; needed for `other`"
    )

    @field_validator("description")
    @classmethod
    def _other_is_described(cls, description: str | None, info: ValidationInfo) -> str | None:
        return _described_when_other(description, info, "category")


class GovernanceUpdate(RequestBody):
    """The place's governance arrangement as it now stands; it becomes the next version."""

    model: GovernanceModel
    model_description: Description | None = Field(
        default=None, validate_default=True, description="What the model is; needed for `other`"
    )
    adopted_on: IsoDate | None = Field(
        default=None, description="When the local authority and the ICB adopted it (not ahead)"
    )
    scrutinised_on: IsoDate | None = Field(
        default=None, description="When the local scrutiny committee scrutinised it (not ahead)"
    )
    members: Annotated[list[Member], Field(max_length=MAX_MEMBERS)] = []
    delegated_functions: Annotated[list[DelegatedFunction], Field(max_length=MAX_FUNCTIONS)] = []

    @field_validator("model_description")
    @classmethod
    def _other_is_described(cls, description: str | None, info: ValidationInfo) -> str | None:
        return _described_when_other(description, info, "model")


class MemberPublic(BaseModel):
    organisation: str
    category: MemberCategory
    description: str | None = None


class GovernanceVersionPublic(BaseModel):
    """One version of a place's arrangement, with who recorded it and when."""

    model_config = ConfigDict(from_attributes=True)

    place_code: str
    version: int
    model: GovernanceModel
    model_description: str | None
    adopted_on: date | None
    scrutinised_on: date | None
    members: list[MemberPublic]
    delegated_functions: list[str]
    changed_by: str = Field(description="The key that recorded this version")
    changed_at: datetime


class Derived(BaseModel):
    """What the arrangement says about the place (derived, never stored)."""

    national_date: date = Field(
        description="The date by which every place is to have adopted its model "
        "(JOINEDUP_GOVERNANCE_NATIONAL_DATE)"
    )
    adopted: bool = Field(description="Adopted on or before today")
    adopted_by_national_date: bool
    scrutinised_before_adoption: bool = Field(
        description="Scrutinised by the local scrutiny committee before (not on) the day it was "
        "adopted"
    )
    meets_minimum_membership: bool
    missing_categories: list[MemberCategory] = Field(
        description="The minimum membership's categories no member is in"
    )
    shortfalls: list[str] = Field(
        description="Why the place falls short: no_model, not_adopted, "
        "adopted_after_national_date, not_scrutinised_before_adoption, missing_members"
    )


class GovernancePublic(GovernanceVersionPublic, Derived):
    """The place's current arrangement, what it says about the place, and every version."""

    history: list[GovernanceVersionPublic] = Field(
        description="Every version, newest (this one) first"
    )


class PlaceGovernanceRow(Derived):
    """One member place of an area, as a roll-up shows it."""

    place_code: str
    place_name: str
    icb_code: str | None
    version: int | None
    model: GovernanceModel | None
    adopted_on: date | None
    scrutinised_on: date | None
    falls_short: bool


class AreaGovernancePublic(ListPublic[PlaceGovernanceRow]):
    """An ICB's, a region's or England's places: how many have each part of the arrangement,
    and every member place (``data``, ``falls_short`` on those that fall short)."""

    area_code: str
    area_name: str
    level: str
    national_date: date
    places: int
    with_model: int
    adopted: int
    adopted_by_national_date: int
    scrutinised_before_adoption: int
    meeting_minimum_membership: int
    falling_short: list[str] = Field(description="The codes of the places that fall short")
    missing_by_category: dict[str, int] = Field(
        description="For each minimum category, how many places have no member in it"
    )
    by_model: dict[str, int] = Field(description="How many places have each model")


CSV_FIELDS = (
    "place_code",
    "place_name",
    "icb_code",
    "version",
    "model",
    "adopted_on",
    "scrutinised_on",
    "adopted",
    "adopted_by_national_date",
    "scrutinised_before_adoption",
    "meets_minimum_membership",
    "missing_categories",
    "falls_short",
    "shortfalls",
)
