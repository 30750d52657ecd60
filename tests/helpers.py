"""Test data builders: valid identifiers computed from their standards, clients signed in."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import httpx

from puhui.domain.identity import id_number_check_char, luhn_check_digit, uscc_check_char

if TYPE_CHECKING:  # kept out of the import: most tests need none of the app
    from fastapi.testclient import TestClient

    from puhui.adapters.db.database import Database
    from puhui.bootstrap import Container
    from puhui.clock import FixedClock


def resident_id(serial: int, born: str = "19850612", region: str = "330106") -> str:
    first17 = f"{region}{born}{serial % 1000:03d}"
    return first17 + id_number_check_char(first17)


def uscc(serial: int) -> str:
    first17 = f"91330106MA{serial % 10**7:07d}"
    return first17 + uscc_check_char(first17)


def bank_card(serial: int) -> str:
    """A Luhn-valid 19-digit debit card of its own for each serial."""
    body = f"621700{serial % 10**12:012d}"
    return body + luhn_check_digit(body)


def phone(serial: int) -> str:
    return f"139{serial % 10**8:08d}"


def borrower_token(client: httpx.Client, mobile: str, ip: str = "testclient") -> dict[str, str]:
    sent = client.post("/v1/auth/otp", json={"phone": mobile})
    assert sent.status_code == 202, sent.text
    token = client.post("/v1/auth/token", json={"phone": mobile, "otp": sent.json()["demo_otp"]})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def staff_token(client: httpx.Client, username: str, password: str = "demo") -> dict[str, str]:
    token = client.post("/v1/auth/token", json={"username": username, "password": password})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, timeout_s: float = 20) -> bool:
    """Poll `url` until it answers 200; False if it never does within the time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.1)
    return False


def share_cash_flow(
    client: httpx.Client,
    headers: dict[str, str],
    borrower_id: str,
    kind: str = "individual",
    as_of: date | None = None,
    monthly_income: Decimal | None = None,
    seed: str | None = None,
) -> int:
    """What a borrower does in the app before applying: consent to transaction data and share a
    year of account movements (the same story as `seeding.onboard`). Returns the rows kept.

    The movements come from `seed` (by default one fixed story per kind), not from the borrower's
    random id, so a test's decision is the same on every run."""
    from puhui.clock import SystemClock
    from puhui.domain.enums import BorrowerKind
    from puhui.services.seeding import TYPICAL_MONTHLY_INCOME, cash_flow_history

    borrower_kind = BorrowerKind(kind)
    granted = client.post(
        f"/v1/borrowers/{borrower_id}/consents", json={"scope": "transactions", "text_version": "1"}, headers=headers
    )
    assert granted.status_code == 201, granted.text
    income = monthly_income or TYPICAL_MONTHLY_INCOME[borrower_kind]
    rows = cash_flow_history(seed or f"steady-{kind}", borrower_kind, income, as_of or SystemClock().business_date())
    sent = client.post(f"/v1/borrowers/{borrower_id}/data/transactions", json=rows, headers=headers)
    assert sent.status_code == 202 and not sent.json()["rejected"], sent.text
    return int(sent.json()["accepted"])


@contextmanager
def api_lender(db: Database, start: datetime) -> Iterator[tuple[TestClient, Container, FixedClock]]:
    """The demo lender (products, capital, staff users) on `db` with its clock at `start`, and an
    in-process API client; tokens live as long as the simulated months a test walks through."""
    from fastapi.testclient import TestClient

    from puhui.api.app import create_app
    from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
    from puhui.clock import FixedClock
    from puhui.config import load_settings

    clock = FixedClock(start)
    settings = load_settings(database_url=db.url, env="demo", token_ttl_minutes=60 * 24 * 400)
    container = Container(settings, db, clock)
    prepare(container)
    seed_demo_capital(container)
    seed_demo_staff(container)
    with TestClient(create_app(container)) as client:
        yield client, container, clock
