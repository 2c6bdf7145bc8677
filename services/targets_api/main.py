"""targets_api: place leaders, plans, targets, agreement and progress (port 8002)."""

from datetime import date

import httpx
from fastapi import FastAPI
from pydantic import Field

from services.common.app import create_app as create_service_app
from services.common.catalogue import catalogue_client
from services.common.config import CommonSettings
from services.targets_api.assessments.endpoints import router as assessments_router
from services.targets_api.changes.endpoints import router as changes_router
from services.targets_api.escalations.endpoints import router as escalations_router
from services.targets_api.escalations.gauges import escalation_metrics
from services.targets_api.evaluation.endpoints import router as evaluation_router
from services.targets_api.governance.endpoints import router as governance_router
from services.targets_api.governance.gauges import arrangement_metrics
from services.targets_api.leaders.endpoints import router as leaders_router
from services.targets_api.nominations.endpoints import router as nominations_router
from services.targets_api.plans.endpoints import router as plans_router
from services.targets_api.progress.endpoints import router as progress_router
from services.targets_api.progress.outcome_metrics import outcome_metrics, set_aside_metrics
from services.targets_api.public.endpoints import router as public_router
from services.targets_api.resources.endpoints import router as resources_router
from services.targets_api.spc.endpoints import router as spc_router
from services.targets_api.webhooks.endpoints import router as webhooks_router


class TargetsApiSettings(CommonSettings):
    governance_national_date: date = Field(
        default=date(2023, 4, 1),
        description="The day by which every place is to have adopted its governance model",
    )
    # The public routes (/public/v1/) need no key, so they are limited by client address, and
    # on by default: anyone on the internet can call them.
    public_rate_limit_per_minute: int = Field(
        default=120,
        ge=0,
        description="Requests a minute allowed per client address on /public/v1/, per process; "
        "0: no limit.",
    )
    public_rate_limit_burst: int = Field(
        default=0,
        ge=0,
        description="Requests an address may make at once on /public/v1/ before the rate "
        "applies; 0: as many as public_rate_limit_per_minute.",
    )
    public_max_age_s: int = Field(
        default=300,
        ge=0,
        description="Cache-Control max-age of /public/v1/ answers: how long browsers and proxies "
        "may keep one before revalidating it with its ETag.",
    )


def create_app(
    settings: TargetsApiSettings | None = None,
    database_url: str | None = None,
    metrics_api_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """``metrics_api_transport``: see services.common.catalogue.catalogue_client. Its progress
    refresher runs in the worker process (services/worker), not here."""
    settings = settings or TargetsApiSettings()
    return create_service_app(
        service="targets_api",
        title="joinedup targets_api",
        description="Place leaders, shared plans and targets with two-party agreement, and "
        "progress against them.",
        settings=settings,
        routers=[
            nominations_router,
            governance_router,
            leaders_router,
            plans_router,
            resources_router,
            progress_router,
            changes_router,
            spc_router,
            assessments_router,
            evaluation_router,
            webhooks_router,
            public_router,
            escalations_router,
        ],
        database_url=database_url,
        resources=[catalogue_client(metrics_api_transport)],
        scrape_collectors=[
            outcome_metrics,
            set_aside_metrics,
            arrangement_metrics,
            escalation_metrics,
        ],
    )
