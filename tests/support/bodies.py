"""Request bodies more than one folder sends."""

from typing import Any


def leader(**changes: Any) -> dict[str, Any]:
    """A body for PUT /v1/places/{code}/leader: Leeds's joint appointment from April 2025."""
    return {
        "name": "Alex Morgan",
        "role": "Director of Integration",
        "organisation": "Leeds City Council and NHS West Yorkshire ICB",
        "appointed_on": "2025-04-01",
        "joint_appointment": True,
        **changes,
    }
