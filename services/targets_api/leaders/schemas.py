from datetime import date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
)

from services.common.params import IsoDate
from services.common.request_body import RequestBody
from services.common.responses import ListPublic
from services.targets_api.progress.schemas import StatusCounts


def printable(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a line break or tab in a name breaks the CSV and
    # every report that prints it.
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("must not contain control characters (line breaks, tabs, NUL)")
    return value


def line(max_length: int) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


PersonName = Annotated[str, line(200), AfterValidator(printable), Field(examples=["Alex Morgan"])]
RoleTitle = Annotated[
    str, line(200), AfterValidator(printable), Field(examples=["Director of Integration"])
]
Organisation = Annotated[
    str,
    line(300),
    AfterValidator(printable),
    Field(examples=["Leeds City Council and NHS West Yorkshire ICB"]),
]


class LeaderCreate(RequestBody):
    """The person who is to be accountable for the place, and from which day."""

    name: PersonName
    role: RoleTitle
    organisation: Organisation = Field(
        description="Who employs them, or both bodies for a joint appointment"
    )
    appointed_on: Annotated[
        IsoDate,
        Field(
            description="First day of the term (YYYY-MM-DD); "
            "at most a year ahead, for a planned "
            "handover"
        ),
    ]
    joint_appointment: StrictBool = Field(
        description="Appointed jointly by the local authority and the ICB"
    )


class ConfirmationPublic(BaseModel):
    """One body's confirmation of the nomination a term came from."""

    model_config = ConfigDict(from_attributes=True)

    organisation_code: str
    signatory: str
    decided_at: datetime


class LeaderPublic(BaseModel):
    """One term of a place leader; ``ended_on`` is null for the latest term."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    place_code: str
    name: str
    role: str
    organisation: str
    appointed_on: date
    ended_on: date | None
    joint_appointment: bool
    created_at: datetime
    nomination_id: int | None = Field(
        default=None,
        description="The nomination the term came from; null for a term recorded directly "
        "(PUT /v1/places/{code}/leader), as agreed elsewhere",
    )
    confirmed: bool = Field(
        default=False,
        description="Whether the place's local authority and its ICB both confirmed the term "
        "here, through its nomination",
    )
    confirmed_at: datetime | None = Field(
        default=None, description="When the last of the two confirmations was given"
    )
    confirmed_by: list[ConfirmationPublic] = Field(
        default=[], description="Who confirmed it, for which body and when, oldest first"
    )


class LeadersPublic(ListPublic[LeaderPublic]):
    """A place's leadership terms, newest first."""


CSV_FIELDS = (
    "place_code",
    "name",
    "role",
    "organisation",
    "appointed_on",
    "ended_on",
    "joint_appointment",
    "created_at",
    "confirmed",
    "confirmed_at",
)


class PlanCounts(BaseModel):
    draft: int
    proposed: int
    agreed: int
    superseded: int


class PlacePublic(BaseModel):
    """A place as targets_api sees it: where it sits, who answers for it, and its plans."""

    code: str
    name: str
    level: str
    parent_code: str | None
    population: int | None
    icb_code: str | None
    region_code: str | None
    current_leader: LeaderPublic | None = Field(
        description="The leader in post today; null if nobody is"
    )
    next_leader: LeaderPublic | None = Field(
        description="A handover recorded in advance: the next term that has not started yet"
    )
    current_agreed_plan_id: int | None
    plan_counts: PlanCounts
    progress_counts: StatusCounts = Field(
        description="The agreed plan's targets by progress status, as last refreshed"
    )
