"""web: server-rendered pages for assessors, place leaders, signatories and data teams (port
8000).

It owns no tables and never connects to PostgreSQL: every figure comes from the three APIs over
HTTP, asked with the signed-in person's own key (services/web/api.py), so a page shows and
allows exactly what the APIs allow that key. Sessions live in this process's memory
(services/web/sessions.py). Errors are HTML pages for browsers and problem+json for anything
else; /healthz, /readyz (ready when the three APIs are) and /metrics as every service has.
"""

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.app import VERSION, BodyLimitMiddleware
from services.common.config import CommonSettings
from services.common.errors import (
    Problem,
    UnexpectedErrorMiddleware,
    install_problem_handlers,
)
from services.common.logs import configure_logging
from services.common.telemetry import (
    RequestTelemetryMiddleware,
    current_service,
    metrics_response,
    process_exiting,
)
from services.web import charts
from services.web.api import Apis, KeyRejected, Peer
from services.web.dependencies import SignInRequired, current_session
from services.web.pages.account import router as account_router
from services.web.pages.approvals import router as approvals_router
from services.web.pages.areas import router as areas_router
from services.web.pages.arrangements import router as arrangements_router
from services.web.pages.data import router as data_router
from services.web.pages.escalations import router as escalations_router
from services.web.pages.evaluation import router as evaluation_router
from services.web.pages.metrics import router as metrics_router
from services.web.pages.places import router as places_router
from services.web.pages.plans import router as plans_router
from services.web.pages.public import router as public_router
from services.web.rendering import HERE, render
from services.web.sessions import COOKIE, SessionStore

# Pages say nothing to caches (they carry a person's view), are never framed (clickjacking),
# and load nothing from anywhere else. Charts are inline SVG with style attributes, hence the
# style-src 'unsafe-inline'; no script runs but the app's own.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class WebSettings(CommonSettings):
    web_session_idle_s: float = Field(
        default=30 * 60, gt=0, description="A session unused this long ends."
    )
    web_session_max_s: float = Field(
        default=8 * 3600, gt=0, description="A session ends this long after sign-in, used or not."
    )
    web_max_sessions: int = Field(default=10_000, gt=0)
    web_api_timeout_s: float = 15.0
    web_demo_keys: str | None = Field(
        default=None,
        description="JSON {label: key} of demo keys a person may sign in as without typing one; "
        "set by `joinedup up --demo` only.",
        repr=False,
    )

    def demo_keys(self) -> dict[str, str]:
        return json.loads(self.web_demo_keys) if self.web_demo_keys else {}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


# Starlette's handlers may answer directly or through an awaitable.
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def _for_browsers(api_handler: Handler) -> Handler:
    """An error handler that answers a browser with an HTML page and anything else as the
    services do (problem+json)."""

    async def handle(request: Request, exc: Exception) -> Response:
        answer = api_handler(request, exc)
        if not isinstance(answer, Response):
            answer = await answer
        if not wants_html(request):
            return answer
        problem = json.loads(bytes(answer.body))
        session = current_session(request)
        return render(
            request,
            "error.html",
            session=session if session and session.key else None,
            title=problem.get("title", "Error"),
            problem=problem,
            status_code=answer.status_code,
        )

    return handle


def _install_error_pages(app: FastAPI) -> None:
    install_problem_handlers(app)
    for exception in (Problem, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(exception, _for_browsers(app.exception_handlers[exception]))

    async def sign_in_first(request: Request, _: Exception) -> Response:
        if not wants_html(request):
            return JSONResponse(
                {
                    "type": "urn:joinedup:problem:sign-in-required",
                    "title": "Unauthorized",
                    "status": 401,
                    "detail": "Sign in at /sign-in first.",
                },
                status_code=401,
                media_type="application/problem+json",
            )
        return RedirectResponse("/sign-in", status_code=303)

    async def key_rejected(request: Request, exc: Exception) -> Response:
        # The key was revoked (or expired) since sign-in: this session is over.
        if session_id := request.cookies.get(COOKIE):
            request.app.state.sessions.end(session_id)
        response = await sign_in_first(request, exc)
        response.delete_cookie(COOKIE)
        return response

    app.add_exception_handler(SignInRequired, sign_in_first)
    app.add_exception_handler(KeyRejected, key_rejected)


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: the three APIs are ready")
    async def readyz(request: Request) -> JSONResponse:
        apis: Apis = request.app.state.apis
        answers = await asyncio.gather(*(apis.ready(peer) for peer in Peer))
        body = {
            str(peer): "ok" if ok else "unavailable" for peer, ok in zip(Peer, answers, strict=True)
        }
        ready = all(answers)
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", **body}, status_code=200 if ready else 503
        )

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        return await metrics_response(request.app, ())

    return router


def create_app(
    settings: WebSettings | None = None, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """``transport`` replaces the network to the APIs (in-process tests)."""
    settings = settings or WebSettings()
    configure_logging(settings.log_level)
    apis = Apis(
        {
            Peer.metrics_api: settings.metrics_api_url,
            Peer.targets_api: settings.targets_api_url,
            Peer.ingest: settings.ingest_url,
        },
        timeout_s=settings.web_api_timeout_s,
        transport=transport,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        current_service.set("web")
        # The first chart a process renders starts vl-convert's engine (seconds under load):
        # paid before the first page, not by it (docs/charts.md).
        await asyncio.to_thread(charts.warm_up)
        try:
            yield
            await apis.aclose()
        finally:
            process_exiting()

    # Pages, not an API: no OpenAPI document to publish.
    app = FastAPI(
        title="joinedup web",
        version=VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = "web"
    app.state.settings = settings
    app.state.apis = apis
    app.state.demo_keys = settings.demo_keys()
    app.state.sessions = SessionStore(
        idle_s=settings.web_session_idle_s,
        max_age_s=settings.web_session_max_s,
        capacity=settings.web_max_sessions,
    )
    _install_error_pages(app)
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestTelemetryMiddleware, service="web")
    app.include_router(_health_router())
    for router in (
        account_router,
        areas_router,
        places_router,
        metrics_router,
        plans_router,
        public_router,
        approvals_router,
        data_router,
        arrangements_router,
        evaluation_router,
        escalations_router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
