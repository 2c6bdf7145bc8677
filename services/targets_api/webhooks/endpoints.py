from fastapi import APIRouter, Request, Response

from services.common.auth import StewardOrSignatoryKey
from services.common.catalogue import CatalogueDep, ConfirmedCatalogueDep
from services.common.db import SessionDep
from services.common.errors import problem_responses
from services.common.params import RowId
from services.common.responses import PageDep
from services.targets_api.webhooks import service
from services.targets_api.webhooks.schemas import (
    AttemptsPublic,
    DeliveriesPublic,
    WebhookCreate,
    WebhookCreated,
    WebhooksPublic,
)

router = APIRouter(tags=["webhooks"], responses=problem_responses(401, 403, 404, 422))


@router.post(
    "/v1/areas/{code}/webhooks",
    response_model=WebhookCreated,
    status_code=201,
    responses=problem_responses(400),
)
async def create_webhook(
    session: SessionDep,
    principal: StewardOrSignatoryKey,
    catalogue: ConfirmedCatalogueDep,
    code: str,
    body: WebhookCreate,
    request: Request,
) -> WebhookCreated:
    """Subscribe a receiver to the area's events; the answer shows the secret, once. A
    receiver at (or whose name resolves to) a private or other non-global address is refused
    (422) unless the operator allowed its network."""
    return await service.create_subscription(
        session,
        principal=principal,
        catalogue=catalogue,
        code=code,
        body=body,
        allowed_networks=request.app.state.settings.webhook_networks,
    )


@router.get("/v1/areas/{code}/webhooks", response_model=WebhooksPublic)
async def list_webhooks(
    session: SessionDep,
    principal: StewardOrSignatoryKey,
    catalogue: CatalogueDep,
    page: PageDep,
    code: str,
) -> WebhooksPublic:
    """The area's subscriptions, newest first (never their secrets)."""
    return await service.list_subscriptions(
        session, principal=principal, catalogue=catalogue, code=code, page=page
    )


@router.delete("/v1/webhooks/{webhook_id}", status_code=204)
async def delete_webhook(
    session: SessionDep,
    principal: StewardOrSignatoryKey,
    catalogue: ConfirmedCatalogueDep,
    webhook_id: RowId,
) -> Response:
    """Stop sending to a subscription; what was sent to it stays readable."""
    await service.delete_subscription(
        session, principal=principal, catalogue=catalogue, subscription_id=webhook_id
    )
    return Response(status_code=204)


@router.get("/v1/webhooks/{webhook_id}/deliveries", response_model=DeliveriesPublic)
async def list_webhook_deliveries(
    session: SessionDep,
    principal: StewardOrSignatoryKey,
    catalogue: CatalogueDep,
    page: PageDep,
    webhook_id: RowId,
) -> DeliveriesPublic:
    """The subscription's deliveries, newest first: state, attempts, last status and error."""
    return await service.list_deliveries(
        session, principal=principal, catalogue=catalogue, subscription_id=webhook_id, page=page
    )


@router.get(
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/attempts", response_model=AttemptsPublic
)
async def list_webhook_delivery_attempts(
    session: SessionDep,
    principal: StewardOrSignatoryKey,
    catalogue: CatalogueDep,
    page: PageDep,
    webhook_id: RowId,
    delivery_id: RowId,
) -> AttemptsPublic:
    """Every attempt of one of the subscription's deliveries, latest first: when, the
    receiver's status or the error, and how long it took."""
    return await service.list_attempts(
        session,
        principal=principal,
        catalogue=catalogue,
        subscription_id=webhook_id,
        delivery_id=delivery_id,
        page=page,
    )
