"""Signed callbacks from the bank channel (HMAC-SHA256 of the raw body in X-Signature)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request

from puhui.adapters.bank.signing import SIGNATURE_HEADER, verify
from puhui.api.deps import ContainerDep
from puhui.api.errors import ApiError
from puhui.api.schemas.common import MAX_PAYMENT
from puhui.api.schemas.operations import CallbackOut
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.money import MoneyError, parse_amount, to_minor
from puhui.services import disbursement, fraud, servicing
from puhui.services.borrowers import Conflict, NotFound

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/callbacks", tags=["callbacks"])


@router.post("/bank", response_model=CallbackOut, response_model_exclude_unset=True)
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
    if kind == "incoming":
        return _incoming(container, event)
    raise ApiError(422, "unsupported_event", f"callbacks of type {kind!r} are not handled")


BANK_CHANNEL = Principal(SubjectKind.STAFF, "bank-channel", Role.OPS)


def _incoming(container: Container, event: dict[str, Any]) -> dict[str, str]:
    """A borrower paid into the lender's account: post it as a repayment of `loan_ref`, once per
    bank reference. A payment that cannot be applied is acknowledged and reported as unapplied."""
    try:
        if parse_amount(event["amount"]) > MAX_PAYMENT:
            raise MoneyError(f"amount is more than {MAX_PAYMENT}")
        amount = to_minor(parse_amount(event["amount"]))
        command = servicing.RepaymentCommand(
            str(event["loan_ref"]), amount, None, servicing.Channel.BANK, str(event["reference"])
        )
    except (KeyError, MoneyError) as exc:
        raise ApiError(422, "validation_error", f"the incoming payment event is incomplete: {exc}") from None
    try:
        stored = servicing.repay(container, command, BANK_CHANNEL, None)
    except (NotFound, Conflict) as exc:
        log.warning("unapplied incoming payment %s: %s", event["reference"], exc)
        return {"result": "unapplied", "reason": str(exc)}
    payer = event.get("payer_last4")
    fraud.note_payer(container, command.loan_id, str(payer) if payer else None, command.channel_reference or "")
    return {"result": "posted", "repayment_id": str(stored.body["id"])}
