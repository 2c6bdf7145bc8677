from typing import Annotated

from fastapi import APIRouter, Depends

from services.common.auth import ApiPrincipal, Role, require_role
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.targets_api.changes import store
from services.targets_api.changes.schemas import ChangesRecorded, ObservationChanges

router = APIRouter(
    prefix="/internal/v1", tags=["internal"], responses=problem_responses(400, 401, 403, 422)
)

ServiceKey = Annotated[ApiPrincipal, Depends(require_role(Role.service))]


@router.post("/observation-changes", status_code=202, response_model=ChangesRecorded)
async def record_observation_changes(
    session: SessionDep, _: ServiceKey, notice: ObservationChanges
) -> ChangesRecorded:
    """From ingest: observations changed; queue their places and metrics for a refresh."""
    return ChangesRecorded(recorded=await store.queue_changes(session, notice=notice))
