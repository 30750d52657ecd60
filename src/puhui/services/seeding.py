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


def cash_flow_history(seed: str, kind: BorrowerKind, monthly_income: Decimal, as_of: date) -> list[dict[str, str]]:
    """A plausible, steady year of account movements ending on `as_of`: an individual's salary
    and spending; a business's takings from many customers and its payments to suppliers. Rows in
    the `transactions` schema (risk/data/schemas.py)."""
    rng = random.Random(seed)
    individual = kind is BorrowerKind.INDIVIDUAL
    balance = monthly_income
    rows: list[dict[str, str]] = []
    for back in range(HISTORY_DAYS, -1, -1):
        day = as_of - timedelta(days=back)
        # income grows by about GROWTH_PER_YEAR and reaches `monthly_income` at as_of
        level = monthly_income * (1 - GROWTH_PER_YEAR * Decimal(back) / 365)
        moves: list[tuple[str, Decimal, str]] = []
        if individual and day.day == 10:
            moves.append(("in", level, "employer-1"))
        elif not individual and rng.random() < 0.45:  # takings banked every other day or so
            moves.append(("in", level / Decimal("13.5") * _factor(rng, 60, 140), f"customer-{rng.randrange(40)}"))
        if rng.random() < 0.3:  # spending and suppliers: about two thirds of what comes in
            moves.append(("out", level / 14 * _factor(rng, 50, 150), f"payee-{rng.randrange(25)}"))
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
) -> Onboarded:
    """Register, consent to the credit assessment and to transaction data, and share a year of the
    account's movements (`monthly_income=0` shares none): what a borrower does in the app."""
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
        rows = cash_flow_history(principal.subject_id, kind, income, today)  # the same phone, the same story
        risk_data.ingest(container, view.id, Source.TRANSACTIONS, rows, InputFormat.JSON, principal)
    return Onboarded(view.id, principal, phone)


def originate(
    container: Container, who: Onboarded, product_code: str, amount: Decimal, term_months: int, purpose: str
) -> str | None:
    """Apply, accept and sign; the signed loan id, or None when the decision is not an approval."""
    application = origination.apply(
        container,
        origination.NewApplication(who.borrower_id, product_code, amount, term_months, purpose),
        who.principal,
    )
    if application.offer is None:
        return None
    contract = contract_service.accept(container, application.id, who.principal)
    sent = auth.request_otp(container, who.phone, f"seed-{who.borrower_id}")
    if sent.demo_otp is None:
        raise RuntimeError("seeding signs contracts with demo OTP codes: run it with PUHUI_ENV=demo")
    signed = contract_service.sign(container, contract.id, sent.demo_otp, who.principal)
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
