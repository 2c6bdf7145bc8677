from fastapi import APIRouter

from services.common.errors import problem_responses

router = APIRouter(tags=["leaders"], responses=problem_responses(401, 403, 404, 422))
