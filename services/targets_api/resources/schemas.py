from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from services.common.periods import Periodicity, parse_as
from services.common.request_body import RequestBody
from services.common.vocabulary import ContributionKind, Scheme
from services.targets_api.leaders.schemas import Organisation


def _financial_year(code: str) -> str:
    return parse_as(code, Periodicity.financial_year).code


FinancialYear = Annotated[
    str,
    Field(min_length=1, max_length=9, examples=["FY2025-26"]),
    AfterValidator(_financial_year),
]
# Pounds and pence, below the API's bound on every number (docs/api.md, "Number bounds").
AmountGbp = Annotated[
    Decimal,
    Field(
        ge=0,
        le=Decimal("999999999999.99"),
        decimal_places=2,
        allow_inf_nan=False,
        examples=[1250000],
    ),
]
# Eight schemes over a ten-year plan is 80 rows; a few hundred partners' lines is already far
# beyond any place's.
MAX_ROWS = 500


class Contribution(RequestBody):
    """One partner's contribution to the plan in one financial year."""

    financial_year: FinancialYear
    organisation: Organisation = Field(
        description="The place's code (its local authority), its ICB's code, or an "
        "organisation that is a member of the place's current governance arrangement"
    )
    kind: ContributionKind = Field(
        description="`pooled` into a shared budget, or `aligned`: kept by the partner and spent "
        "to the plan"
    )
    amount_gbp: AmountGbp


class PlannedSpend(RequestBody):
    """What the plan means to spend on one scheme type in one financial year."""

    financial_year: FinancialYear
    scheme: Scheme
    amount_gbp: AmountGbp


class ResourcesUpdate(RequestBody):
    """The plan's resources as a whole: they replace what it had."""

    contributions: Annotated[list[Contribution], Field(max_length=MAX_ROWS)] = []
    planned_spend: Annotated[list[PlannedSpend], Field(max_length=MAX_ROWS)] = []


class ContributionPublic(BaseModel):
    financial_year: str
    organisation: str
    kind: ContributionKind
    amount_gbp: float


class PlannedSpendPublic(BaseModel):
    financial_year: str
    scheme: Scheme
    amount_gbp: float


class SpendAgainstPlan(BaseModel):
    """One scheme in one financial year: planned, and spent so far by the place's current
    observations of the scheme's spend metric (spend to date in the year)."""

    financial_year: str
    scheme: Scheme
    metric_code: str = Field(description="The national metric the actual spend is submitted as")
    planned_gbp: float | None = Field(description="None when the plan sets no spend for it")
    actual_gbp: float | None = Field(description="Spend to date at ``actual_to``; None before any")
    actual_to: str | None = Field(description="The latest quarter of the year with a value")
    year_complete: bool = Field(description="The year's last quarter (January to March) is in")
    variance_gbp: float | None = Field(description="actual_gbp - planned_gbp, when both exist")
    spent_share: float | None = Field(description="actual_gbp / planned_gbp, when planned > 0")
    below_plan: bool = Field(description="The year is complete and less was spent than planned")


class YearTotals(BaseModel):
    financial_year: str
    pooled_gbp: float
    aligned_gbp: float
    contributed_gbp: float
    planned_spend_gbp: float
    actual_spend_gbp: float | None


class ResourcesPublic(BaseModel):
    """The plan's contributions and planned spend, and its planned spend against actual."""

    plan_id: int
    place_code: str
    financial_years: list[str] = Field(description="The financial years of the plan's period")
    frozen: bool = Field(description="Only a draft's resources can change")
    contributions: list[ContributionPublic]
    planned_spend: list[PlannedSpendPublic]
    totals: list[YearTotals] = Field(description="Per financial year of the plan")
    spend: list[SpendAgainstPlan] = Field(
        description="Per financial year and scheme that has planned or actual spend"
    )


SPEND_CSV_FIELDS = tuple(SpendAgainstPlan.model_fields)
