"""Durations as an operator types them on the command line: a whole number and a unit, such as
30m, 12h, 90d or 2w (`joinedup keys create --expires-in`, `keys rotate --grace`). Only the
standard library, so the command's help stays quick."""

import re
from datetime import timedelta

UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
# Far beyond any key's useful life, and well inside what PostgreSQL's timestamps hold.
LONGEST = timedelta(days=100 * 366)
_DURATION = re.compile(r"([0-9]{1,9})([mhdw])")  # ASCII digits only, as \d is not


def parse_duration(text: str) -> timedelta:
    """``"90d"`` as a timedelta; ``"0"`` alone is no time at all. ValueError says what is
    accepted."""
    spelled = text.strip().lower()
    if spelled == "0":
        return timedelta(0)
    match = _DURATION.fullmatch(spelled)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration: give a whole number and a unit, m (minutes), "
            f"h (hours), d (days) or w (weeks), such as 30m, 12h, 90d or 2w."
        )
    duration = int(match[1]) * UNITS[match[2]]
    if duration > LONGEST:
        raise ValueError(f"{text!r} is longer than 100 years.")
    return duration
