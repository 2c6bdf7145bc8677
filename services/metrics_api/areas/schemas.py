from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.request_body import RequestBody

# [0-9], not \d: the regex engine's \d also matches other scripts' digits.
AreaCode = Annotated[
    str,
    StringConstraints(pattern=r"^E[0-9]{8}$"),
    Field(description="ONS GSS code, e.g. E06000001", examples=["E06000001"]),
]


class AreaLevel(StrEnum):
    nation = "nation"
    region = "region"
    icb = "icb"
    place = "place"


# Each level sits exactly one below the one it maps to.
PARENT_LEVEL = {
    AreaLevel.region: AreaLevel.nation,
    AreaLevel.icb: AreaLevel.region,
    AreaLevel.place: AreaLevel.icb,
}


class AreaCreate(RequestBody):
    code: AreaCode
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    level: AreaLevel
    parent_code: AreaCode
    population: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None  # the column is int4
    population_year: Annotated[int, Field(ge=1900, le=2100)] | None = None


class AreaPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    level: AreaLevel
    parent_code: str | None
    population: int | None
    population_year: int | None
    created_at: datetime
