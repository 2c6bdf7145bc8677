"""Period codes and their arithmetic: `2025-07`, `2025-Q2`, `2025` and `FY2025-26`.

The SQL functions `period_periodicity`, `period_start`, `period_end` and `period_index` (migration
20261123_period_functions) have exactly these semantics, so set-based validation in the database
and row-by-row code here never disagree; tests/common/test_periods.py holds them to that.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

MIN_YEAR, MAX_YEAR = 1900, 2100


class Periodicity(StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    annual = "annual"
    financial_year = "financial_year"


class PeriodError(ValueError):
    """A code that is not a period, or not one of the form that was asked for.

    A ValueError, so a pydantic validator that lets it through turns it into a 422.
    """


@dataclass(frozen=True)
class Period:
    """Make one with `parse`: the fields are trusted to agree with each other."""

    periodicity: Periodicity
    code: str
    start: date
    end: date  # inclusive: the period's last day

    def __str__(self) -> str:
        return self.code


# [0-9], not \d: \d also matches other scripts' digits, which the SQL functions refuse.
# Appointments, period ends and deadlines fall on English calendar days, whatever the server's
# clock zone.
ENGLAND_TIME = ZoneInfo("Europe/London")
_PATTERNS = {
    Periodicity.monthly: re.compile(r"([0-9]{4})-([0-9]{2})"),
    Periodicity.quarterly: re.compile(r"([0-9]{4})-Q([0-9])"),
    Periodicity.annual: re.compile(r"([0-9]{4})"),
    Periodicity.financial_year: re.compile(r"FY([0-9]{4})-([0-9]{2})"),
}
_EXAMPLES = {
    Periodicity.monthly: "2025-07",
    Periodicity.quarterly: "2025-Q2",
    Periodicity.annual: "2025",
    Periodicity.financial_year: "FY2025-26",
}
# How a data team would say it: "annual" alone leaves them guessing which kind of year.
_DESCRIPTIONS = {
    Periodicity.monthly: "monthly",
    Periodicity.quarterly: "quarterly",
    Periodicity.annual: "annual (calendar years)",
    Periodicity.financial_year: "by financial year (April to March)",
}
_FORMS = (
    "use a form like 2025-07 (monthly), 2025-Q2 (quarterly), 2025 (annual) "
    "or FY2025-26 (financial year)"
)


def example(periodicity: Periodicity) -> str:
    return _EXAMPLES[Periodicity(periodicity)]


def parse(code: str) -> Period:
    """Any period, in its one canonical form."""
    for periodicity, pattern in _PATTERNS.items():
        if match := pattern.fullmatch(code):
            return _build(periodicity, code, *(int(group) for group in match.groups()))
    raise PeriodError(f"{code!r} is not a period: {_did_you_mean(code) or _FORMS}")


def parse_as(code: str, periodicity: Periodicity) -> Period:
    """A period of the given periodicity; any other form is refused, saying which form to use."""
    periodicity = Periodicity(periodicity)
    described, form = _DESCRIPTIONS[periodicity], example(periodicity)
    try:
        period = parse(code)
    except PeriodError:
        if _PATTERNS[periodicity].fullmatch(code):
            raise  # the right form with a wrong number: the specific reason helps more
        raise PeriodError(
            f"{code!r} is not a period: this metric is {described}, so use a form like {form}"
        ) from None
    if period.periodicity != periodicity:
        raise PeriodError(f"this metric is {described}: use a form like {form}, not {code}")
    return period


def index(period: Period) -> int:
    """Consecutive periods of one periodicity have consecutive indexes (for straight lines)."""
    return _index_of(period.periodicity, period.start)


def from_index(periodicity: Periodicity, i: int) -> Period:
    periodicity = Periodicity(periodicity)
    match periodicity:
        case Periodicity.monthly:
            year, month0 = divmod(i, 12)
            code = f"{year}-{month0 + 1:02d}"
        case Periodicity.quarterly:
            year, quarter0 = divmod(i, 4)
            code = f"{year}-Q{quarter0 + 1}"
        case Periodicity.annual:
            year, code = i, str(i)
        case Periodicity.financial_year:
            year, code = i, f"FY{i}-{(i + 1) % 100:02d}"
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(
            f"the {periodicity} period with index {i} falls outside the years {MIN_YEAR}-{MAX_YEAR}"
        )
    return parse(code)


def shift(period: Period, n: int) -> Period:
    """The period n periods later (earlier when n is negative)."""
    return from_index(period.periodicity, index(period) + n)


def england_today() -> date:
    """Today in England: periods and deadlines follow England's calendar, not UTC's."""
    return datetime.now(ENGLAND_TIME).date()


def has_ended(period: Period, today: date) -> bool:
    return today > period.end


def deadline(period: Period, deadline_days: int) -> date:
    """The last day a submission for the period is on time."""
    return period.end + timedelta(days=deadline_days)


def is_closed(period: Period, deadline_days: int, today: date) -> bool:
    """Closed once its submission deadline has passed; open (its figures provisional) until
    then (API.md amendments, "Open and closed periods")."""
    return today > deadline(period, deadline_days)


def periods_between(first: Period, last: Period) -> list[Period]:
    """first to last inclusive; empty when last comes before first, as with range()."""
    if first.periodicity != last.periodicity:
        raise PeriodError(f"{first.code} and {last.code} are not of the same periodicity")
    return [from_index(first.periodicity, i) for i in range(index(first), index(last) + 1)]


def spanning(start: date, end: date) -> Period | None:
    """The period that runs from ``start`` to ``end`` (both inclusive), if one does: how a
    standard that carries dates (FHIR's MeasureReport.period) names a period. Every form has
    spans of its own (a month, a calendar quarter, a calendar year, April to March), so the
    dates alone decide the form."""
    for periodicity in Periodicity:
        try:
            period = containing(periodicity, start)
        except PeriodError:
            return None
        if period.start == start and period.end == end:
            return period
    return None


def containing(periodicity: Periodicity, day: date) -> Period:
    return from_index(periodicity, _index_of(Periodicity(periodicity), day))


def _index_of(periodicity: Periodicity, day: date) -> int:
    match periodicity:
        case Periodicity.monthly:
            return day.year * 12 + day.month - 1
        case Periodicity.quarterly:
            return day.year * 4 + (day.month - 1) // 3
        case Periodicity.annual:
            return day.year
        case Periodicity.financial_year:
            # January to March belong to the financial year that started the April before.
            return day.year if day.month >= 4 else day.year - 1


def _build(periodicity: Periodicity, code: str, year: int, part: int = 0) -> Period:
    def refuse(reason: str) -> PeriodError:
        return PeriodError(f"{code!r} is not a period: {reason}")

    if not MIN_YEAR <= year <= MAX_YEAR:
        raise refuse(f"years run {MIN_YEAR}-{MAX_YEAR}")
    match periodicity:
        case Periodicity.monthly:
            if not 1 <= part <= 12:
                raise refuse("months run 01-12")
            start, months = date(year, part, 1), 1
        case Periodicity.quarterly:
            if not 1 <= part <= 4:
                raise refuse("quarters run Q1-Q4")
            start, months = date(year, 3 * part - 2, 1), 3
        case Periodicity.annual:
            start, months = date(year, 1, 1), 12
        case Periodicity.financial_year:
            if part != (year + 1) % 100:
                raise refuse(
                    f"a financial year runs from April to the next March, so the one "
                    f"starting in {year} is FY{year}-{(year + 1) % 100:02d}"
                )
            start, months = date(year, 4, 1), 12
    return Period(periodicity, code, start, _last_day(start, months))


def _last_day(start: date, months: int) -> date:
    """The day before the first of the month `months` after `start`."""
    year, month0 = divmod(start.year * 12 + start.month - 1 + months, 12)
    return date(year, month0 + 1, 1) - timedelta(days=1)


def _did_you_mean(code: str) -> str | None:
    """Spreadsheets add spaces and lower-case letters; name the code that was probably meant."""
    tidied = code.strip().upper()
    if tidied == code:
        return None
    try:
        return f"did you mean {parse(tidied).code}?"
    except PeriodError:
        return None
