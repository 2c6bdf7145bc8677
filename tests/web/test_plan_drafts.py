"""How a steward's form becomes a target's body, and how the API's errors find their fields."""

from services.common.errors import Unprocessable
from services.web.pages.plan_drafts_service import field_errors, trajectory, trajectory_text


def test_a_trajectory_is_one_point_a_line_passed_on_as_written():
    text = "2025-Q3: 596\n\n  2025-Q4 590  \n2026-Q1:lots\n2026-Q2"
    assert trajectory(text) == [
        {"period": "2025-Q3", "value": "596"},
        {"period": "2025-Q4", "value": "590"},
        {"period": "2026-Q1", "value": "lots"},  # the API says what is wrong with it
        {"period": "2026-Q2", "value": ""},
    ]
    points = [{"period": "2025-Q3", "value": 596.0}, {"period": "2025-Q4", "value": 590.5}]
    assert trajectory(trajectory_text(points)) == [
        {"period": "2025-Q3", "value": "596.0"},
        {"period": "2025-Q4", "value": "590.5"},
    ]


def test_each_error_is_put_beside_its_field_and_a_point_is_named():
    refused = Unprocessable(
        "targets_api answered 422",
        errors=[
            {"loc": ["body", "ends_on"], "msg": "must not be before starts_on"},
            {"loc": ["trajectory", 1, "value"], "msg": "Input should be a valid number"},
            {"loc": ["trajectory", 2, "value"], "msg": "a later point"},
            {"loc": [], "msg": "about the whole request"},
        ],
    )
    assert field_errors(refused) == {
        "ends_on": "must not be before starts_on",
        "trajectory": "point 2: Input should be a valid number",
    }
    assert field_errors(None) == {}
