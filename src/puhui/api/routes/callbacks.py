"""Signed callbacks from the bank channel (HMAC-SHA256 of the raw body in X-Signature)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request

from puhui.adapters.bank.signing import SIGNATURE_HEADER, verify
from puhui.api.deps import ContainerDep
from puhui.api.errors import ApiError
from puhui.services import disbursement

router = APIRouter(prefix="/v1/callbacks", tags=["callbacks"])


@router.post("/bank")
async def bank_callback(request: Request, container: ContainerDep) -> dict[str, str]:
    body = await request.body()
    if not verify(container.settings.bank_secret, body, request.headers.get(SIGNATURE_HEADER)):
        raise ApiError(401, "bad_signature", "the callback signature does not match")
    try:
        event = json.loads(body)
        kind = event["type"]
    except (ValueError, KeyError, TypeError):
        raise ApiError(422, "validation_error", "the callback is not a JSON event with a type") from None
    if kind == "payout" and event.get("status") in ("succeeded", "failed"):
        status = disbursement.resolve(
            container, str(event["payout_id"]), event["status"] == "succeeded", event.get("failure_reason")
        )
        return {"result": status}
    raise ApiError(422, "unsupported_event", f"callbacks of type {kind!r} are not handled yet")
