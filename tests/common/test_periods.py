from datetime import date, timedelta

import pytest

from services.common.periods import (
    Period,
    PeriodError,
    Periodicity,
    containing,
    example,
    from_index,
    has_ended,
    index,
    parse,
    parse_as,
    periods_between,
    shift,
    spanning,
)

FORMS = (
    "use a form like 2025-07 (monthly), 2025-Q2 (quarterly), 2025 (annual) "
    "or FY2025-26 (financial year)"
)
FY_RULE = "a financial year runs from April to the next March, so the one starting in "


@pytest.mark.parametrize(
    ("code", "periodicity", "start", "end"),
    [
        ("2025-07", Periodicity.monthly, date(2025, 7, 1), date(2025, 7, 31)),
        ("2025-01", Periodicity.monthly, date(2025, 1, 1), date(2025, 1, 31)),
        ("2025-12", Periodicity.monthly, date(2025, 12, 1), date(2025, 12, 31)),
        ("2025-04", Periodicity.monthly, date(2025, 4, 1), date(2025, 4, 30)),
        ("1900-01", Periodicity.monthly, date(1900, 1, 1), date(1900, 1, 31)),
        ("2100-12", Periodicity.monthly, date(2100, 12, 1), date(2100, 12, 31)),
        ("2025-Q1", Periodicity.quarterly, date(2025, 1, 1), date(2025, 3, 31)),
        ("2025-Q2", Periodicity.quarterly, date(2025, 4, 1), date(2025, 6, 30)),
        ("2025-Q3", Periodicity.quarterly, date(2025, 7, 1), date(2025, 9, 30)),
        ("2025-Q4", Periodicity.quarterly, date(2025, 10, 1), date(2025, 12, 31)),
        ("2025", Periodicity.annual, date(2025, 1, 1), date(2025, 12, 31)),
        ("1900", Periodicity.annual, date(1900, 1, 1), date(1900, 12, 31)),
        ("2100", Periodicity.annual, date(2100, 1, 1), date(2100, 12, 31)),
        ("FY2025-26", Periodicity.financial_year, date(2025, 4, 1), date(2026, 3, 31)),
        ("FY1999-00", Periodicity.financial_year, date(1999, 4, 1), date(2000, 3, 31)),
        ("FY2099-00", Periodicity.financial_year, date(2099, 4, 1), date(2100, 3, 31)),
        ("FY2100-01", Periodicity.financial_year, date(2100, 4, 1), date(2101, 3, 31)),
    ],
)
def test_parse_reads_every_form(code, periodicity, start, end):
    assert parse(code) == Period(periodicity, code, start, end)
    assert str(parse(code)) == code


@pytest.mark.parametrize(
    ("code", "last_day"),
    [
        ("2024-02", 29),  # divisible by 4
        ("2025-02", 28),
        ("2000-02", 29),  # divisible by 400
        ("1900-02", 28),  # divisible by 100 only
        ("2100-02", 28),
    ],
)
def test_february_ends_on_the_right_day(code, last_day):
    assert parse(code).end == date(int(code[:4]), 2, last_day)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("2025-00", "months run 01-12"),
        ("2025-13", "months run 01-12"),
        ("2025-Q0", "quarters run Q1-Q4"),
        ("2025-Q5", "quarters run Q1-Q4"),
        ("FY2025-27", FY_RULE + "2025 is FY2025-26"),
        ("FY2025-25", FY_RULE + "2025 is FY2025-26"),
        ("FY1999-99", FY_RULE + "1999 is FY1999-00"),
        ("1899", "years run 1900-2100"),
        ("2101-01", "years run 1900-2100"),
        ("FY2101-02", "years run 1900-2100"),
        ("0000-Q1", "years run 1900-2100"),
        ("2025-q2", "did you mean 2025-Q2?"),
        ("fy2025-26", "did you mean FY2025-26?"),
        ("Fy2025-26", "did you mean FY2025-26?"),
        (" 2025-07", "did you mean 2025-07?"),
        ("2025-07 ", "did you mean 2025-07?"),
        ("2025-07\n", "did you mean 2025-07?"),
        ("", FORMS),
        (" ", FORMS),
        ("2025 - 07", FORMS),
        ("20251", FORMS),
        ("025", FORMS),
        ("2025-7", FORMS),
        ("2025-Q02", FORMS),
        ("2025Q2", FORMS),
        ("FY2025", FORMS),
        ("FY2025-2026", FORMS),
        ("FY25-26", FORMS),
        ("July 2025", FORMS),
        ("２０２５", FORMS),  # full-width digits: int() would read them, the database would not
    ],
)
def test_parse_refuses_what_is_not_a_canonical_period(code, reason):
    with pytest.raises(PeriodError) as refused:
        parse(code)
    assert str(refused.value) == f"{code!r} is not a period: {reason}"


def test_a_period_error_is_a_value_error_so_validators_report_it():
    assert issubclass(PeriodError, ValueError)


def test_parse_as_accepts_its_own_form_whether_named_by_enum_or_by_string():
    assert parse_as("2025-Q2", Periodicity.quarterly) == parse("2025-Q2")
    assert parse_as("FY2025-26", "financial_year") == parse("FY2025-26")


@pytest.mark.parametrize(
    ("code", "periodicity", "message"),
    [
        (
            "2025-07",
            Periodicity.quarterly,
            "this metric is quarterly: use a form like 2025-Q2, not 2025-07",
        ),
        (
            "2025",
            Periodicity.financial_year,
            "this metric is by financial year (April to March): "
            "use a form like FY2025-26, not 2025",
        ),
        (
            "FY2025-26",
            Periodicity.annual,
            "this metric is annual (calendar years): use a form like 2025, not FY2025-26",
        ),
        (
            "2025-Q2",
            Periodicity.monthly,
            "this metric is monthly: use a form like 2025-07, not 2025-Q2",
        ),
        (
            "July",
            Periodicity.monthly,
            "'July' is not a period: this metric is monthly, so use a form like 2025-07",
        ),
        ("2025-13", Periodicity.monthly, "'2025-13' is not a period: months run 01-12"),
        (
            "FY2025-27",
            Periodicity.financial_year,
            "'FY2025-27' is not a period: a financial year "
            "runs from April to the next March, so the one starting in 2025 is FY2025-26",
        ),
    ],
)
def test_parse_as_names_the_form_it_expects(code, periodicity, message):
    with pytest.raises(PeriodError) as refused:
        parse_as(code, periodicity)
    assert str(refused.value) == message


@pytest.mark.parametrize("periodicity", list(Periodicity))
def test_each_example_is_of_its_periodicity(periodicity):
    assert parse(example(periodicity)).periodicity == periodicity


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("2025-07", 2025 * 12 + 6),
        ("2025-Q2", 2025 * 4 + 1),
        ("2025", 2025),
        ("FY2025-26", 2025),
    ],
)
def test_index(code, expected):
    assert index(parse(code)) == expected


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("2024-12", "2025-01"),
        ("1999-12", "2000-01"),
        ("2024-Q4", "2025-Q1"),
        ("2024", "2025"),
        ("FY2024-25", "FY2025-26"),
        ("FY1999-00", "FY2000-01"),
    ],
)
def test_consecutive_periods_across_a_year_boundary_differ_by_one(earlier, later):
    assert index(parse(later)) - index(parse(earlier)) == 1


@pytest.mark.parametrize("periodicity", list(Periodicity))
def test_each_day_is_in_one_period_and_periods_follow_on_with_consecutive_indexes(periodicity):
    day, previous = date(1998, 1, 1), None
    while day <= date(2002, 12, 31):
        period = containing(periodicity, day)
        assert period.periodicity == periodicity and period.start <= day <= period.end
        if previous is not None and period != previous:
            assert period.start == previous.end + timedelta(days=1)
            assert index(period) == index(previous) + 1
        day, previous = day + timedelta(days=1), period


@pytest.mark.parametrize(
    ("periodicity", "day", "code"),
    [
        (Periodicity.monthly, date(2025, 7, 31), "2025-07"),
        (Periodicity.quarterly, date(2025, 3, 31), "2025-Q1"),
        (Periodicity.quarterly, date(2025, 4, 1), "2025-Q2"),
        (Periodicity.annual, date(2025, 12, 31), "2025"),
        (Periodicity.financial_year, date(2026, 3, 31), "FY2025-26"),
        (Periodicity.financial_year, date(2026, 4, 1), "FY2026-27"),
        (Periodicity.financial_year, date(2000, 1, 15), "FY1999-00"),
    ],
)
def test_containing(periodicity, day, code):
    assert containing(periodicity, day).code == code


EDGES = {
    Periodicity.monthly: ("1900-01", "2100-12"),
    Periodicity.quarterly: ("1900-Q1", "2100-Q4"),
    Periodicity.annual: ("1900", "2100"),
    Periodicity.financial_year: ("FY1900-01", "FY2100-01"),
}


@pytest.mark.parametrize("periodicity", list(Periodicity))
def test_from_index_and_shift_round_trip_over_every_supported_period(periodicity):
    first, last = (index(parse(code)) for code in EDGES[periodicity])
    for i in range(first, last + 1):
        period = from_index(periodicity, i)
        assert period.periodicity == periodicity and index(period) == i
        assert parse(period.code) == period
        for n in (1, -1, 12):
            if first <= i + n <= last:
                assert index(shift(period, n)) == i + n and shift(shift(period, n), -n) == period
    for outside in (first - 1, last + 1):
        with pytest.raises(PeriodError, match="falls outside the years 1900-2100"):
            from_index(periodicity, outside)


@pytest.mark.parametrize(
    ("code", "n", "expected"),
    [
        ("2025-12", 1, "2026-01"),
        ("2025-07", 0, "2025-07"),
        ("2025-01", -13, "2023-12"),
        ("2025-Q1", -1, "2024-Q4"),
        ("2025-Q4", 5, "2027-Q1"),
        ("2025", -25, "2000"),
        ("FY2025-26", 1, "FY2026-27"),
        ("FY1999-00", -1, "FY1998-99"),
        ("FY1998-99", 1, "FY1999-00"),
    ],
)
def test_shift(code, n, expected):
    assert shift(parse(code), n) == parse(expected)


@pytest.mark.parametrize(
    ("code", "n"), [("2100-12", 1), ("1900-Q1", -1), ("FY2100-01", 1), ("2025", -126)]
)
def test_shift_out_of_the_supported_years_is_refused(code, n):
    with pytest.raises(PeriodError, match="falls outside the years 1900-2100"):
        shift(parse(code), n)


@pytest.mark.parametrize(
    ("code", "last_day"),
    [
        ("2025-07", date(2025, 7, 31)),
        ("2024-02", date(2024, 2, 29)),
        ("2025-Q4", date(2025, 12, 31)),
        ("2025", date(2025, 12, 31)),
        ("FY2025-26", date(2026, 3, 31)),
    ],
)
def test_a_period_has_ended_only_after_its_last_day(code, last_day):
    period = parse(code)
    assert not has_ended(period, period.start)
    assert not has_ended(period, last_day)
    assert has_ended(period, last_day + timedelta(days=1))


def test_periods_between_is_inclusive_and_crosses_years():
    codes = [p.code for p in periods_between(parse("2025-11"), parse("2026-02"))]
    assert codes == ["2025-11", "2025-12", "2026-01", "2026-02"]
    codes = [p.code for p in periods_between(parse("FY1998-99"), parse("FY2000-01"))]
    assert codes == ["FY1998-99", "FY1999-00", "FY2000-01"]
    assert periods_between(parse("2025-Q2"), parse("2025-Q2")) == [parse("2025-Q2")]


def test_periods_between_is_empty_when_last_comes_before_first():
    assert periods_between(parse("2026-Q1"), parse("2025-Q4")) == []


def test_periods_between_refuses_mixed_periodicities():
    with pytest.raises(PeriodError, match="2025 and FY2025-26 are not of the same periodicity"):
        periods_between(parse("2025"), parse("FY2025-26"))


# --- the SQL functions (migration 20261123_period_functions) agree with the Python ones ---

YEARS = (1899, 1900, 1901, 1999, 2000, 2024, 2025, 2099, 2100, 2101)


def generated_codes() -> list[str]:
    """Every form for years in and just out of range, wrong numbers in each part, and oddities."""
    codes = []
    for year in YEARS:
        codes += [f"{year}-{month:02d}" for month in (0, *range(1, 14), 99)]
        codes += [f"{year}-Q{quarter}" for quarter in range(0, 10)]
        codes += [f"{year}", f"{year}-{year % 100:02d}"]
        codes += [f"FY{year}-{(year + step) % 100:02d}" for step in (-1, 0, 1, 2, 50)]
    return codes + [
        "",
        " ",
        "0000",
        "9999",
        "20251",
        "025",
        "2025-7",
        "2025-Q",
        "2025-Q02",
        "2025Q2",
        "2025-M07",
        "FY2025",
        "FY2025-2026",
        "FY25-26",
        "FYabcd-ef",
        "FY2025-2a",
        "2025-1a",
        "2025-q2",
        "fy2025-26",
        "Fy2025-26",
        " 2025-07",
        "2025-07 ",
        "2025-07\n",
        "2025 - 07",
        "2025–07",
        "２０２５",
        "٢٠٢٥-٠٧",
        "-2025",
        "+2025",
        "2025-",
        "2025-Q2-",
        "July 2025",
    ]


def python_view(code: str) -> tuple:
    try:
        period = parse(code)
    except PeriodError:
        return (None, None, None, None)
    return (period.periodicity.value, period.start, period.end, index(period))


def test_sql_functions_agree_with_python_on_generated_codes(query):
    codes = generated_codes()
    assert len(codes) > 300
    assert sum(python_view(code)[0] is not None for code in codes) > 100
    rows = query(
        """
        SELECT code, period_periodicity(code), period_start(code), period_end(code),
               period_index(code)
        FROM unnest(%s::text[]) AS code
    """,
        codes,
    )
    assert {code: tuple(values) for code, *values in rows} == {
        code: python_view(code) for code in codes
    }


def test_sql_functions_give_null_not_an_error_for_constant_or_null_codes(query):
    # Parameters reach the planner as constants, which it folds: no cast may run on a bad code.
    codes = ["FYabcd-ef", "2025-13", "FY2025-27", "2025-1a", "", None, "2025-07"]
    calls = ", ".join("period_index(%s::text), period_end(%s::text)" for _ in codes)
    row = query(f"SELECT {calls}", *(code for code in codes for _ in range(2)))[0]
    assert row == (None,) * 12 + (2025 * 12 + 6, date(2025, 7, 31))


def test_sql_functions_are_inlined_into_the_calling_query(query):
    plan = query("""
        EXPLAIN VERBOSE SELECT period_end(code), period_index(code)
        FROM unnest(ARRAY['2025-07']) AS code
    """)
    text = "\n".join(line for (line,) in plan)
    assert "make_date" in text and "period_" not in text


def test_sql_functions_are_immutable_and_parallel_safe(query):
    rows = query("""
        SELECT proname, provolatile, proparallel FROM pg_proc
        WHERE proname ~ '^period_' AND pronamespace = 'public'::regnamespace
    """)
    assert sorted(rows) == [
        (name, "i", "s")
        for name in ("period_end", "period_index", "period_periodicity", "period_start")
    ]


def test_spanning_names_the_period_two_dates_cover_and_nothing_else():
    for code in ("2025-07", "2025-Q2", "2025", "FY2025-26", "2024-02"):
        period = parse(code)
        assert spanning(period.start, period.end) == period
    assert spanning(date(2025, 7, 1), date(2025, 7, 30)) is None
    assert spanning(date(2025, 2, 1), date(2025, 4, 30)) is None  # not a quarter
    assert spanning(date(2025, 7, 31), date(2025, 7, 1)) is None
