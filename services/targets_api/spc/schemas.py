from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, ValidationInfo, field_validator

from services.common.figures import Derived
from services.common.magnitude import Magnitude
from services.common.request_body import RequestBody
from services.targets_api.spc.service import (
    MIN_FIX_AFTER_N_POINTS,
    Assurance,
    Direction,
    PointType,
    SpcResult,
    Variation,
)

# Ten years of daily values is 3,653 points; a series far longer is a mistake, and the rules
# run in Python on the request's event loop.
MAX_SPC_POINTS = 10_000


class SpcRequest(RequestBody):
    values: Annotated[
        list[Magnitude],
        Field(
            min_length=1,
            max_length=MAX_SPC_POINTS,
            description="The series in time order, missing periods left out.",
        ),
    ]
    improvement_direction: Direction
    target: Magnitude | None = None
    screen_outliers: StrictBool = Field(
        default=True,
        description="Leave moving ranges of 3.267 x their mean or more out of the limits, once.",
    )
    fix_after_n_points: int | None = Field(
        default=None,
        ge=MIN_FIX_AFTER_N_POINTS,
        description="Each group's limits come from its first n points only.",
    )
    rebase_at_indices: list[int] = Field(
        default=[],
        description="0-based positions where a new limits group starts; runs and "
        "trends never cross groups.",
    )

    @field_validator("rebase_at_indices")
    @classmethod
    def _inside_series_and_increasing(cls, indices: list[int], info: ValidationInfo) -> list[int]:
        values = info.data.get("values")
        if values is None:  # already reported as invalid
            return indices
        last = len(values) - 1
        if any(not 1 <= i <= last for i in indices):
            raise ValueError(
                f"each rebase index must be from 1 to {last} (a position in values after the first)"
                if last
                else "a single value cannot be rebased"
            )
        if any(a >= b for a, b in zip(indices, indices[1:], strict=False)):
            raise ValueError("rebase indices must be strictly increasing")
        return indices


class SpcPointPublic(BaseModel):
    index: int = Field(description="0-based position in values.")
    value: float
    mean: Derived
    lpl: Derived | None = Field(
        description="Lower process limit; null when the group has no "
        "moving range to estimate it from."
    )
    upl: Derived | None = Field(description="Upper process limit; null as lpl.")
    point_type: PointType


class SpcPublic(BaseModel):
    points: list[SpcPointPublic]
    variation: Variation
    assurance: Assurance | None = Field(
        description="Null without a target or when the direction is neutral."
    )
    warnings: list[str] = Field(
        description="Cautions NHSRplotthedots raises for the same input, such as a limits "
        "group of fewer than 13 points (trial limits); empty when none."
    )

    @classmethod
    def of(cls, result: SpcResult) -> "SpcPublic":
        return cls(
            points=[
                SpcPointPublic(
                    index=i,
                    value=p.value,
                    mean=p.mean,
                    lpl=p.lpl,
                    upl=p.upl,
                    point_type=p.point_type,
                )
                for i, p in enumerate(result.points)
            ],
            variation=result.variation,
            assurance=result.assurance,
            warnings=result.warnings,
        )
