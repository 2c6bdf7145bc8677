from fastapi import APIRouter

from services.common.auth import Principal
from services.common.errors import problem_responses
from services.targets_api.spc import service
from services.targets_api.spc.schemas import SpcPublic, SpcRequest

router = APIRouter(tags=["spc"], responses=problem_responses(400, 401, 422))


@router.post("/v1/spc", response_model=SpcPublic)
async def compute_spc(_: Principal, body: SpcRequest) -> SpcPublic:
    """The Making Data Count SPC of a bare series, as NHSRplotthedots v0.2 computes it."""
    return SpcPublic.of(
        service.spc(
            body.values,
            improvement_direction=body.improvement_direction,
            target=body.target,
            screen_outliers=body.screen_outliers,
            fix_after_n_points=body.fix_after_n_points,
            rebase_at_indices=body.rebase_at_indices,
        )
    )
