from fastapi import APIRouter

from services.common.errors import problem_responses

router = APIRouter(tags=["plans"], responses=problem_responses(401, 403, 404, 422))
