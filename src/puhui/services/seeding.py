"""Booking borrowers and loans through the real use cases, for the demo history and for tests.

Everything goes through the same services the API calls (registration, consent, decision, offer,
contract, OTP signature); only the bank leg of the payout is settled in-process, so a year of
history can be generated without a bank simulator running. Demo mode only (OTP codes are read
from the demo response).
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Connection, select

from puhui.adapters.db.tables import contracts, disbursements, loans
from puhui.bootstrap import Container
from puhui.domain.access import ConsentScope, Principal, Role, SubjectKind
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.domain.identity import luhn_check_digit, mask_bank_card
from puhui.domain.postings import disbursement_pending, disbursement_settled
from puhui.money import format_amount, round_money, to_minor
from puhui.risk.data.formats import InputFormat
from puhui.risk.data.schemas import Source
from puhui.services import auth, borrowers, origination, risk_data, servicing
from puhui.services import contracts as contract_service
from puhui.services.accounting import post_in
from puhui.services.disbursement import ACCOUNT_CONTEXT

SEED_OFFICER = Principal(SubjectKind.STAFF, "seed-officer", Role.OFFICER)
DEMO_CARD_BIN = "622202"  # an ICBC debit-card prefix; the rest is derived from the borrower id


def demo_card(borrower_id: str) -> str:
    """A Luhn-valid 19-digit card of the borrower's own: payouts to one account shared by
    different borrowers are intercepted by the fraud checks, so demo borrowers do not share."""
    body = DEMO_CARD_BIN + str(int(hashlib.sha256(borrower_id.encode()).hexdigest(), 16))[:12]
    return body + luhn_check_digit(body)


@dataclass(frozen=True, slots=True)
class Onboarded:
    borrower_id: str
    principal: Principal
    phone: str


# monthly money received by a typical borrower of each kind (the demo's and the tests' default)
TYPICAL_MONTHLY_INCOME = {
    BorrowerKind.INDIVIDUAL: Decimal(15_000),
    BorrowerKind.INDIVIDUAL_BUSINESS: Decimal(120_000),
    BorrowerKind.ENTERPRISE: Decimal(600_000),
}
HISTORY_DAYS = 460  # the year-on-year features need 14 months of history
GROWTH_PER_YEAR = Decimal("0.10")


def _factor(rng: random.Random, low_percent: int, high_percent: int) -> Decimal:
    """A random multiplier drawn in whole percent (no float near an amount)."""
    return Decimal(rng.randrange(low_percent, high_percent + 1)) / 100


@dataclass(frozen=True, slots=True)
class CashFlow:
    """How a seeded account's year reads (the defaults: a steady, growing one)."""

    history_days: int = HISTORY_DAYS  # a thin file has a few months
    spend_factor: Decimal = Decimal(1)  # x the usual spending (about two thirds of what comes in)
    drop: Decimal = Decimal(0)  # the share of income lost over the last `drop_days` (a lost customer, a slump)
    drop_days: int = 90
    swing_percent: int = 0  # month-to-month swing of income, +- percent (a seasonal or erratic trade)
    opening_months: Decimal = Decimal(1)  # the balance a year ago, in months of income


STEADY = CashFlow()


def cash_flow_history(
    seed: str, kind: BorrowerKind, monthly_income: Decimal, as_of: date, flow: CashFlow = STEADY
) -> list[dict[str, str]]:
    """A plausible year of account movements ending on `as_of`: an individual's salary and
    spending; a business's takings from many customers and its payments to suppliers. Rows in the
    `transactions` schema (risk/data/schemas.py). `flow` tells a steadier or a harder story."""
    rng = random.Random(seed)
    swings = random.Random(f"{seed}-swing")  # a stream of its own: the steady story draws as before
    month_factor: dict[tuple[int, int], Decimal] = {}
    individual = kind is BorrowerKind.INDIVIDUAL
    balance = monthly_income * flow.opening_months
    rows: list[dict[str, str]] = []
    for back in range(flow.history_days, -1, -1):
        day = as_of - timedelta(days=back)
        # income grows by about GROWTH_PER_YEAR and reaches `monthly_income` at as_of
        level = monthly_income * (1 - GROWTH_PER_YEAR * Decimal(back) / 365)
        if flow.swing_percent:
            key = (day.year, day.month)
            if key not in month_factor:
                month_factor[key] = _factor(swings, 100 - flow.swing_percent, 100 + flow.swing_percent)
            level *= month_factor[key]
        if back < flow.drop_days:
            level *= 1 - flow.drop
        moves: list[tuple[str, Decimal, str]] = []
        if individual and day.day == 10:
            moves.append(("in", level, "employer-1"))
        elif not individual and rng.random() < 0.45:  # takings banked every other day or so
            moves.append(("in", level / Decimal("13.5") * _factor(rng, 60, 140), f"customer-{rng.randrange(40)}"))
        if rng.random() < 0.3:  # spending and suppliers: about two thirds of what comes in
            spent = level / 14 * _factor(rng, 50, 150) * flow.spend_factor
            moves.append(("out", spent, f"payee-{rng.randrange(25)}"))
        for n, (direction, amount, counterparty) in enumerate(moves):
            amount = round_money(amount)
            balance += amount if direction == "in" else -amount
            rows.append(
                {
                    "txn_id": f"{seed[:12]}-{day:%Y%m%d}-{n}",
                    "occurred_on": day.isoformat(),
                    "direction": direction,
                    "amount": format_amount(amount),
                    "counterparty_id": counterparty,
                    "balance_after": format_amount(balance),
                }
            )
    return rows


def onboard(
    container: Container,
    kind: BorrowerKind,
    name: str,
    id_number: str,
    phone: str,
    region: str = "330106",
    industry: Sector | None = None,
    staff_count: int | None = None,
    annual_revenue: Decimal | None = None,
    monthly_income: Decimal | None = None,
    established_on: date | None = None,
    flow: CashFlow = STEADY,
    bureau: Sequence[dict[str, str]] = (),
    utilities: Sequence[dict[str, str]] = (),
) -> Onboarded:
    """Register, consent to the credit assessment and to transaction data, and share a year of the
    account's movements (`monthly_income=0` shares none) and, if given, their `utilities` bills
    (`utility_bills`) and the `bureau` file of their loans elsewhere (`bureau_history`): what a
    borrower does in the app."""
    principal = Principal(SubjectKind.PHONE, auth.phone_hash(container, phone), Role.BORROWER)
    today = container.clock.business_date()
    if kind is not BorrowerKind.INDIVIDUAL and established_on is None:
        established_on = today - timedelta(days=5 * 365)
    income = TYPICAL_MONTHLY_INCOME[kind] if monthly_income is None else monthly_income
    if kind is BorrowerKind.INDIVIDUAL and annual_revenue is None and income > 0:
        annual_revenue = income * 12  # an individual declares their income on the application
    view = borrowers.register(
        container,
        borrowers.NewBorrower(
            kind, name, id_number, phone, region, industry, staff_count, annual_revenue, None, established_on
        ),
        principal,
    )
    borrowers.grant_consent(container, view.id, ConsentScope.CREDIT_ASSESSMENT, "v1", principal)
    if income > 0:
        borrowers.grant_consent(container, view.id, ConsentScope.TRANSACTIONS, "v1", principal)
        rows = cash_flow_history(principal.subject_id, kind, income, today, flow)  # the same phone, the same story
        risk_data.ingest(container, view.id, Source.TRANSACTIONS, rows, InputFormat.JSON, principal)
    if utilities:  # bills are account movements: the transactions consent covers them
        risk_data.ingest(container, view.id, Source.UTILITY_PAYMENTS, list(utilities), InputFormat.JSON, principal)
    if bureau:
        borrowers.grant_consent(container, view.id, ConsentScope.CREDIT_BUREAU, "v1", principal)
        risk_data.ingest(container, view.id, Source.REPAYMENTS, list(bureau), InputFormat.JSON, principal)
    return Onboarded(view.id, principal, phone)


def utility_bills(
    seed: str, as_of: date, late_every: int = 0, unpaid_last: int = 0, months: int = 12
) -> list[dict[str, str]]:
    """A year of electricity bills, paid on time, or every `late_every`-th one about two weeks late
    (a household or shop short of cash now and then), the last `unpaid_last` not paid at all.
    Rows in the `utility_payments` schema."""
    rows: list[dict[str, str]] = []
    for back in range(months, 0, -1):
        due = as_of - timedelta(days=30 * back - 10)
        late = late_every > 0 and back % late_every == 0
        paid = due + timedelta(days=14 if late else -2)
        amount = format_amount(Decimal(180 + (back * 37) % 90))
        row = {"bill_id": f"{seed[:12]}-e{back}", "utility": "electricity", "due_on": due.isoformat(), "amount": amount}
        if back > unpaid_last:
            row["paid_on"] = paid.isoformat()
        rows.append(row)
    return rows


def bureau_history(
    loan_ref: str, installment: Decimal, as_of: date, months: int = 18, late_days: int = 0, unpaid_last: int = 0
) -> list[dict[str, str]]:
    """A loan at another lender, one installment a month for `months` up to `as_of`: paid on the
    due date, except one paid `late_days` late a year ago, and the last `unpaid_last` not paid
    (overdue now). Rows in the `repayments` schema."""
    rows: list[dict[str, str]] = []
    amount = format_amount(round_money(installment))
    for back in range(months, 0, -1):
        due = as_of - timedelta(days=30 * back - 15)
        row = {"lender": "bank-other", "loan_ref": loan_ref, "due_on": due.isoformat(), "amount_due": amount}
        if back > unpaid_last:
            paid = due + timedelta(days=late_days if back == 12 else 0)
            row |= {"paid_on": paid.isoformat(), "amount_paid": amount}
        rows.append(row)
    return rows


def originate(
    container: Container, who: Onboarded, product_code: str, amount: Decimal, term_months: int, purpose: str
) -> str | None:
    """Apply, accept and sign; the signed loan id, or None when the decision is not an approval."""
    application = apply(container, who, product_code, amount, term_months, purpose)
    if application.offer is None:
        return None
    return take_offer(container, who, application.id)


def apply(
    container: Container, who: Onboarded, product_code: str, amount: Decimal, term_months: int, purpose: str
) -> origination.ApplicationView:
    """The borrower applies; the real decision answers (approved with an offer, declined, or review)."""
    return origination.apply(
        container,
        origination.NewApplication(who.borrower_id, product_code, amount, term_months, purpose),
        who.principal,
    )


def take_offer(container: Container, who: Onboarded, application_id: str) -> str:
    """Accept the application's open offer and sign the contract with an SMS code: the loan id."""
    contract = contract_service.accept(container, application_id, who.principal)
    sent = auth.request_otp(container, who.phone, f"seed-{who.borrower_id}")
    if sent.demo_otp is None:
        raise RuntimeError("seeding signs contracts with demo OTP codes: run it with PUHUI_ENV=demo")
    signed = contract_service.sign(container, contract.id, sent.demo_otp, who.principal)
    if signed.loan_id is None:
        raise RuntimeError(f"signing the contract of application {application_id} made no loan")
    return signed.loan_id


def pay_out(container: Container, loan_id: str) -> None:
    """Both phases of the payout at once, as a bank that settles instantly would: pending
    transfer, settlement, and the loan's schedule starting today."""
    now = container.clock.now()
    today = container.clock.business_date()

    def work(conn: Connection) -> None:
        loan = conn.execute(select(loans).where(loans.c.id == loan_id)).one()
        card = demo_card(loan.borrower_id)
        terms_fee = _upfront_fee_minor(conn, loan.contract_id)
        principal = int(loan.principal_minor)
        disbursement_id = str(uuid.uuid4())
        conn.execute(
            disbursements.insert().values(
                id=disbursement_id,
                loan_id=loan_id,
                status="posted",
                principal_minor=principal,
                fee_minor=terms_fee,
                net_minor=principal - terms_fee,
                account_enc=container.cipher.encrypt(card, ACCOUNT_CONTEXT),
                account_masked=mask_bank_card(card),
                account_hash=container.cipher.lookup_hash(card, ACCOUNT_CONTEXT),
                failure_reason=None,
                created_at=now,
                resolved_at=now,
            )
        )
        post_in(
            conn,
            [
                disbursement_pending(f"disb-{disbursement_id}", loan_id, principal, terms_fee, today),
                disbursement_settled(f"settle-{disbursement_id}", loan_id, principal - terms_fee, today),
            ],
        )
        conn.execute(loans.update().where(loans.c.id == loan_id).values(status="active"))
        servicing.activate(conn, loan, today)

    container.db.transaction(work)


def _upfront_fee_minor(conn: Connection, contract_id: str) -> int:
    terms = json.loads(conn.execute(select(contracts.c.terms_json).where(contracts.c.id == contract_id)).scalar_one())
    return to_minor(Decimal(terms["upfront_fee"]))


def book_active_loan(
    container: Container,
    who: Onboarded,
    product_code: str,
    amount: Decimal,
    term_months: int,
) -> str:
    """A loan paid out today (the container's business date)."""
    loan_id = originate(container, who, product_code, amount, term_months, "working capital")
    if loan_id is None:
        raise RuntimeError(f"{product_code} {amount} x {term_months} was not approved")
    pay_out(container, loan_id)
    return loan_id
