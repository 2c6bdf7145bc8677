"""Planned spend against actual, per financial year and scheme, and each year's totals: pure
functions of the plan's rows and the place's spend to date (no I/O)."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.common.periods import Periodicity, containing, parse_as
from services.common.vocabulary import SCHEMES, SPEND_METRICS
from services.targets_api.resources.schemas import SpendAgainstPlan, YearTotals


@dataclass(frozen=True)
class SpendToDate:
    """A scheme's spend to date in a financial year, as of its latest quarter reported."""

    period: str
    value: float


Key = tuple[str, str]  # (financial year, scheme)


def last_quarter(financial_year: str) -> str:
    """The quarter a financial year ends with (FY2025-26: 2026-Q1)."""
    return containing(
        Periodicity.quarterly, parse_as(financial_year, Periodicity.financial_year).end
    ).code


def spend_against_plan(
    years: Sequence[str], planned: Mapping[Key, Decimal], actual: Mapping[Key, SpendToDate]
) -> list[SpendAgainstPlan]:
    """A row for every (year of the plan, scheme) with planned or actual spend, in the plan's
    year order and the schemes' order."""
    rows = []
    for year in years:
        complete_at = last_quarter(year)
        for scheme in SCHEMES:
            plan_gbp, spent = planned.get((year, scheme)), actual.get((year, scheme))
            if plan_gbp is None and spent is None:
                continue
            planned_gbp = float(plan_gbp) if plan_gbp is not None else None
            actual_gbp = spent.value if spent else None
            complete = spent is not None and spent.period == complete_at
            variance = share = None
            below = False
            if planned_gbp is not None and actual_gbp is not None:
                variance = actual_gbp - planned_gbp
                share = actual_gbp / planned_gbp if planned_gbp else None
                below = complete and actual_gbp < planned_gbp
            rows.append(
                SpendAgainstPlan(
                    financial_year=year,
                    scheme=scheme,
                    metric_code=SPEND_METRICS[scheme],
                    planned_gbp=planned_gbp,
                    actual_gbp=actual_gbp,
                    actual_to=spent.period if spent else None,
                    year_complete=complete,
                    variance_gbp=variance,
                    spent_share=share,
                    below_plan=below,
                )
            )
    return rows


def year_totals(
    years: Sequence[str],
    contributions: Iterable[tuple[str, str, Decimal]],
    planned: Mapping[Key, Decimal],
    spend: Sequence[SpendAgainstPlan],
) -> list[YearTotals]:
    """Per year: pooled and aligned contributions (``contributions`` as (year, kind, amount)),
    planned spend, and actual spend to date (None before any scheme has a value)."""
    pooled = dict.fromkeys(years, Decimal(0))
    aligned = dict.fromkeys(years, Decimal(0))
    for year, kind, amount in contributions:
        (pooled if kind == "pooled" else aligned)[year] += amount
    totals = []
    for year in years:
        actuals = [
            r.actual_gbp for r in spend if r.financial_year == year and r.actual_gbp is not None
        ]
        totals.append(
            YearTotals(
                financial_year=year,
                pooled_gbp=float(pooled[year]),
                aligned_gbp=float(aligned[year]),
                contributed_gbp=float(pooled[year] + aligned[year]),
                planned_spend_gbp=float(
                    sum((a for (y, _), a in planned.items() if y == year), Decimal(0))
                ),
                actual_spend_gbp=sum(actuals) if actuals else None,
            )
        )
    return totals
