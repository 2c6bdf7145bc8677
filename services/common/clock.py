"""Today's date as the request handlers see it, as a dependency: a period closes when its
deadline passes, with no new data, so the views that depend on it must be testable with the
clock moved (tests override ``today`` in ``app.dependency_overrides``)."""

from datetime import date
from typing import Annotated

from fastapi import Depends

from services.common.periods import england_today


def today() -> date:
    return england_today()


TodayDep = Annotated[date, Depends(today)]
