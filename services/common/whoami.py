"""`GET /v1/me`: who a key is (id, name, role, scopes), answered by every service, so a client
(the web app's sign-in) can learn a key's role and scope without being able to read the keys."""

from fastapi import APIRouter
from pydantic import BaseModel

from services.common.auth import Principal, Role
from services.common.errors import problem_responses


class KeyPublic(BaseModel):
    id: int
    name: str
    role: Role
    scopes: list[str]


router = APIRouter(tags=["keys"], responses=problem_responses(401))


@router.get("/v1/me", response_model=KeyPublic)
async def get_me(principal: Principal) -> KeyPublic:
    """The key that made this request: its id, name, role and scopes (never the key itself)."""
    return KeyPublic(
        id=principal.key_id,
        name=principal.name,
        role=principal.role,
        scopes=list(principal.scopes),
    )
