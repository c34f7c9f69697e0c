"""Webhook routes: any key subscribes to the events it may read; each key manages its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from gateway.webhooks import subscriptions
from gateway.webhooks.schemas import DeliveryOut, WebhookCreated, WebhookIn, WebhookOut
from pentad.deps import CurrentCaller, CurrentSettings, Session
from pentad.openapi import ANY_KEY
from pentad.pagination import Page, Paging
from pentad.query import strict_query

router = APIRouter(dependencies=[Depends(strict_query())], tags=["webhooks"])

WebhookId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$", examples=["whk_01JD8Z6Q1V2W3X4Y5Z6A7B8C9D"])]
DeliveryId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$", examples=["msg_01JD8Z6Q1V2W3X4Y5Z6A7B8C9D"])]

_HOW = ("Each event is POSTed as a CloudEvents 1.0 JSON body, signed per the Standard Webhooks specification "
        "(`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 with the subscription's secret). "
        "Only events about what the subscribing key may read through the API are sent. Answer 2xx to "
        "acknowledge; anything else is retried with exponential back-off for up to three days, the same "
        "`webhook-id` each time.")


@router.post("/gateway/webhooks", response_model=WebhookCreated, status_code=201, openapi_extra=ANY_KEY,
             summary="Subscribe to events (the secret is shown once)", description=_HOW)
async def create_webhook(webhook_in: WebhookIn, session: Session, caller: CurrentCaller,
                         settings: CurrentSettings) -> WebhookCreated:
    await subscriptions.check(webhook_in, allow_private=settings.webhooks_allow_private)
    record = await subscriptions.create(session, caller=caller, webhook_in=webhook_in)
    return WebhookCreated.model_validate({**WebhookOut.model_validate(record).model_dump(), "secret": record.secret})


@router.get("/gateway/webhooks", response_model=Page[WebhookOut], openapi_extra=ANY_KEY,
            summary="Webhook subscriptions", description="This key's own; an admin key sees every key's.")
async def list_webhooks(session: Session, caller: CurrentCaller, paging: Paging) -> Page[WebhookOut]:
    rows, cursor = await subscriptions.list_(session, caller=caller, paging=paging)
    return Page[WebhookOut](items=[WebhookOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.delete("/gateway/webhooks/{webhook_id}", status_code=204, openapi_extra=ANY_KEY,
               summary="Unsubscribe", description="Nothing more is sent, pending deliveries included.")
async def delete_webhook(webhook_id: WebhookId, session: Session, caller: CurrentCaller) -> Response:
    subscription = await subscriptions.get_or_raise(session, caller=caller, webhook_id=webhook_id, for_update=True)
    await subscriptions.delete(session, subscription=subscription)
    return Response(status_code=204)


@router.get("/gateway/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryOut], openapi_extra=ANY_KEY,
            summary="A subscription's deliveries and their attempts",
            description="Oldest first; each with its status, the last answer's status code and latency, and "
                        "its latest attempts.")
async def list_deliveries(webhook_id: WebhookId, session: Session, caller: CurrentCaller,
                          paging: Paging) -> Page[DeliveryOut]:
    subscription = await subscriptions.get_or_raise(session, caller=caller, webhook_id=webhook_id)
    items, cursor = await subscriptions.deliveries(session, subscription=subscription, paging=paging)
    return Page[DeliveryOut](items=items, next_cursor=cursor)


@router.post("/gateway/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut,
             status_code=202, openapi_extra=ANY_KEY, summary="Send a delivery again",
             description="Due now, with the same `webhook-id`. A subscription disabled after failing becomes "
                         "active again.")
async def redeliver(webhook_id: WebhookId, delivery_id: DeliveryId, session: Session, caller: CurrentCaller,
                    settings: CurrentSettings) -> DeliveryOut:
    subscription = await subscriptions.get_or_raise(session, caller=caller, webhook_id=webhook_id, for_update=True)
    return await subscriptions.redeliver(session, subscription=subscription, delivery_id=delivery_id,
                                         retry_hours=settings.webhooks_retry_hours)
