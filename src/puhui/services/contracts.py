"""E-contracts: accept an offer -> a rendered, hashed, platform-signed contract -> the borrower
signs with an SMS code -> a loan waiting for disbursement. `verify` re-hashes the stored document."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from puhui.adapters.db import product_repository
from puhui.adapters.db.tables import applications, contracts, loans, offers
from puhui.adapters.documents.contracts import ContractSigner, render_contract, sha256_hex
from puhui.adapters.documents.pdf import render_pdf
from puhui.bootstrap import Container
from puhui.clock import as_utc
from puhui.config import resolved_signing_key
from puhui.domain.access import Principal, SubjectKind
from puhui.money import format_amount, format_rate, from_minor, to_minor
from puhui.services import auth
from puhui.services.borrowers import Conflict, Forbidden, owned_borrower, owned_row

LENDER_NAME = "普惠示范小额贷款有限公司 (Puhui demo lender)"


class OfferExpired(Exception):
    code = "offer_expired"


@dataclass(frozen=True, slots=True)
class ContractView:
    id: str
    application_id: str
    borrower_id: str
    status: str
    terms: dict[str, Any]
    document_sha256: str
    platform_signature: str
    signed_at: datetime | None
    loan_id: str | None


def signer(container: Container) -> ContractSigner:
    return ContractSigner(resolved_signing_key(container.settings))


def accept(container: Container, application_id: str, caller: Principal) -> ContractView:
    """Accept the application's open offer: render the contract and sign its hash (once)."""
    now = container.clock.now()

    def work(conn: Connection) -> ContractView:
        app = owned_row(conn, applications, application_id, caller, "application")
        borrower = owned_borrower(conn, app.borrower_id, caller)
        if caller.kind is not SubjectKind.PHONE:
            raise Forbidden("only the borrower can accept an offer")
        offer = conn.execute(select(offers).where(offers.c.application_id == application_id)).first()
        if offer is None:
            raise Conflict(f"application {application_id} has no offer to accept (decision: {app.status})")
        existing = conn.execute(select(contracts).where(contracts.c.offer_id == offer.id)).first()
        if existing is not None:
            return _view(conn, existing)
        if as_utc(offer.valid_until) < now:
            raise OfferExpired(f"the offer expired at {as_utc(offer.valid_until).isoformat()}; apply again")
        row = _new_contract(conn, container, app, offer, borrower, now)
        conn.execute(offers.update().where(offers.c.id == offer.id).values(status="accepted"))
        conn.execute(applications.update().where(applications.c.id == app.id).values(status="accepted"))
        conn.execute(contracts.insert().values(**row))
        return _view(conn, conn.execute(select(contracts).where(contracts.c.id == row["id"])).first())

    return container.db.transaction(work)


def _new_contract(
    conn: Connection, container: Container, app: Any, offer: Any, borrower: Any, now: datetime
) -> dict[str, Any]:
    stored = product_repository.current(conn, app.product_code)  # offered or not: the offer stands
    product = product_repository.parsed(stored.definition_json)[0]
    schedule = json.loads(offer.schedule_json)
    upfront = from_minor(int(offer.upfront_fee_minor))
    period_fees = sum((Decimal(i["fee"]) for i in schedule), Decimal("0.00"))
    total_interest = sum((Decimal(i["interest"]) for i in schedule), Decimal("0.00"))
    contract_id = str(uuid.uuid4())
    terms = {
        "product_code": product.code,
        "product_version": int(stored.version),  # the loan keeps these terms if the product changes
        "amount": format_amount(from_minor(int(offer.amount_minor))),
        "term_months": offer.term_months,
        "annual_rate": offer.rate_annual,
        "apr": format_rate(Decimal(offer.apr_percent) / 100),
        "upfront_fee": format_amount(upfront),
        "total_fees": format_amount(upfront + period_fees),
        "schedule": schedule,
    }
    context = {
        "contract_id": contract_id,
        "application_id": app.id,
        "lender_name": LENDER_NAME,
        "lender_type": product.lender_type.value,
        "borrower_name": borrower.name,
        "borrower_id_masked": borrower.id_number_masked,
        "borrower_phone_masked": borrower.phone_masked,
        "product_name": product.name,
        "product_name_en": product.name_en,
        "product_code": product.code,
        "amount": terms["amount"],
        "term_months": offer.term_months,
        "repayment_method": product.repayment_method.value,
        "apr_percent": offer.apr_percent,
        "annual_rate_percent": str(Decimal(offer.rate_annual) * 100),
        "day_count": product.day_count.value,
        "penalty_percent": str(product.penalty_multiplier * 100),
        "grace_days": product.grace_days,
        "upfront_standard": f"{product.fees.upfront_amount} + {product.fees.upfront_rate * 100}% × 本金",
        "upfront_fee": terms["upfront_fee"],
        "period_standard": f"{product.fees.per_period_amount} + {product.fees.per_period_rate * 100}% × 本金",
        "period_fee": schedule[0]["fee"] if schedule else "0.00",
        "total_fees": terms["total_fees"],
        "net_disbursed": format_amount(from_minor(int(offer.amount_minor)) - upfront),
        "schedule": schedule,
        "total_interest": format_amount(total_interest),
        "total_cost": format_amount(total_interest + upfront + period_fees),
        "total_period_fees": format_amount(period_fees),
        "total_repayment": format_amount(sum((Decimal(i["payment"]) for i in schedule), Decimal("0.00"))),
        "generated_at": now.isoformat(),
    }
    document = render_contract(context)
    digest = sha256_hex(document)
    return {
        "id": contract_id,
        "offer_id": offer.id,
        "application_id": app.id,
        "borrower_id": app.borrower_id,
        "terms_json": json.dumps(terms),
        "document_html": document,
        "document_sha256": digest,
        "platform_signature": signer(container).sign(digest),
        "status": "pending_signature",
        "signed_at": None,
        "created_at": now,
    }


def _view(conn: Connection, row: Any) -> ContractView:
    loan = conn.execute(select(loans.c.id).where(loans.c.contract_id == row.id)).first()
    return ContractView(
        row.id,
        row.application_id,
        row.borrower_id,
        row.status,
        json.loads(row.terms_json),
        row.document_sha256,
        row.platform_signature,
        row.signed_at,
        loan.id if loan else None,
    )


def _owned_contract(conn: Connection, contract_id: str, caller: Principal) -> Any:
    return owned_row(conn, contracts, contract_id, caller, "contract")


def get(container: Container, contract_id: str, caller: Principal) -> ContractView:
    return container.db.read(lambda conn: _view(conn, _owned_contract(conn, contract_id, caller)))


def document(container: Container, contract_id: str, caller: Principal) -> str:
    return str(container.db.read(lambda conn: _owned_contract(conn, contract_id, caller).document_html))


def document_pdf(container: Container, contract_id: str, caller: Principal) -> bytes:
    """The stored document rendered to PDF, after the read has closed: rendering takes a while."""
    return render_pdf(document(container, contract_id, caller))


def sign(container: Container, contract_id: str, otp: str, caller: Principal) -> ContractView:
    """The borrower confirms with a fresh SMS code; the loan is created, waiting for disbursement."""
    if caller.kind is not SubjectKind.PHONE:
        raise Forbidden("only the borrower can sign the contract")
    row = container.db.read(lambda conn: _owned_contract(conn, contract_id, caller))
    if row.status == "signed":
        return get(container, contract_id, caller)
    if not auth.consume_otp(container, caller.subject_id, otp):
        raise auth.AuthError("the code is wrong or has expired; request a new one with POST /v1/auth/otp")
    now = container.clock.now()

    def work(conn: Connection) -> ContractView:
        current = _owned_contract(conn, contract_id, caller)
        if current.status != "signed":
            terms = json.loads(current.terms_json)
            conn.execute(contracts.update().where(contracts.c.id == contract_id).values(status="signed", signed_at=now))
            conn.execute(
                loans.insert().values(
                    id=str(uuid.uuid4()),
                    contract_id=contract_id,
                    borrower_id=current.borrower_id,
                    product_code=terms["product_code"],
                    principal_minor=to_minor(Decimal(terms["amount"])),
                    rate_annual=terms["annual_rate"],
                    term_months=terms["term_months"],
                    status="pending_disbursement",
                    schedule_json=json.dumps(terms["schedule"]),
                    created_at=now,
                    product_version=terms.get("product_version"),
                )
            )
        return _view(conn, conn.execute(select(contracts).where(contracts.c.id == contract_id)).first())

    return container.db.transaction(work)


@dataclass(frozen=True, slots=True)
class Verification:
    valid: bool
    stored_sha256: str
    document_sha256: str
    signature_valid: bool


def verify(container: Container, contract_id: str, caller: Principal) -> Verification:
    row = container.db.read(lambda conn: _owned_contract(conn, contract_id, caller))
    actual = sha256_hex(row.document_html)
    signature_ok = signer(container).verify(row.document_sha256, row.platform_signature)
    return Verification(actual == row.document_sha256 and signature_ok, row.document_sha256, actual, signature_ok)
