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


# Leeds's partnership: every category of the minimum membership, and an acute trust besides.
FULL_MEMBERSHIP = [
    {"organisation": "Leeds GP Confederation", "category": "primary_care"},
    {"organisation": "Leeds City Council", "category": "local_authority"},
    {"organisation": "Leeds Director of Public Health", "category": "public_health"},
    {"organisation": "Leeds Community Healthcare NHS Trust", "category": "community_health"},
    {"organisation": "Leeds and York Partnership NHS FT", "category": "mental_health"},
    {"organisation": "Healthwatch Leeds", "category": "healthwatch"},
    {"organisation": "Leeds Teaching Hospitals NHS Trust", "category": "acute_provider"},
]


def governance(**changes: Any) -> dict[str, Any]:
    """A body for PUT /v1/places/{code}/governance that meets everything: a committee of the
    ICB adopted before the national date, after scrutiny, with every minimum category."""
    return {
        "model": "icb_committee",
        "adopted_on": "2023-03-01",
        "scrutinised_on": "2023-02-01",
        "members": FULL_MEMBERSHIP,
        "delegated_functions": ["Better Care Fund pooled budget", "Discharge to assess"],
        **changes,
    }


def resources(**changes: Any) -> dict[str, Any]:
    """A body for PUT /v1/plans/{id}/resources for a Leeds plan of April 2025 to March 2027:
    Leeds City Council (by the place's code) and the ICB contribute in both years, and the
    plan spends on home care and reablement."""
    leeds, icb = "E08000035", "E54000054"
    return {
        "contributions": [
            {"financial_year": year, "organisation": org, "kind": kind, "amount_gbp": amount}
            for year in ("FY2025-26", "FY2026-27")
            for org, kind, amount in ((leeds, "pooled", 4_000_000), (icb, "pooled", 6_500_000))
        ]
        + [
            {
                "financial_year": "FY2025-26",
                "organisation": icb,
                "kind": "aligned",
                "amount_gbp": 1_250_000.5,
            }
        ],
        "planned_spend": [
            {"financial_year": "FY2025-26", "scheme": "home_care", "amount_gbp": 5_000_000},
            {"financial_year": "FY2025-26", "scheme": "reablement", "amount_gbp": 2_000_000},
            {"financial_year": "FY2026-27", "scheme": "home_care", "amount_gbp": 5_200_000},
        ],
        **changes,
    }
