"""The whole loan lifecycle over real HTTP: `puhui serve` (uvicorn) and `puhui bank-sim` as separate
processes, on SQLite and on PostgreSQL.

Four borrowers sign in, register, consent, apply, accept, sign and are paid out through the bank;
then operations close 400 business days (`POST /v1/eod`; the platform's business date is the day
after the last close) while each borrower behaves as people do:
- `on_time` pays every installment on its due date through the API;
- `late` pays 3–5 weeks late, through the bank (incoming payment -> signed callback);
- `prepay` pays on time, prepays 10,000 for a shorter term after ~3 months, pays off after ~7;
- `missed` pays the first installment and then nothing; finance writes it off past 120 days
  overdue, and a later payment through the bank is a recovery.
At the end the trial balance balances, each loan's outstanding amounts equal its ledger accounts,
the bank simulator's book agrees with what moved through it, and money on a closed loan is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from puhui.adapters.db import ledger_repository
from puhui.adapters.db.database import Database
from puhui.bootstrap import seed_demo_capital, seed_demo_staff
from puhui.domain.ledger import AccountCode, AccountType
from puhui.domain.postings import loan_account
from puhui.money import to_minor
from tests.e2e.processes import OPENING_BALANCE_MINOR, ProcessStack
from tests.helpers import bank_card, staff_token

DAYS = 400
PAYER_CARD = "6217000010000000007"


@dataclass
class Borrower:
    name: str
    serial: int
    product: str
    amount: str
    term_months: int
    headers: dict[str, str] = field(default_factory=dict)
    loan_id: str = ""
    paid_interest_minor: int = 0
    bank_in_minor: int = 0
    references: int = 0


@dataclass
class Journey:
    stack: ProcessStack
    http: httpx.Client
    ops: dict[str, str]
    finance: dict[str, str]
    people: dict[str, Borrower]
    today: str = ""
    day: int = 0
    log: list[str] = field(default_factory=list)

    def ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
        return response.json()

    def loan(self, b: Borrower) -> Any:
        return self.ok(self.http.get(f"/v1/loans/{b.loan_id}", headers=b.headers))

    def due_now(self, b: Borrower) -> Decimal:
        return Decimal(self.ok(self.http.get(f"/v1/loans/{b.loan_id}/payoff", headers=b.headers))["due_now"])

    def pay_api(self, b: Borrower, amount: Decimal, prepayment: str | None = None) -> Any:
        body: dict[str, Any] = {"amount": f"{amount:.2f}"}
        if prepayment:
            body["prepayment"] = prepayment
        key = {"Idempotency-Key": f"{b.name}-{self.today}-{prepayment or 'due'}", **b.headers}
        paid = self.ok(self.http.post(f"/v1/loans/{b.loan_id}/repayments", headers=key, json=body))
        b.paid_interest_minor += to_minor(Decimal(paid["allocation"]["interest"]))
        self.log.append(f"{self.today} {b.name} paid {amount} ({paid['kind']})")
        return paid

    def pay_bank(self, b: Borrower, amount: Decimal) -> None:
        """The borrower transfers to the lender's account; the bank calls the platform back."""
        b.references += 1
        reference = f"BANK-{b.name}-{b.references}"
        payment = {
            "reference": reference,
            "payer_account": PAYER_CARD,
            "amount": f"{amount:.2f}",
            "loan_ref": b.loan_id,
        }
        self.ok(httpx.post(f"{self.stack.bank}/incoming", json=payment, timeout=30))
        b.bank_in_minor += to_minor(amount)
        posted = _wait_for(lambda: self._repayment_with(b, reference), f"bank payment {reference} to be posted")
        b.paid_interest_minor += to_minor(Decimal(posted["allocation"]["interest"]))
        self.log.append(f"{self.today} {b.name} paid {amount} through the bank ({posted['kind']})")

    def _repayment_with(self, b: Borrower, reference: str) -> Any:
        done = self.ok(self.http.get(f"/v1/loans/{b.loan_id}/transactions", headers=b.headers))["repayments"]
        return next((r for r in done if r["channel_reference"] == reference), None)

    def close_day(self) -> None:
        closed = self.ok(self.http.post("/v1/eod", json={"business_date": self.today}, headers=self.ops))
        assert not closed["already_done"] and len(closed["days"]) == 1
        self.today = closed["next_business_date"]
        self.day += 1


def _wait_for(probe: Callable[[], Any], what: str, timeout_s: float = 30) -> Any:
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def journey(db: Database, tmp_path: Path) -> Iterator[Journey]:
    stack = ProcessStack(db, tmp_path, latency_ms=5, extra_env={"PUHUI_BUSINESS_DATE_SOURCE": "eod"})
    seed_demo_staff(stack.container)
    seed_demo_capital(stack.container)
    stack.start()
    people = {
        "on_time": Borrower("on_time", 101, "PH-FLAT", "12000.00", 12),
        "late": Borrower("late", 102, "PH-AGRI", "20000.00", 12),
        "prepay": Borrower("prepay", 103, "PH-AGRI", "36000.00", 24),
        "missed": Borrower("missed", 104, "PH-FLAT", "6000.00", 6),
    }
    try:
        for b in people.values():
            b.headers, b.loan_id = stack.signed_loan(b.serial, b.product, b.amount, b.term_months)
        with httpx.Client(base_url=stack.base, timeout=60) as http:
            yield Journey(stack, http, staff_token(http, "ops"), staff_token(http, "finance"), people)
    finally:
        stack.stop()


def _disburse_all(j: Journey) -> int:
    """Pay every loan out through the bank; the net amounts the bank paid, in fen."""
    net = 0
    for b in j.people.values():
        key = {"Idempotency-Key": f"payout-{b.name}", **b.headers}
        card = {"account_number": bank_card(b.serial)}  # each borrower's own account
        j.ok(j.http.post(f"/v1/loans/{b.loan_id}/disbursements", headers=key, json=card))
        view = _wait_for(lambda b=b: (lambda v: v if v["status"] == "active" else None)(j.loan(b)), "payout")
        net += to_minor(Decimal(view["disbursements"][-1]["net_amount"]))
    return net


def _behave(j: Journey, b: Borrower, loan: Any) -> None:
    """One business day of one borrower, before the day is closed."""
    due = j.due_now(b)
    if b.name == "on_time" and due and loan["next_due_date"] == j.today:
        j.pay_api(b, due)
    elif b.name == "late" and due and loan["days_past_due"] >= 21 + (j.day % 3) * 7:
        j.pay_bank(b, due)
    elif b.name == "prepay":
        if due:
            j.pay_api(b, due)
        if j.day == 95:
            j.pay_api(b, Decimal("10000.00"), "shorter_term")
        if j.day == 215:
            payoff = Decimal(j.ok(j.http.get(f"/v1/loans/{b.loan_id}/payoff", headers=b.headers))["payoff"])
            j.pay_api(b, payoff, "payoff")
    elif b.name == "missed" and due and b.paid_interest_minor == 0 and loan["next_due_date"] == j.today:
        j.pay_api(b, due)  # the first installment, then nothing
    elif b.name == "missed" and loan["days_past_due"] >= 120:
        written = j.ok(
            j.http.post(f"/v1/loans/{b.loan_id}/write-off", headers=j.finance, json={"reason": "失联 120 天以上"})
        )
        assert written["status"] == "written_off", written
        j.log.append(f"{j.today} missed written off")


def _receivable(db: Database, code: AccountCode, loan_id: str) -> Decimal:
    balance = db.read(lambda c: ledger_repository.load_balance(c, loan_account(code, loan_id)))
    return Decimal(balance.balance_minor(AccountType.ASSET)) / 100


def _assert_loan_equals_its_ledger(j: Journey, b: Borrower) -> Any:
    view = j.loan(b)
    out = view["outstanding"]
    db = j.stack.db
    principal = Decimal(out["principal"]) + Decimal(out["principal_not_due"])
    assert _receivable(db, AccountCode.PRINCIPAL_RECEIVABLE, b.loan_id) == principal, (b.name, out)
    assert _receivable(db, AccountCode.INTEREST_RECEIVABLE, b.loan_id) == Decimal(out["interest"]), (b.name, out)
    assert _receivable(db, AccountCode.FEE_RECEIVABLE, b.loan_id) == Decimal(out["fees"]), (b.name, out)
    assert _receivable(db, AccountCode.PENALTY_RECEIVABLE, b.loan_id) == Decimal(out["penalty"]), (b.name, out)
    return view


@pytest.mark.slow
@pytest.mark.xdist_group("lifecycle_http")
def test_400_business_days_of_a_small_book_over_http(journey: Journey) -> None:
    j = journey
    net_paid_out_minor = _disburse_all(j)
    j.today = j.ok(j.http.get("/v1/eod", headers=j.ops))["business_date"]
    recovered_on: str | None = None
    while j.day < DAYS:
        for b in j.people.values():
            loan = j.loan(b)
            if loan["status"] == "active":
                _behave(j, b, loan)
            elif b.name == "missed" and loan["status"] == "written_off" and recovered_on is None and j.day >= 300:
                j.pay_bank(b, Decimal("1000.00"))
                recovered_on = j.today
        j.close_day()
        if j.day % 100 == 0:
            for b in j.people.values():
                _assert_loan_equals_its_ledger(j, b)

    views = {b.name: _assert_loan_equals_its_ledger(j, b) for b in j.people.values()}
    on_time, late, prepay, missed = (views[k] for k in ("on_time", "late", "prepay", "missed"))
    assert on_time["status"] == "closed" and on_time["max_days_past_due"] == 0
    scheduled = j.ok(
        j.http.get(f"/v1/loans/{j.people['on_time'].loan_id}/schedule", headers=j.people["on_time"].headers)
    )
    # accrued day by day, billed monthly and paid on time: exactly the contract's interest
    assert j.people["on_time"].paid_interest_minor == sum(
        to_minor(Decimal(i["interest"])) for i in scheduled["installments"]
    )

    assert late["status"] == "closed", j.log[-5:]
    assert late["max_days_past_due"] >= 21 and late["risk_class"] != "normal"
    late_paid = j.ok(j.http.get(f"/v1/loans/{j.people['late'].loan_id}/transactions", headers=j.people["late"].headers))
    assert sum(Decimal(r["allocation"]["penalty"]) for r in late_paid["repayments"]) > 0  # penalty interest was charged
    assert {r["channel"] for r in late_paid["repayments"]} == {"bank"}

    assert prepay["status"] == "closed" and prepay["schedule_version"] >= 2
    prepay_b = j.people["prepay"]
    versions = j.ok(j.http.get(f"/v1/loans/{prepay_b.loan_id}/schedule", headers=prepay_b.headers))["installments"]
    first_plan = [i for i in versions if i["version"] == 1]
    shorter = [i for i in versions if i["version"] == 2]
    assert len(shorter) < len(first_plan) - 3  # the 10,000 shortened the term
    assert prepay["closed_on"] < first_plan[-1]["due_date"]

    assert missed["status"] == "written_off" and recovered_on is not None
    assert missed["written_off"] != "0.00" and missed["recovered"] == "1000.00"

    tb = j.ok(j.http.get("/v1/ledger/trial-balance", headers=j.finance))
    assert tb["balanced"] is True and tb["debits"] == tb["credits"]
    bank = j.ok(httpx.get(f"{j.stack.bank}/balance", timeout=10))
    came_in = sum(b.bank_in_minor for b in j.people.values())
    assert to_minor(Decimal(bank["balance"])) == OPENING_BALANCE_MINOR - net_paid_out_minor + came_in

    # money on a closed loan is refused with the reason, and nothing is posted
    on_time_b = j.people["on_time"]
    before = len(
        j.ok(j.http.get(f"/v1/loans/{on_time_b.loan_id}/transactions", headers=on_time_b.headers))["repayments"]
    )
    refused = j.http.post(
        f"/v1/loans/{on_time_b.loan_id}/repayments",
        headers={"Idempotency-Key": "after-close", **on_time_b.headers},
        json={"amount": "100.00"},
    )
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["fields"][0]["path"] == "amount" and "closed" in error["message"]
    after = len(
        j.ok(j.http.get(f"/v1/loans/{on_time_b.loan_id}/transactions", headers=on_time_b.headers))["repayments"]
    )
    assert after == before
