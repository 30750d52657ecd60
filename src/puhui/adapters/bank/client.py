"""The platform's client of the bank channel: payouts keyed by our id, status look-ups, timeouts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from puhui.money import format_amount


class BankChannelError(Exception):
    """The channel could not be reached or answered with an error; the payout may be unknown."""


@dataclass(frozen=True, slots=True)
class PayoutResult:
    payout_id: str
    status: str  # pending | succeeded | failed
    failure_reason: str | None = None


class BankClient:
    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s)

    def submit_payout(self, payout_id: str, account_number: str, amount: Decimal) -> PayoutResult:
        body = {"payout_id": payout_id, "account_number": account_number, "amount": format_amount(amount)}
        return self._result(self._call("POST", "/payouts", json=body))

    def get_payout(self, payout_id: str) -> PayoutResult | None:
        try:
            response = self.client.get(f"/payouts/{payout_id}")
        except httpx.HTTPError as exc:
            raise BankChannelError(f"bank channel unreachable: {type(exc).__name__}") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise BankChannelError(f"bank channel answered {response.status_code}")
        return self._result(response.json())

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BankChannelError(f"bank channel unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise BankChannelError(f"bank channel answered {response.status_code}: {response.text[:200]}")
        payload: dict[str, Any] = response.json()
        return payload

    @staticmethod
    def _result(payload: dict[str, Any]) -> PayoutResult:
        return PayoutResult(payload["payout_id"], payload["status"], payload.get("failure_reason"))

    def close(self) -> None:
        self.client.close()
