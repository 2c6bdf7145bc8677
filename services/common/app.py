"""The app factory every service is built with: health, readiness, metrics, errors, telemetry."""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.config import CommonSettings
from services.common.db import create_engine, make_sessionmaker
from services.common.errors import (
    ProblemDetails,
    UnexpectedErrorMiddleware,
    install_problem_handlers,
)
from services.common.logs import configure_logging
from services.common.params import refuse_repeated_query
from services.common.replica import ReadSourceMiddleware
from services.common.roles import service_database_url
from services.common.schema_version import current_revision, head_revision, serves
from services.common.telemetry import (
    RequestTelemetryMiddleware,
    ScrapeCollector,
    current_service,
    metrics_response,
    process_exiting,
)
from services.common.whoami import router as whoami_router

VERSION = "1.0.0"


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = HTTPException(
            413, f"The request body is larger than the limit of {self.max_bytes} bytes."
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:

            async def refuse_body() -> Any:
                raise too_large

            await self.app(scope, refuse_body, send)
            return
        received = 0

        async def counting_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise too_large
            return message

        await self.app(scope, counting_receive, send)


def _health_router(collectors: Sequence[ScrapeCollector]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        """Alive; says nothing about the database."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: database reachable and its schema one this build serves",
        responses={503: {"description": "Not ready"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """Ready to serve: the database answers and its schema is at this build's Alembic head,
        or at a later revision that declares itself compatible with it."""
        expected = head_revision()
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                current = await current_revision(conn)
                ready = await serves(conn, current, expected)
        except Exception as exc:  # any failure to reach the database means "not ready"
            return JSONResponse(
                {"status": "unavailable", "database": "unreachable", "error": type(exc).__name__},
                status_code=503,
            )
        body = {
            "status": "ok" if ready else "unavailable",
            "database": "ok",
            "schema_revision": current,
            "expected_revision": expected,
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics(request: Request) -> Any:
        return await metrics_response(request.app, collectors)

    return router


_LOCAL_DEFS = "#/$defs/"


def _hoist_local_defs(node: Any, components: dict[str, Any]) -> None:
    """Moves the ``$defs`` of a schema written by pydantic itself (an ``openapi_extra`` body,
    say) into the document's components: its ``#/$defs/X`` refs are read from the document's
    root, where nothing is, and client generators stop there. Both come from the same models,
    so a name already in the components keeps its definition."""
    if isinstance(node, dict):
        for name, definition in node.pop("$defs", {}).items():
            _hoist_local_defs(definition, components)
            components.setdefault(name, definition)
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_LOCAL_DEFS):
            node["$ref"] = "#/components/schemas/" + ref.removeprefix(_LOCAL_DEFS)
        children = list(node.values())
    else:
        children = node if isinstance(node, list) else []
    for child in children:
        _hoist_local_defs(child, components)


def _openapi_with_problem_schema(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        _hoist_local_defs(schema["paths"], components)
        components["ProblemDetails"] = ProblemDetails.model_json_schema()
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key from `joinedup keys create`.",
            }
        }
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(
    *,
    service: str,
    title: str,
    description: str,
    settings: CommonSettings,
    routers: Sequence[APIRouter],
    database_url: str | None = None,
    resources: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[object]]] = (),
    scrape_collectors: Sequence[ScrapeCollector] = (),
) -> FastAPI:
    """A service app. ``resources`` are opened at startup and closed at shutdown, in reverse
    order, e.g. a peer client or a background job (services/worker). ``scrape_collectors``
    add figures read from the database to every ``/metrics`` scrape."""
    configure_logging(settings.log_level)
    engine = create_engine(database_url or service_database_url(settings, service), settings)
    read_engine = (
        create_engine(
            settings.database_read_url,
            settings,
            connect_timeout_s=settings.db_read_connect_timeout_s,
        )
        if settings.database_read_url
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Background jobs started by the resources log as this service, not as "cli".
        current_service.set(service)
        try:
            async with AsyncExitStack() as stack:
                for resource in resources:
                    await stack.enter_async_context(resource(app))
                yield
            await engine.dispose()
            if read_engine is not None:
                await read_engine.dispose()
        finally:
            process_exiting()

    # /docs and /redoc with Swagger UI's and ReDoc's files served by the app itself (under
    # /static-offline-docs, which needs no key) rather than from a CDN, so they work offline.
    app = FastAPIOffline(
        title=title,
        description=description,
        version=VERSION,
        lifespan=lifespan,
        dependencies=[Depends(refuse_repeated_query)],
    )
    app.state.service = service
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.read_sessionmaker = make_sessionmaker(read_engine) if read_engine else None
    install_problem_handlers(app)
    # Added first, so innermost: its 500s pass through the telemetry like every other answer.
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ReadSourceMiddleware)
    app.add_middleware(RequestTelemetryMiddleware, service=service)
    app.include_router(_health_router(scrape_collectors))
    app.include_router(whoami_router)
    for router in routers:
        app.include_router(router)
    # FastAPI's documented way to extend the schema is to replace app.openapi.
    app.openapi = lambda: _openapi_with_problem_schema(app)  # type: ignore[method-assign]
    return app
