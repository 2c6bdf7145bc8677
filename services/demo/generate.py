"""The demo's data, made from a seed: leaders, agreed plans and years of observations for every
place. Pure functions only: the same seed, places, metric definitions and day give the same
result, and nothing here touches the network or the database.

Every random draw comes from a ``random.Random`` seeded with the demo seed and what the draw is
for (a place code, a metric code), so a place's data does not depend on which other places are
loaded. A series is modelled on the scale where its kind behaves (logit for proportions, log
otherwise): each place has its own level, trend and noise, monthly and quarterly metrics have a
winter effect, some series take a lasting step (a new service, a coding change) that SPC flags
as a special cause, and the counts behind proportions and rates carry their sampling noise.
"""

import csv
import io
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

from services.common.periods import (
    Period,
    Periodicity,
    containing,
    from_index,
    index,
    periods_between,
    shift,
)
from services.common.vocabulary import SPEND_METRICS, Scheme
from services.ingest.submissions.schemas import CSV_COLUMNS

PERIODS_PER_YEAR = {
    Periodicity.monthly: 12,
    Periodicity.quarterly: 4,
    Periodicity.annual: 1,
    Periodicity.financial_year: 1,
}
MISSING_SHARE = 0.02  # of place-metric-periods never sent
DUE_MISSING_SHARE = 0.08  # of periods whose deadline is still ahead: not sent yet
LATE_SHARE = 0.03  # held back to the second batch
OUTAGE_SHARE = 0.05  # of places whose monthly returns stopped for two or three months
STEP_SHARE = 0.4  # of series with a lasting step change
CORRECTED_PLACES_SHARE = 0.35  # of places that correct one to three values afterwards
REJECTED_PLAN_SHARE = 0.06  # of plans the ICB first sends back for more ambition
DECLINED_NOMINATION_SHARE = 0.15  # of places whose ICB first declines another candidate
PENDING_NOMINATION_SHARE = 0.08  # of places with a leader in post whose successor awaits the ICB
NO_GOVERNANCE_SHARE = 0.08  # of places with no governance arrangement in the register
NO_HEALTHWATCH_SHARE = 0.15  # of partnerships without Healthwatch
LATE_ADOPTION_SHARE = 0.2  # of models adopted after the national date (2023-04-01)
BELOW_PLAN_SHARE = 0.3  # of schemes in a year that spend well below what the plan set
# The evaluation page's real finding (docs/evaluation.md): from the month a joint committee is
# adopted, its place's discharge to usual residence improves by this much on the logit scale
# (about a percentage point), and no other model's does.
PLANTED_EFFECT = ("joint_committee", "bcf-discharge-usual-residence", 0.15)
SOURCE = "joinedup demo: synthetic data, not real figures"
# Planned spend by scheme a year, GBP per resident (of the order of a Better Care Fund's), and
# how the partners meet it: the local authority and the ICB pool most of it, the ICB aligns
# the rest.
SPEND_PER_HEAD: dict[Scheme, float] = {
    "home_care": 45.0,
    "reablement": 15.0,
    "carers": 6.0,
    "assistive_technology": 5.0,
    "disabled_facilities_grants": 10.0,
    "residential_placements": 35.0,
    "intermediate_care": 25.0,
    "other": 9.0,
}
POOLED_BY_PLACE, POOLED_BY_ICB = 0.35, 0.55


# --- what the demo is given ------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    icb_code: str
    population: int

    @classmethod
    def from_area(cls, area: Mapping[str, Any]) -> "Place":
        return cls(
            code=area["code"],
            name=area["name"],
            icb_code=area["parent_code"],
            population=int(area.get("population") or 100_000),
        )

    @property
    def short_name(self) -> str:
        """ "Bristol, City of" is Bristol in a sentence."""
        return self.name.split(",")[0].strip()


@dataclass(frozen=True)
class Metric:
    """A metric's current definition, as GET /v1/metrics gives it."""

    code: str
    name: str
    scope: str
    owner_area_code: str | None
    kind: str
    multiplier: float | None
    direction: str
    periodicity: Periodicity
    valid_min: float | None = None
    valid_max: float | None = None
    decimals: int = 1
    mandatory: bool = False
    submission_deadline_days: int = 45

    @classmethod
    def from_api(cls, body: Mapping[str, Any]) -> "Metric":
        decimals = body.get("decimals")
        return cls(
            code=body["code"],
            name=body["name"],
            scope=body["scope"],
            owner_area_code=body.get("owner_area_code"),
            kind=body["kind"],
            multiplier=body.get("multiplier"),
            direction=body["direction"],
            periodicity=Periodicity(body["periodicity"]),
            valid_min=body.get("valid_min"),
            valid_max=body.get("valid_max"),
            decimals=int(decimals) if decimals is not None else 1,
            mandatory=bool(body.get("mandatory")),
            submission_deadline_days=int(body.get("submission_deadline_days") or 45),
        )

    @property
    def is_ratio(self) -> bool:
        return self.kind in ("proportion", "rate")

    @property
    def improvement(self) -> int:
        """+1 when higher is better, -1 when lower is, 0 for a neutral metric."""
        return {"higher_is_better": 1, "lower_is_better": -1}.get(self.direction, 0)

    def applies_to(self, place: Place) -> bool:
        return self.scope == "national" or self.owner_area_code in (place.code, place.icb_code)


@dataclass(frozen=True)
class Profile:
    """How a metric behaves. Spreads, trends and noise are on the model's scale (logit for
    proportions, log otherwise), so they are relative and work for any size of place."""

    level: float  # England's typical value (counts: per 100,000 people per period)
    spread: float  # places' spread around England
    trend: float  # typical yearly improvement; each place draws its own
    seasonal: float  # winter pressure at its height
    noise: float  # variation from period to period beyond the counting noise
    denominator: float = 1.0  # proportions: cases per person per period; rates: of the people
    older: bool = False  # the denominator is the population aged 65 and over


NATIONAL_PROFILES = {
    "bcf-avoidable-admissions": Profile(200, 0.20, 0.03, 0.06, 0.03),
    "bcf-discharge-usual-residence": Profile(92.5, 0.35, 0.05, 0.12, 0.06, denominator=0.009),
    "bcf-falls-65plus": Profile(520, 0.18, 0.02, 0.05, 0.03, older=True),
    "bcf-residential-admissions-65plus": Profile(560, 0.25, 0.04, 0.0, 0.05, older=True),
    "bcf-reablement-91-days": Profile(82, 0.30, 0.05, 0.0, 0.08, denominator=0.0007),
}
FALLBACK_PROFILES = {
    "proportion": Profile(70, 0.30, 0.04, 0.05, 0.05, denominator=0.002),
    "rate": Profile(300, 0.20, 0.03, 0.05, 0.04),
    "count": Profile(100, 0.20, 0.03, 0.05, 0.05),
    "value": Profile(50, 0.15, 0.02, 0.03, 0.04),
}


@dataclass(frozen=True)
class LocalTemplate:
    """A local metric a place or an ICB might define for itself."""

    suffix: str
    name: str
    description: str
    domain: str
    kind: str
    unit: str
    direction: str
    periodicity: str
    profile: Profile

    def body(self, code: str, *, owner: str, owner_name: str) -> dict[str, Any]:
        multiplier = {"proportion": 100, "rate": 100_000}.get(self.kind)
        return {
            "code": code,
            "scope": "local",
            "owner_area_code": owner,
            "name": f"{self.name} ({owner_name})",
            "description": self.description,
            "domain": self.domain,
            "kind": self.kind,
            "multiplier": multiplier,
            "unit": self.unit,
            "direction": self.direction,
            "periodicity": self.periodicity,
            "source": SOURCE,
        }


PLACE_TEMPLATES = (
    LocalTemplate(
        "discharge-before-noon",
        "Discharges before noon",
        "Share of discharges from acute wards completed before 12:00.",
        "Discharge and flow",
        "proportion",
        "%",
        "higher_is_better",
        "monthly",
        Profile(28, 0.30, 0.06, 0.05, 0.06, denominator=0.009),
    ),
    LocalTemplate(
        "delayed-discharge-bed-days",
        "Bed days lost to delayed discharge",
        "Acute bed days occupied by people medically fit to leave.",
        "Discharge and flow",
        "count",
        "bed days",
        "lower_is_better",
        "monthly",
        Profile(450, 0.30, 0.06, 0.10, 0.06),
    ),
    LocalTemplate(
        "carers-assessed",
        "Carers assessed (per 100,000)",
        "Carers' assessments completed, per 100,000 population.",
        "Carers",
        "rate",
        "per 100,000",
        "higher_is_better",
        "quarterly",
        Profile(120, 0.25, 0.05, 0.0, 0.05),
    ),
    LocalTemplate(
        "social-prescribing-referrals",
        "Social prescribing referrals",
        "Referrals to social prescribing link workers.",
        "Prevention",
        "count",
        "referrals",
        "neutral",
        "quarterly",
        Profile(180, 0.25, 0.05, 0.0, 0.05),
    ),
)
ICB_TEMPLATES = (
    LocalTemplate(
        "virtual-ward-occupancy",
        "Virtual ward occupancy",
        "Occupied virtual ward beds as a share of those available.",
        "Discharge and flow",
        "proportion",
        "%",
        "higher_is_better",
        "monthly",
        Profile(72, 0.30, 0.08, 0.04, 0.05, denominator=0.01),
    ),
    LocalTemplate(
        "same-day-emergency-care",
        "Emergency admissions treated same day",
        "Emergency admissions discharged on the day through same day emergency care.",
        "Prevention and avoiding admission",
        "proportion",
        "%",
        "higher_is_better",
        "monthly",
        Profile(33, 0.25, 0.05, 0.05, 0.05, denominator=0.008),
    ),
)


# --- what the demo makes ---------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """One CSV row for ingest. Proportions and rates carry numerator and denominator only (ingest
    derives the value); counts and values carry the value."""

    place_code: str
    metric_code: str
    period: str
    value: float | int | None = None
    numerator: int | None = None
    denominator: int | None = None
    note: str = ""

    def value_for(self, metric: Metric) -> float:
        if self.numerator is not None and self.denominator:
            return self.numerator / self.denominator * (metric.multiplier or 1)
        assert self.value is not None
        return float(self.value)

    def csv_fields(self) -> list[str]:
        return [
            self.place_code,
            self.metric_code,
            self.period,
            "" if self.value is None else str(self.value),
            "" if self.numerator is None else str(self.numerator),
            "" if self.denominator is None else str(self.denominator),
            self.note,
        ]


@dataclass(frozen=True)
class Leader:
    name: str
    role: str
    organisation: str
    appointed_on: date
    joint_appointment: bool

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "organisation": self.organisation,
            "appointed_on": self.appointed_on.isoformat(),
            "joint_appointment": self.joint_appointment,
        }


@dataclass(frozen=True)
class Target:
    metric_code: str
    baseline_period: str
    baseline_value: float
    target_period: str
    target_value: float
    trajectory: tuple[tuple[str, float], ...] = ()
    tolerance: float | None = None

    def body(self) -> dict[str, Any]:
        return {
            "baseline_period": self.baseline_period,
            "baseline_value": self.baseline_value,
            "target_period": self.target_period,
            "target_value": self.target_value,
            "trajectory": [{"period": p, "value": v} for p, v in self.trajectory],
            "tolerance": self.tolerance,
        }


@dataclass(frozen=True)
class Rejection:
    """The ICB sends the first proposal back: ``first`` was too timid a target for its metric."""

    first: Target
    comment: str


@dataclass(frozen=True)
class PlanSpec:
    title: str
    starts_on: date
    ends_on: date
    targets: tuple[Target, ...]
    place_signatory: str  # signs for the place's local authority
    icb_signatory: str  # signs for the ICB
    rejection: Rejection | None = None
    resources: dict[str, Any] | None = None  # the body of PUT .../resources

    def body(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "starts_on": self.starts_on.isoformat(),
            "ends_on": self.ends_on.isoformat(),
        }


@dataclass(frozen=True)
class NominationSpec:
    """How the latest leader is agreed: nominated by the steward and confirmed by the place's
    local authority and its ICB; at some places the ICB first declines another candidate, and
    at a few the ICB has not answered yet (the previous leader stays in post)."""

    declined: Leader | None
    decline_comment: str
    pending: bool


@dataclass(frozen=True)
class PlaceDemo:
    place: Place
    leaders: tuple[Leader, ...]  # oldest first; the latest one is agreed through a nomination
    nomination: NominationSpec
    governance: dict[str, Any] | None  # the body of PUT .../governance; None: none recorded
    plan: PlanSpec
    history: tuple[Observation, ...]  # the first batch
    late: tuple[Observation, ...]  # held back to the second batch
    corrections: tuple[Observation, ...]  # new versions of values already sent, third batch
    missing: tuple[tuple[str, str], ...]  # (metric, period) never sent
    steps: tuple[tuple[str, str], ...]  # (metric, period) where a series steps up or down


# --- periods ---------------------------------------------------------------------------------


def last_ended(periodicity: Periodicity, today: date) -> Period:
    """The latest period that has ended, with a day in hand: the database's clock may be in
    another time zone, and ingest refuses a period that has not ended by its reckoning."""
    return shift(containing(periodicity, today - timedelta(days=1)), -1)


def data_periods(periodicity: Periodicity, today: date, years: int) -> list[Period]:
    last = last_ended(periodicity, today)
    return periods_between(shift(last, 1 - years * PERIODS_PER_YEAR[periodicity]), last)


def plan_window(today: date) -> tuple[date, date]:
    """Two financial years that started about a year and a half before the latest data, so
    every kind of metric has data after its baseline and a target still ahead or just met."""
    month = shift(last_ended(Periodicity.monthly, today), -12)
    year = containing(Periodicity.financial_year, month.start).start.year
    return date(year, 4, 1), date(year + 2, 3, 31)


def _last_ending_by(periodicity: Periodicity, day: date) -> Period:
    period = containing(periodicity, day)
    return period if period.end <= day else shift(period, -1)


def target_periods(
    periodicity: Periodicity, starts_on: date, ends_on: date
) -> tuple[Period, Period | None, Period]:
    """Baseline (the last period before the plan), a midway milestone if one fits, target (the
    last period within the plan)."""
    baseline = _last_ending_by(periodicity, starts_on - timedelta(days=1))
    target = _last_ending_by(periodicity, ends_on)
    middle = (index(baseline) + index(target)) // 2
    midway = from_index(periodicity, middle) if index(baseline) < middle < index(target) else None
    return baseline, midway, target


# --- local metrics ---------------------------------------------------------------------------


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def icb_short_name(name: str) -> str:
    return re.sub(r"^NHS |\s*Integrated Care Board$", "", name).strip()


def _code(owner_name: str, suffix: str) -> str:
    return f"{slug(owner_name)[: 63 - len(suffix)].strip('-')}-{suffix}"


def local_metrics(
    seed: int, places: Sequence[Place], icb_names: Mapping[str, str]
) -> list[dict[str, Any]]:
    """POST bodies for the demo's local metrics: about one place in thirty and one ICB in
    twenty (at least one of each) define a measure of their own."""
    ranked = sorted(places, key=lambda p: _draw(seed, "local-owner", p.code))
    icbs = sorted({p.icb_code for p in places}, key=lambda c: _draw(seed, "local-icb", c))
    bodies = []
    for i, place in enumerate(ranked[: max(1, round(len(places) / 30))]):
        template = PLACE_TEMPLATES[i % len(PLACE_TEMPLATES)]
        bodies.append(
            template.body(
                _code(place.short_name, template.suffix),
                owner=place.code,
                owner_name=place.short_name,
            )
        )
    for i, icb in enumerate(icbs[: max(1, round(len(icbs) / 20))] if places else []):
        template = ICB_TEMPLATES[i % len(ICB_TEMPLATES)]
        name = icb_short_name(icb_names.get(icb, icb))
        bodies.append(template.body(_code(name, template.suffix), owner=icb, owner_name=name))
    return bodies


def profile_for(metric: Metric) -> Profile:
    if metric.code in NATIONAL_PROFILES:
        return NATIONAL_PROFILES[metric.code]
    for template in (*PLACE_TEMPLATES, *ICB_TEMPLATES):
        if metric.scope == "local" and metric.code.endswith(f"-{template.suffix}"):
            return template.profile
    return FALLBACK_PROFILES[metric.kind]


# --- randomness ------------------------------------------------------------------------------


def _rng(seed: int, *parts: object) -> random.Random:
    # A string seed is hashed with SHA-512: the same on every run and every machine.
    return random.Random(":".join(map(str, ("joinedup-demo", seed, *parts))))


def _draw(seed: int, *parts: object) -> float:
    return _rng(seed, *parts).random()


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# --- one series ------------------------------------------------------------------------------


def _to_scale(metric: Metric, value: float) -> float:
    if metric.kind == "proportion":
        p = min(max(value / (metric.multiplier or 100), 1e-3), 1 - 1e-3)
        return math.log(p / (1 - p))
    return math.log(max(value, 1e-3))


def _from_scale(metric: Metric, x: float) -> float:
    if metric.kind == "proportion":
        return (metric.multiplier or 100) / (1 + math.exp(-x))
    return math.exp(x)


def _winter(period: Period) -> float:
    """+1 in January, -1 in July; a quarter takes the mean of its months, a year nothing."""
    months = range(
        period.start.month - 1,
        period.start.month
        - 1
        + {Periodicity.monthly: 1, Periodicity.quarterly: 3}.get(period.periodicity, 12),
    )
    return sum(math.cos(2 * math.pi * m / 12) for m in months) / len(months)


@dataclass(frozen=True)
class _Series:
    observations: tuple[Observation, ...]  # one per period
    step_at: int | None  # position of the first period after the step


def _series(
    seed: int,
    place: Place,
    metric: Metric,
    periods: Sequence[Period],
    *,
    share_65: float,
    effect_from: date | None = None,
) -> _Series:
    """``effect_from``: the day from whose period on PLANTED_EFFECT improves the series."""
    profile = profile_for(metric)
    rng = _rng(seed, "series", place.code, metric.code)
    sign = metric.improvement or 1
    people = place.population * (share_65 if profile.older else 1.0)
    expected_denominator = max(3.0, people * profile.denominator)
    level = profile.level * place.population / 100_000 if metric.kind == "count" else profile.level
    centre = _to_scale(metric, level) + rng.gauss(0, profile.spread)
    growth = (
        rng.gauss(profile.trend, profile.trend * 0.9 + 0.01)
        if metric.improvement
        else rng.gauss(0, 0.02)
    )
    spread = math.hypot(
        profile.noise, _counting_noise(metric, _from_scale(metric, centre), expected_denominator)
    )
    step_at, step = None, 0.0
    if len(periods) >= 16 and rng.random() < STEP_SHARE:
        step_at = rng.randint(len(periods) * 3 // 10, len(periods) * 17 // 20)
        step = sign * rng.choice((1, 1, -1)) * rng.uniform(2.5, 4.0) * spread
    per_year = PERIODS_PER_YEAR[metric.periodicity]
    observations = []
    for i, period in enumerate(periods):
        years = i / per_year
        x = (
            centre
            + sign * growth * years
            - sign * profile.seasonal * _winter(period)
            + (step if step_at is not None and i >= step_at else 0.0)
            + (sign * PLANTED_EFFECT[2] if effect_from and period.end >= effect_from else 0.0)
            + rng.gauss(0, profile.noise)
        )
        observations.append(
            _observe(
                metric, place, period, _from_scale(metric, x), expected_denominator, years, rng
            )
        )
    return _Series(tuple(observations), step_at)


def _counting_noise(metric: Metric, value: float, denominator: float) -> float:
    """The sampling noise of one period's figure, on the model's scale."""
    if metric.kind == "proportion":
        p = value / (metric.multiplier or 100)
        return 1 / math.sqrt(max(denominator * p * (1 - p), 1.0))
    if metric.kind == "rate":
        return 1 / math.sqrt(max(denominator * value / (metric.multiplier or 1), 1.0))
    if metric.kind == "count":
        return 1 / math.sqrt(max(value, 1.0))
    return 0.0


def _observe(
    metric: Metric,
    place: Place,
    period: Period,
    value: float,
    expected_denominator: float,
    years: float,
    rng: random.Random,
) -> Observation:
    row = Observation(place.code, metric.code, period.code)
    if metric.kind == "proportion":
        # More people pass through hospital in winter, and the population grows.
        denominator = max(
            3,
            round(
                expected_denominator
                * (1 + 0.004 * years)
                * (1 + 0.04 * _winter(period))
                * (1 + rng.gauss(0, 0.03))
            ),
        )
        p = value / (metric.multiplier or 100)
        numerator = round(rng.gauss(denominator * p, math.sqrt(denominator * p * (1 - p))))
        return _ratio(metric, row, numerator, denominator)
    if metric.kind == "rate":
        denominator = max(3, round(expected_denominator * (1 + 0.005 * years)))
        numerator = _poisson(rng, denominator * value / (metric.multiplier or 1))
        return _ratio(metric, row, numerator, denominator)
    if metric.kind == "count":
        return _plain(metric, row, max(0, round(rng.gauss(value, math.sqrt(value)))))
    return _plain(metric, row, value)


def _ratio(metric: Metric, row: Observation, numerator: int, denominator: int) -> Observation:
    """Numerator kept within what the metric accepts: not negative, and a value (numerator /
    denominator x multiplier) inside valid_min and valid_max."""
    per_unit = (metric.multiplier or 1) / denominator
    low = 0 if metric.valid_min is None else max(0, math.ceil(metric.valid_min / per_unit - 1e-9))
    high = numerator if metric.valid_max is None else math.floor(metric.valid_max / per_unit + 1e-9)
    if metric.kind == "proportion":
        high = min(high, denominator)
    return Observation(
        row.place_code,
        row.metric_code,
        row.period,
        numerator=min(max(numerator, low), high),
        denominator=denominator,
        note=row.note,
    )


def _clamp(metric: Metric, value: float) -> float:
    if metric.valid_min is not None:
        value = max(value, metric.valid_min)
    if metric.valid_max is not None:
        value = min(value, metric.valid_max)
    return value


def _plain(metric: Metric, row: Observation, value: float) -> Observation:
    clamped = _clamp(metric, value)
    shown: float | int = round(clamped) if metric.decimals == 0 else round(clamped, metric.decimals)
    if metric.decimals == 0 and metric.valid_max is not None and shown > metric.valid_max:
        shown = math.floor(metric.valid_max)
    return Observation(row.place_code, row.metric_code, row.period, value=shown, note=row.note)


# --- a place's plan --------------------------------------------------------------------------


def _rounded(metric: Metric, value: float) -> float:
    return round(_clamp(metric, value), metric.decimals)


def _target(
    metric: Metric,
    values: Mapping[str, float],
    starts_on: date,
    ends_on: date,
    rng: random.Random,
    *,
    ambition_share: float = 1.0,
) -> Target:
    """Baseline from the place's own figure; the target an improvement of 2 to 10 % a year on
    the model's scale (some places outrun it, some fall behind); a milestone slightly behind
    the straight line, as plans tend to be."""
    baseline, midway, target = target_periods(metric.periodicity, starts_on, ends_on)
    baseline_value = _rounded(metric, values[baseline.code])
    years = (index(target) - index(baseline)) / PERIODS_PER_YEAR[metric.periodicity]
    ambition = rng.uniform(0.02, 0.10) * years * ambition_share * metric.improvement
    x = _to_scale(metric, baseline_value)
    target_value = _rounded(metric, _from_scale(metric, x + ambition))
    if metric.improvement and target_value == baseline_value:
        target_value = _rounded(metric, baseline_value + metric.improvement * 10**-metric.decimals)
    if (target_value - baseline_value) * metric.improvement < 0:
        target_value = baseline_value  # at the edge of the range already: hold it there
    trajectory: tuple[tuple[str, float], ...] = ()
    if midway is not None and metric.improvement:
        milestone = _rounded(metric, _from_scale(metric, x + ambition * rng.uniform(0.35, 0.6)))
        low, high = sorted((baseline_value, target_value))
        trajectory = ((midway.code, min(max(milestone, low), high)),)
    tolerance = None
    if metric.improvement and rng.random() < 0.4:
        tolerance = round(
            abs(target_value - baseline_value) * rng.uniform(0.1, 0.3), metric.decimals
        )
    return Target(
        metric.code, baseline.code, baseline_value, target.code, target_value, trajectory, tolerance
    )


def _plan(
    seed: int,
    place: Place,
    metrics: Sequence[Metric],
    values: Mapping[str, Mapping[str, float]],
    icb_name: str,
    today: date,
) -> PlanSpec:
    rng = _rng(seed, "plan", place.code)
    starts_on, ends_on = plan_window(today)
    targets = tuple(_target(m, values[m.code], starts_on, ends_on, rng) for m in metrics)
    rejection = None
    directed = [
        t for t, m in zip(targets, metrics, strict=True) if m.improvement and m.scope == "national"
    ]
    if directed and rng.random() < REJECTED_PLAN_SHARE:
        agreed = rng.choice(directed)
        metric = next(m for m in metrics if m.code == agreed.metric_code)
        timid = _rounded(
            metric, agreed.baseline_value + 0.3 * (agreed.target_value - agreed.baseline_value)
        )
        rejection = Rejection(
            replace(agreed, target_value=timid, trajectory=()),
            (
                f"{icb_short_name(icb_name)} cannot agree the target for {metric.code}: it barely "
                f"moves from the baseline. Please match the ambition of neighbouring places."
            ),
        )
    title = f"{place.short_name} shared plan {starts_on.year}-{ends_on.year % 100:02d}"
    return PlanSpec(
        title,
        starts_on,
        ends_on,
        targets,
        place_signatory=f"{_person(rng)}, Chief Executive, {place.short_name} Council",
        icb_signatory=f"{_person(rng)}, Chief Executive, {icb_name}",
        rejection=rejection,
    )


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"


FIRST_NAMES = (
    "Alex",
    "Amira",
    "Bola",
    "Catherine",
    "Chris",
    "Deepa",
    "Eilidh",
    "Fatima",
    "Gareth",
    "Hannah",
    "Imran",
    "James",
    "Joanne",
    "Kwame",
    "Laura",
    "Mark",
    "Nadia",
    "Oliver",
    "Priya",
    "Rachel",
    "Sam",
    "Sian",
    "Tom",
    "Yvonne",
)
SURNAMES = (
    "Ahmed",
    "Baker",
    "Clarke",
    "Davies",
    "Evans",
    "Francis",
    "Green",
    "Hussain",
    "Iqbal",
    "Jones",
    "Khan",
    "Lewis",
    "Morgan",
    "Nwosu",
    "O'Brien",
    "Patel",
    "Quinn",
    "Roberts",
    "Singh",
    "Taylor",
    "Walsh",
    "Wright",
    "Young",
    "Zhang",
)
ROLES = (
    "Place Director",
    "Director of Integration",
    "Managing Director, Health and Care Partnership",
    "Executive Director of Adult Social Care and Health",
    "Director of Place and Partnerships",
)


def _leaders(seed: int, place: Place, icb_name: str, today: date) -> tuple[Leader, ...]:
    rng = _rng(seed, "leaders", place.code)
    council = f"{place.short_name} Council"
    latest = today - timedelta(days=rng.randint(60, 3 * 365))
    starts = (
        [latest - timedelta(days=rng.randint(500, 1400)), latest]
        if rng.random() < 0.35
        else [latest]
    )
    leaders = []
    for appointed_on in starts:
        joint = rng.random() < 0.4
        organisation = f"{council} and {icb_name}" if joint else rng.choice((council, icb_name))
        leaders.append(Leader(_person(rng), rng.choice(ROLES), organisation, appointed_on, joint))
    return tuple(leaders)


DECLINE_COMMENTS = (
    "The ICB board asks for a candidate with system-wide commissioning experience.",
    "Not a joint appointment: the ICB wants a say in the post's terms first.",
    "The board could not confirm before the post was re-advertised.",
)


def _nomination(seed: int, place: Place, leaders: Sequence[Leader]) -> NominationSpec:
    rng = _rng(seed, "nomination", place.code)
    latest = leaders[-1]
    declined = None
    if rng.random() < DECLINED_NOMINATION_SHARE:
        declined = Leader(
            _person(rng), latest.role, latest.organisation, latest.appointed_on, False
        )
    # Only where someone is in post meanwhile: every place has a leader.
    pending = len(leaders) > 1 and rng.random() < PENDING_NOMINATION_SHARE
    return NominationSpec(declined, rng.choice(DECLINE_COMMENTS), pending)


MODELS = (
    ("icb_committee", 35),
    ("joint_committee", 30),
    ("committees_in_common", 15),
    ("lead_provider", 10),
    ("individual_executive", 10),
)
DELEGATED_FUNCTIONS = (
    "Better Care Fund pooled budget",
    "Discharge to assess",
    "Community services commissioning",
    "Primary care development",
    "Mental health crisis services",
    "Carers' support",
    "Population health management",
)


def _governance(seed: int, place: Place, icb_name: str) -> dict[str, Any] | None:
    rng = _rng(seed, "governance", place.code)
    if rng.random() < NO_GOVERNANCE_SHARE:
        return None
    model = rng.choices([m for m, _ in MODELS], weights=[w for _, w in MODELS])[0]
    if rng.random() < LATE_ADOPTION_SHARE:
        adopted_on = date(2023, 4, 2) + timedelta(days=rng.randint(0, 360))
    else:
        adopted_on = date(2022, 10, 1) + timedelta(days=rng.randint(0, 181))
    scrutinised_on = (
        adopted_on - timedelta(days=rng.randint(14, 60)) if rng.random() < 0.85 else None
    )
    town = place.short_name
    members = [
        {"organisation": f"{town} GP Provider Alliance", "category": "primary_care"},
        {"organisation": f"{town} Council", "category": "local_authority"},
        {"organisation": f"{town} Director of Public Health", "category": "public_health"},
        {"organisation": f"{town} Community Health Services", "category": "community_health"},
        {"organisation": f"{icb_name} mental health provider", "category": "mental_health"},
        {"organisation": f"Healthwatch {town}", "category": "healthwatch"},
        {"organisation": f"{town} Teaching Hospitals", "category": "acute_provider"},
        {"organisation": f"{town} Voluntary Action", "category": "voluntary_sector"},
    ]
    if rng.random() < NO_HEALTHWATCH_SHARE:
        members = [m for m in members if m["category"] != "healthwatch"]
    return {
        "model": model,
        "adopted_on": adopted_on.isoformat(),
        "scrutinised_on": scrutinised_on.isoformat() if scrutinised_on else None,
        "members": members,
        "delegated_functions": rng.sample(DELEGATED_FUNCTIONS, rng.randint(1, 4)),
    }


# --- the money behind a plan ------------------------------------------------------------------


def _planned_spend(seed: int, place: Place) -> dict[Scheme, float]:
    """The place's planned spend on each scheme in the plan's first year; each later year
    plans 3% more (and each earlier one, before the plan, 3% less)."""
    rng = _rng(seed, "spend", place.code)
    return {
        scheme: round(per_head * place.population * rng.uniform(0.8, 1.2))
        for scheme, per_head in SPEND_PER_HEAD.items()
    }


def _plan_years(starts_on: date, ends_on: date) -> list[Period]:
    return periods_between(
        containing(Periodicity.financial_year, starts_on),
        containing(Periodicity.financial_year, ends_on),
    )


def _in_year(planned: Mapping[Scheme, float], first: Period, year: Period) -> dict[Scheme, int]:
    growth = 1.03 ** (index(year) - index(first))
    return {scheme: round(amount * growth) for scheme, amount in planned.items()}


def _resources(
    place: Place, planned: Mapping[Scheme, float], starts_on: date, ends_on: date
) -> dict[str, Any]:
    """The plan's contributions (the place's local authority and its ICB pool, the ICB aligns
    the rest) and its planned spend by scheme, for every financial year of the plan."""
    years = _plan_years(starts_on, ends_on)
    contributions: list[dict[str, Any]] = []
    spend: list[dict[str, Any]] = []
    for year in years:
        amounts = _in_year(planned, years[0], year)
        total = sum(amounts.values())
        by_place, by_icb = round(total * POOLED_BY_PLACE), round(total * POOLED_BY_ICB)
        for organisation, kind, amount in (
            (place.code, "pooled", by_place),
            (place.icb_code, "pooled", by_icb),
            (place.icb_code, "aligned", total - by_place - by_icb),
        ):
            contributions.append(
                {
                    "financial_year": year.code,
                    "organisation": organisation,
                    "kind": kind,
                    "amount_gbp": amount,
                }
            )
        spend.extend(
            {"financial_year": year.code, "scheme": scheme, "amount_gbp": amount}
            for scheme, amount in amounts.items()
        )
    return {"contributions": contributions, "planned_spend": spend}


def _spend_to_date(
    seed: int,
    place: Place,
    metric: Metric,
    planned: Mapping[Scheme, float],
    first_year: Period,
    quarters: Sequence[Period],
) -> tuple[Observation, ...]:
    """One scheme's spend to date in its financial year (``metric``), each of ``quarters``:
    close to plan, except in some years that spend well below it. ``planned`` is the plan's
    first year's (``first_year``)."""
    scheme = next(s for s, code in SPEND_METRICS.items() if code == metric.code)
    rows, so_far = [], 0.0
    for quarter in quarters:
        year = containing(Periodicity.financial_year, quarter.start)
        rng = _rng(seed, "spent", place.code, scheme, year.code)
        below = rng.random() < BELOW_PLAN_SHARE
        ratio = rng.uniform(0.7, 0.88) if below else rng.gauss(0.99, 0.03)
        whole_year = _in_year(planned, first_year, year)[scheme] * ratio
        if quarter.start == year.start:
            so_far = 0.0
        quarters_in = index(quarter) - index(containing(Periodicity.quarterly, year.start)) + 1
        noise = _rng(seed, "quarter", place.code, metric.code, quarter.code).gauss(0, 0.02)
        so_far = max(so_far, whole_year * quarters_in / 4 * (1 + noise))
        rows.append(_plain(metric, Observation(place.code, metric.code, quarter.code), so_far))
    return tuple(rows)


# --- a place ---------------------------------------------------------------------------------


def build_place(
    seed: int, place: Place, metrics: Sequence[Metric], *, today: date, years: int, icb_name: str
) -> PlaceDemo:
    """Everything the demo sends for one place, from the national metrics and the local ones
    that apply to it."""
    applying = sorted((m for m in metrics if m.applies_to(place)), key=lambda m: m.code)
    spend_codes = set(SPEND_METRICS.values())
    metrics = [m for m in applying if m.code not in spend_codes]
    leaders = _leaders(seed, place, icb_name, today)
    share_65 = _rng(seed, "people", place.code).uniform(0.13, 0.26)
    starts_on, ends_on = plan_window(today)
    timing = _rng(seed, "timeliness", place.code)
    outage: set[str] = set()
    if timing.random() < OUTAGE_SHARE:
        months = data_periods(Periodicity.monthly, today, years)
        start = timing.randrange(len(months) - 3) if len(months) > 3 else 0
        outage = {m.code for m in months[start : start + timing.randint(2, 3)]}
    history: list[Observation] = []
    late: list[Observation] = []
    recent: list[Observation] = []  # candidates for a correction
    missing: list[tuple[str, str]] = []
    steps: list[tuple[str, str]] = []
    values: dict[str, dict[str, float]] = {}
    governance = _governance(seed, place, icb_name)
    planted = (
        date.fromisoformat(governance["adopted_on"])
        if governance and governance["model"] == PLANTED_EFFECT[0]
        else None
    )
    planned = _planned_spend(seed, place)
    first_year = containing(Periodicity.financial_year, starts_on)
    for metric in applying:
        window = data_periods(metric.periodicity, today, years)
        if metric.code in spend_codes:
            sent = _spend_to_date(seed, place, metric, planned, first_year, window)
        else:
            baseline = target_periods(metric.periodicity, starts_on, ends_on)[0]
            first = min(window[0], baseline, key=index)
            series = _series(
                seed,
                place,
                metric,
                periods_between(first, window[-1]),
                share_65=share_65,
                effect_from=planted if metric.code == PLANTED_EFFECT[1] else None,
            )
            values[metric.code] = {o.period: o.value_for(metric) for o in series.observations}
            if series.step_at is not None:
                steps.append((metric.code, series.observations[series.step_at].period))
            sent = series.observations[len(series.observations) - len(window) :]
        rng = _rng(seed, "timeliness", place.code, metric.code)
        for position, (period, row) in enumerate(zip(window, sent, strict=True)):
            due = period.end + timedelta(days=metric.submission_deadline_days) >= today
            draw = rng.random()
            if (metric.periodicity is Periodicity.monthly and row.period in outage) or (
                draw < (DUE_MISSING_SHARE if due else MISSING_SHARE)
            ):
                missing.append((metric.code, row.period))
                continue
            (late if not due and draw < MISSING_SHARE + LATE_SHARE else history).append(row)
            if position >= len(sent) - 12:
                recent.append(row)
    by_code = {m.code: m for m in applying}
    plan = replace(
        _plan(seed, place, metrics, values, icb_name, today),
        resources=_resources(place, planned, starts_on, ends_on),
    )
    return PlaceDemo(
        place=place,
        leaders=leaders,
        nomination=_nomination(seed, place, leaders),
        governance=governance,
        plan=plan,
        history=tuple(history),
        late=tuple(late),
        corrections=_corrections(seed, place, recent, by_code),
        missing=tuple(missing),
        steps=tuple(steps),
    )


CORRECTION_NOTES = (
    "corrected: late-coded activity added",
    "corrected: duplicate records removed",
    "corrected: recounted after data quality review",
)


def _corrections(
    seed: int, place: Place, candidates: Sequence[Observation], metrics: Mapping[str, Metric]
) -> tuple[Observation, ...]:
    rng = _rng(seed, "corrections", place.code)
    if not candidates or rng.random() >= CORRECTED_PLACES_SHARE:
        return ()
    chosen = rng.sample(list(candidates), min(len(candidates), rng.randint(1, 3)))
    return tuple(
        _corrected(row, metrics[row.metric_code], rng)
        for row in sorted(chosen, key=lambda r: (r.metric_code, r.period))
    )


def _corrected(row: Observation, metric: Metric, rng: random.Random) -> Observation:
    note = rng.choice(CORRECTION_NOTES)
    change = rng.uniform(0.01, 0.05) * rng.choice((1, -1))
    if row.numerator is not None and row.denominator is not None:
        delta = max(1, round(row.numerator * abs(change))) * (1 if change > 0 else -1)
        fixed = _ratio(
            metric,
            Observation(row.place_code, row.metric_code, row.period, note=note),
            row.numerator + delta,
            row.denominator,
        )
        if fixed.numerator == row.numerator:  # at a limit: go the other way
            fixed = _ratio(metric, fixed, row.numerator - delta, row.denominator)
        return fixed
    value = float(row.value or 0)
    step = max(abs(value * change), 10**-metric.decimals)
    fixed = _plain(
        metric, Observation(row.place_code, row.metric_code, row.period, note=note), value + step
    )
    if fixed.value == row.value:
        fixed = _plain(metric, fixed, value - step)
    return fixed


def build(
    seed: int,
    places: Sequence[Place],
    metrics: Sequence[Metric],
    *,
    today: date,
    years: int,
    icb_names: Mapping[str, str],
) -> list[PlaceDemo]:
    """The whole demo, place by place in code order."""
    return [
        build_place(
            seed,
            place,
            metrics,
            today=today,
            years=years,
            icb_name=icb_names.get(place.icb_code, place.icb_code),
        )
        for place in sorted(places, key=lambda p: p.code)
    ]


def csv_text(rows: Sequence[Observation]) -> str:
    """A submission in ingest's CSV form."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(row.csv_fields() for row in rows)
    return buffer.getvalue()


# --- escalations -------------------------------------------------------------------------------

# The example place's own escalation to its ICB, beside those the rules open.
MANUAL_ESCALATION = {
    "title": "Step-down beds for winter",
    "description": "The community provider is closing 20 step-down beds from January; "
    "discharges to assess will wait in hospital.",
    "ask": "Broker step-down capacity across the ICB's providers before January.",
}
EscalationAnswer = Literal["acknowledge", "escalate", "resolve"]
ESCALATION_NOTES: dict[EscalationAnswer, str] = {
    "acknowledge": "On the system board's agenda.",
    "escalate": "Needs the region: beyond what the ICB can broker.",
    "resolve": "Agreed with the providers; closed.",
}


def escalation_answers(seed: int, escalation: Mapping[str, Any]) -> tuple[EscalationAnswer, ...]:
    """How the ICB answers an open escalation, drawn from the seed and what it is about (not
    its id, which another run may give another row): a quarter each left open, acknowledged,
    escalated to the region, resolved."""
    draw = _draw(
        seed,
        "escalation",
        escalation["place_code"],
        escalation["metric_code"],
        escalation["reason"],
    )
    if draw < 0.25:
        return ()
    if draw < 0.5:
        return ("acknowledge",)
    return ("acknowledge", "escalate" if draw < 0.75 else "resolve")
