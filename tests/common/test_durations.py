"""The durations the key commands take (services/common/durations.py)."""

from datetime import timedelta

import pytest

from services.common.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "duration"),
    [
        ("30m", timedelta(minutes=30)),
        ("12h", timedelta(hours=12)),
        ("90d", timedelta(days=90)),
        ("2w", timedelta(weeks=2)),
        (" 1H ", timedelta(hours=1)),
        ("0", timedelta(0)),
        ("0m", timedelta(0)),
    ],
)
def test_a_number_and_a_unit(text, duration):
    assert parse_duration(text) == duration


@pytest.mark.parametrize("text", ["", "90", "d", "1.5h", "-1d", "1h30m", "3y", "1 d", "١٢h"])
def test_anything_else_says_what_is_accepted(text):
    with pytest.raises(ValueError, match=r"m \(minutes\), h \(hours\), d \(days\) or w \(weeks\)"):
        parse_duration(text)


def test_a_duration_beyond_any_keys_life_is_refused():
    assert parse_duration("5000w") == timedelta(weeks=5000)
    with pytest.raises(ValueError, match="longer than 100 years"):
        parse_duration("999999999d")
