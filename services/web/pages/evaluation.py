"""The evaluation of the arrangements: the form, the page, and its tables as CSV."""

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.common.errors import NotFound
from services.web.dependencies import Api, SignedIn
from services.web.pages.evaluation_service import EVENTS, GROUPINGS, Choice, evaluation_page
from services.web.rendering import render
from services.web.tables import by_name

router = APIRouter(include_in_schema=False)


@dataclass
class Asked:
    """The form's choice, from the query (no measure: the first national one)."""

    metric_code: str | None = None
    event: Literal["governance_adopted", "leader_confirmed"] = "governance_adopted"
    by: Literal["governance_model", "joint_appointment", "none"] = "governance_model"

    def choice(self) -> Choice:
        return Choice(self.metric_code, self.event, self.by)


AskedDep = Annotated[Asked, Depends()]


@router.get("/evaluation")
async def evaluation(request: Request, session: SignedIn, api: Api, asked: AskedDep) -> Response:
    page = await evaluation_page(api, asked.choice(), with_charts=True)
    return render(
        request,
        "evaluation.html",
        session=session,
        title="Evaluation of the arrangements",
        crumbs=page.crumbs,
        page=page,
        events=EVENTS,
        groupings=GROUPINGS,
    )


@router.get("/evaluation/tables/{name}.csv")
async def evaluation_table(_: SignedIn, api: Api, name: str, asked: AskedDep) -> Response:
    page = await evaluation_page(api, asked.choice(), with_charts=False)
    table = by_name(page.tables).get(name)
    if table is None:
        raise NotFound(f"The evaluation page has no table {name!r}.")
    choice = page.choice
    return table.csv(f"evaluation-{choice.metric_code}-{choice.event}-{choice.by}-{name}")
