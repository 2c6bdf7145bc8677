"""DHIS2 period codes and joinedup's, both ways: the one place the two forms meet.

DHIS2 writes a month 202507, a calendar quarter 2025Q2, a calendar year 2025 and an April
financial year 2025April (April 2025 to March 2026); joinedup writes them 2025-07, 2025-Q2, 2025
and FY2025-26. A code in no DHIS2 form that joinedup has is passed on as it was sent, so that the
submission's own period check names it (a weekly 2025W27, say, is then an invalid period), and
joinedup's own forms are accepted too.
"""

import re

_MONTH = re.compile(r"([0-9]{4})([0-9]{2})")
_QUARTER = re.compile(r"([0-9]{4})Q([0-9])")
_FINANCIAL_YEAR = re.compile(r"([0-9]{4})April")
_NATIVE_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_NATIVE_QUARTER = re.compile(r"([0-9]{4})-Q([0-9])")
_NATIVE_FINANCIAL_YEAR = re.compile(r"FY([0-9]{4})-([0-9]{2})")


def to_native(code: str) -> str:
    """joinedup's code for a DHIS2 period code (a calendar year is written the same in both)."""
    if match := _MONTH.fullmatch(code):
        return f"{match[1]}-{match[2]}"
    if match := _QUARTER.fullmatch(code):
        return f"{match[1]}-Q{match[2]}"
    if match := _FINANCIAL_YEAR.fullmatch(code):
        start = int(match[1])
        return f"FY{start}-{(start + 1) % 100:02d}"
    return code


def to_dhis2(code: str) -> str:
    """DHIS2's code for a joinedup period code (only valid joinedup codes are stored)."""
    if match := _NATIVE_MONTH.fullmatch(code):
        return f"{match[1]}{match[2]}"
    if match := _NATIVE_QUARTER.fullmatch(code):
        return f"{match[1]}Q{match[2]}"
    if match := _NATIVE_FINANCIAL_YEAR.fullmatch(code):
        return f"{match[1]}April"
    return code
