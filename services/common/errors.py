"""RFC 9457 problem details: the domain errors services raise, and where they are rendered."""

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import fhir

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "urn:joinedup:problem:"


class Problem(Exception):
    """A failure the client can understand and act on."""

    status: int = 500
    slug: str = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        slug: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})
        self.extensions = extensions
        if slug:
            self.slug = slug


class BadRequest(Problem):
    status, slug = 400, "bad-request"


class Unauthorized(Problem):
    status, slug = 401, "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    status, slug = 403, "forbidden"


class NotFound(Problem):
    status, slug = 404, "not-found"


class Conflict(Problem):
    status, slug = 409, "conflict"


class PreconditionFailed(Problem):
    status, slug = 412, "precondition-failed"


class PayloadTooLarge(Problem):
    status, slug = 413, "payload-too-large"


class Unprocessable(Problem):
    status, slug = 422, "validation-error"


class UnsupportedMediaType(Problem):
    status, slug = 415, "unsupported-media-type"


class TooManyRequests(Problem):
    status, slug = 429, "too-many-requests"

    def __init__(self, detail: str, *, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class ServiceUnavailable(Problem):
    status, slug = 503, "service-unavailable"

    def __init__(self, detail: str, *, retry_after_s: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


def field_error(loc: Sequence[str | int], msg: str, **more: Any) -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, **more}


def problem_response(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    title: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    instance: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> JSONResponse:
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + (slug or phrase.lower().replace(" ", "-")),
        "title": title or phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = list(errors)
    body.update(extensions or {})
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE
    )


def _answer(request: Request, status: int, detail: str, **fields: Any) -> Response:
    """The error as a problem, or on a FHIR route as the OperationOutcome FHIR clients read
    (issue 20): one set of handlers, so a 401, 404 or 415 there is FHIR too."""
    if fhir.is_fhir_path(request.url.path):
        return fhir.outcome_response(
            status, detail, errors=fields.get("errors"), headers=fields.get("headers")
        )
    return problem_response(status, detail, instance=request.url.path, **fields)


def _loc_without_body_wrapper(loc: Sequence[Any]) -> list[Any]:
    return [part for part in loc if part != "body"] or list(loc)


async def _on_problem(request: Request, exc: Problem) -> Response:
    return _answer(
        request,
        exc.status,
        exc.detail,
        slug=exc.slug,
        errors=exc.errors,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        field_error(
            _loc_without_body_wrapper(err.get("loc", ())),
            err.get("msg", "invalid"),
            type=err.get("type"),
        )
        for err in exc.errors()
    ]
    where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
    return _answer(
        request, 422, f"The request is not valid: {where}", slug="validation-error", errors=errors
    )


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    # Routing stops at the first route whose path matches and names only that route's methods;
    # a path served by several routes (GET and PUT /v1/metrics/{code}) allows all of theirs.
    allowed = [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL
            for route in request.app.router.routes
        )
    ]
    return ", ".join([*allowed, "OPTIONS"])


async def _on_http_exception(request: Request, exc: StarletteHTTPException) -> Response:
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}"
    elif exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
        if request.method == "OPTIONS":
            # RFC 9110 section 9.3.7: OPTIONS asks what the path allows; the answer is Allow.
            return Response(status_code=204, headers=headers)
        detail = (
            f"{request.method} is not allowed on {request.url.path}; it allows {headers['Allow']}"
        )
    return _answer(request, exc.status_code, detail, headers=headers)


# PostgreSQL text cannot hold NUL (psycopg refuses it before sending; jsonb refuses \u0000 as
# 22P05). Any free-text field may carry one, so it is refused here once rather than per schema.
_UNSTORABLE_TEXT_STATES = frozenset({"22P05", "22021"})


def _is_unstorable_text(exc: DBAPIError) -> bool:
    orig = exc.orig
    return isinstance(orig, psycopg.DataError) and (
        orig.sqlstate in _UNSTORABLE_TEXT_STATES
        or (orig.sqlstate is None and "NUL (0x00)" in str(orig))
    )


async def _on_database_error(request: Request, exc: DBAPIError) -> Response:
    if _is_unstorable_text(exc):
        return _answer(
            request, 422, "Text must not contain NUL (\\u0000) characters.", slug="validation-error"
        )
    return await _on_unexpected(request, exc)


async def _on_database_unavailable(request: Request, exc: Exception) -> Response:
    # Every pooled connection busy (pool timeout), or the server unreachable or restarting: a
    # passing condition, so say when to retry. A write whose commit was cut off may have been
    # stored; its retry with the same Idempotency-Key replays it rather than storing it twice.
    log.warning(
        "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
    )
    return _answer(
        request,
        503,
        "The database is busy or unreachable; retry shortly.",
        slug="service-unavailable",
        headers={"Retry-After": "1"},
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    # Never echo the exception: it may carry SQL, data or secrets. The request id links the
    # client's report to the server log, which has the traceback.
    request_id = getattr(request.state, "request_id", None)
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _answer(
        request,
        500,
        "An unexpected error occurred; it has been logged.",
        headers={"X-Request-ID": request_id} if request_id else None,
        extensions={"request_id": request_id} if request_id else None,
    )


class UnexpectedErrorMiddleware:
    """Answers an unhandled exception with the 500 problem and ends the request there.

    Starlette's own last resort sends the same answer and then raises again, for the server to
    log; uvicorn then closes the connection, and a client's next request on that keep-alive
    connection fails. The traceback is logged here, so nothing is lost by not raising. An
    exception after the response started (a streamed CSV cut off) still propagates: the client
    has a partial body, and only closing the connection tells it so."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception as exc:
            if started:
                raise
            response = await _on_unexpected(Request(scope), exc)
            await response(scope, receive, send)


def install_problem_handlers(app: FastAPI) -> None:
    # Starlette types a handler as taking any Exception; each of these takes the one class it is
    # registered for, which is what Starlette passes it, so the narrower signature is sound.
    handlers: list[tuple[type[Exception], Any]] = [
        (Problem, _on_problem),
        (RequestValidationError, _on_validation_error),
        (StarletteHTTPException, _on_http_exception),
        (DBAPIError, _on_database_error),
    ]
    for exception, handler in handlers:
        app.add_exception_handler(exception, handler)
    for unavailable in (sa_exc.TimeoutError, sa_exc.OperationalError):
        app.add_exception_handler(unavailable, _on_database_unavailable)
    # The last resort for a failure outside UnexpectedErrorMiddleware (in another middleware).
    app.add_exception_handler(Exception, _on_unexpected)


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries documenting problem+json error responses for a route."""
    ref = {"$ref": "#/components/schemas/ProblemDetails"}
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": ref}},
        }
        for status in statuses
    }
