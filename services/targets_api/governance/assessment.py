"""What a place's governance arrangement says about it, derived and never stored: whether its
partnership has the minimum membership, whether the model was adopted by the national date and
scrutinised before it was adopted. The register's answers, its roll-ups and its Prometheus
gauges all judge a place by these functions."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.common.vocabulary import MINIMUM_MEMBERSHIP, MemberCategory


def missing_categories(members: Iterable[Mapping[str, Any]]) -> list[MemberCategory]:
    """The minimum membership's categories that no member is in, in the vocabulary's order."""
    present = {member["category"] for member in members}
    return [category for category in MINIMUM_MEMBERSHIP if category not in present]


def is_adopted(adopted_on: date | None, *, today: date) -> bool:
    return adopted_on is not None and adopted_on <= today


@dataclass(frozen=True)
class Assessment:
    recorded: bool  # whether the place has an arrangement in the register at all
    adopted: bool
    adopted_by_national_date: bool
    # Scrutiny must come first: on the day of adoption is too late for the scrutiny to inform it.
    scrutinised_before_adoption: bool
    missing_categories: list[MemberCategory]

    @property
    def meets_minimum_membership(self) -> bool:
        return not self.missing_categories

    @property
    def shortfalls(self) -> list[str]:
        """Why the place falls short, in words a roll-up can count; empty when it does not."""
        if not self.recorded:
            return ["no_model"]
        reasons = []
        if not self.adopted:
            reasons.append("not_adopted")
        elif not self.adopted_by_national_date:
            reasons.append("adopted_after_national_date")
        if self.adopted and not self.scrutinised_before_adoption:
            reasons.append("not_scrutinised_before_adoption")
        if self.missing_categories:
            reasons.append("missing_members")
        return reasons


def assess(
    *,
    adopted_on: date | None,
    scrutinised_on: date | None,
    members: Iterable[Mapping[str, Any]],
    national_date: date,
    today: date,
) -> Assessment:
    if adopted_on is None or not is_adopted(adopted_on, today=today):
        return Assessment(
            recorded=True,
            adopted=False,
            adopted_by_national_date=False,
            scrutinised_before_adoption=False,
            missing_categories=missing_categories(members),
        )
    return Assessment(
        recorded=True,
        adopted=True,
        adopted_by_national_date=adopted_on <= national_date,
        scrutinised_before_adoption=scrutinised_on is not None and scrutinised_on < adopted_on,
        missing_categories=missing_categories(members),
    )


# A place with no arrangement recorded at all: nothing adopted, every category missing.
NOTHING_RECORDED = Assessment(
    recorded=False,
    adopted=False,
    adopted_by_national_date=False,
    scrutinised_before_adoption=False,
    missing_categories=list(MINIMUM_MEMBERSHIP),
)
