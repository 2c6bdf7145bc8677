"""The answer to an escalation from a place's, an ICB's or a region's page (a CSRF-checked
form), sent to targets_api with the session's key."""

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from services.common.errors import Unprocessable, field_error
from services.common.params import RowId
from services.web.dependencies import Api, CheckedForm, SignedIn
from services.web.pages.escalations_service import ANSWERS, answer

router = APIRouter(include_in_schema=False)


@router.post("/escalations/{escalation_id}/answer")
async def answer_escalation(
    _: SignedIn, api: Api, form: CheckedForm, escalation_id: RowId
) -> Response:
    action = form.get("action", "")
    if action not in ANSWERS:
        raise Unprocessable(
            f"{action!r} is not an answer to an escalation.",
            errors=[field_error(["action"], "must be acknowledge, escalate or resolve")],
        )
    await answer(api, escalation_id, action, form)
    back = form.get("back", "")
    # Back to the page the form was on, never to another site.
    if not back.startswith(("/places/", "/areas/")):
        back = "/"
    return RedirectResponse(f"{back}#escalations", status_code=303)
