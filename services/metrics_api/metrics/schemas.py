from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from services.common.magnitude import Magnitude, PositiveMagnitude
from services.common.periods import Periodicity
from services.common.request_body import RequestBody

MetricCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$"),
    Field(examples=["bcf-falls-65plus"]),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class MetricScope(StrEnum):
    national = "national"
    local = "local"


class MetricStatus(StrEnum):
    active = "active"
    retired = "retired"


class Kind(StrEnum):
    # Named count_ because a member called count would hide str.count on every Kind value.
    count_ = "count"
    proportion = "proportion"
    rate = "rate"
    value = "value"


class Direction(StrEnum):
    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"
    neutral = "neutral"


class Aggregation(StrEnum):
    sum = "sum"
    ratio_of_sums = "ratio_of_sums"
    population_weighted_mean = "population_weighted_mean"


class MetricDefinitionIn(RequestBody):
    """What a version defines; unset optional fields take defaults from the kind. The numbers
    a version defines are held to the bound every observation is (Magnitude)."""

    name: Name
    description: Text = ""
    domain: Name
    mandatory: StrictBool = False
    kind: Kind
    multiplier: PositiveMagnitude | None = None
    unit: Text = ""
    direction: Direction
    periodicity: Periodicity
    aggregation: Aggregation | None = None
    valid_min: Magnitude | None = None
    valid_max: Magnitude | None = None
    decimals: Annotated[int, Field(ge=0, le=6)] | None = None
    submission_deadline_days: Annotated[int, Field(ge=0, le=366)] = 45
    source: Text = ""
    reporting_from: Annotated[str, StringConstraints(max_length=16)] | None = Field(
        default=None,
        examples=["2025-04"],
        description="The first period for which data is expected, in the form of the metric's "
        "periodicity. Default on creation: the period containing the day the metric "
        "is created (England's calendar); on a new version: the current version's, "
        "as the period of the new periodicity containing its first day.",
    )


class MetricCreate(MetricDefinitionIn):
    code: MetricCode
    scope: MetricScope
    owner_area_code: str | None = Field(
        default=None, description="Required for local metrics; national metrics belong to England."
    )


class MetricUpdate(MetricDefinitionIn):
    """A PUT replaces the definition; identity fields may be repeated but not changed."""

    code: str | None = None
    scope: MetricScope | None = None
    owner_area_code: str | None = None


class MetricDefinition(BaseModel):
    """A complete, resolved definition: exactly what one version stores."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    description: str
    domain: str
    mandatory: bool
    kind: Kind
    multiplier: float | None
    unit: str
    direction: Direction
    periodicity: Periodicity
    aggregation: Aggregation
    valid_min: float | None
    valid_max: float | None
    decimals: int
    submission_deadline_days: int
    source: str
    reporting_from: str


class MetricVersionPublic(MetricDefinition):
    code: str = Field(validation_alias="metric_code")
    version: int
    version_created_at: datetime = Field(validation_alias="created_at")


class MetricPublic(MetricVersionPublic):
    scope: MetricScope
    owner_area_code: str
    status: MetricStatus
    created_at: datetime = Field(validation_alias="metric_created_at")
    retired_at: datetime | None
