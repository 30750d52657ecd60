"""Two-phase disbursement through the bank channel (DESIGN.md "Money, time and the ledger").

1. One transaction: the disbursement row (pending), the pending ledger transfer (principal owed,
   net amount in clearing, upfront fee earned) and an outbox row.
2. After commit the outbox row is dispatched: a payout keyed by OUR disbursement id, so a retry
   can never pay twice.
3. The bank's signed callback (or `reconcile`, which asks the bank) posts the settlement or voids
   the pending transfer by reversing it. Each step is idempotent.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, and_, select

from puhui.adapters.bank.client import BankChannelError, BankClient
from puhui.adapters.db import ledger_repository
from puhui.adapters.db.tables import contracts, disbursements, idempotency_keys, loans, outbox
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.errors import DomainValidationError, FieldProblem
from puhui.domain.identity import IdentifierError, mask_bank_card, normalise_bank_card
from puhui.domain.ledger import reversal_of
from puhui.domain.postings import disbursement_pending, disbursement_settled
from puhui.money import from_minor, to_minor
from puhui.risk.fraud import Finding
from puhui.services import fraud
from puhui.services.accounting import post_in
from puhui.services.borrowers import Conflict, Forbidden, NotFound, owned_row

ACCOUNT_CONTEXT = "disbursement.account"
# staff who may start a payout for a borrower (the money leaves to the account they give): the same
# desks that post repayments; a credit officer or risk user may not
PAYOUT_ROLES = (Role.OPS, Role.FINANCE, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def idempotent(
    conn: Connection, key: str, subject: str, request: dict[str, Any], now: datetime, make: Callable[[], StoredResponse]
) -> StoredResponse:
    """Replay the first response for (key, caller); the same key with another request is 409."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    row = conn.execute(
        select(idempotency_keys).where(and_(idempotency_keys.c.key == key, idempotency_keys.c.subject == subject))
    ).first()
    if row is not None:
        if row.request_hash != digest:
            raise Conflict("this Idempotency-Key was used for a different request")
        return StoredResponse(row.status_code, json.loads(row.response_json))
    response = make()
    conn.execute(
        idempotency_keys.insert().values(
            key=key,
            subject=subject,
            request_hash=digest,
            status_code=response.status_code,
            response_json=json.dumps(response.body),
            created_at=now,
        )
    )
    return response


def request_disbursement(
    container: Container, loan_id: str, account_number: str, key: str, caller: Principal
) -> StoredResponse:
    if caller.kind is SubjectKind.STAFF and not caller.has_any(PAYOUT_ROLES):
        raise Forbidden("only operations, finance or admin staff start a payout for a borrower")
    try:
        account = normalise_bank_card(account_number)
    except IdentifierError as exc:
        raise DomainValidationError([FieldProblem("account_number", str(exc))]) from None
    now = container.clock.now()
    today = container.clock.business_date()
    account_hash = container.cipher.lookup_hash(account, ACCOUNT_CONTEXT)

    def work(conn: Connection) -> StoredResponse:
        loan = owned_row(conn, loans, loan_id, caller, "loan")

        def make() -> StoredResponse:
            existing = conn.execute(
                select(disbursements).where(
                    and_(disbursements.c.loan_id == loan_id, disbursements.c.status != "failed")
                )
            ).first()
            if existing is not None:
                return StoredResponse(202, {"disbursement_id": existing.id, "status": existing.status})
            if loan.status != "pending_disbursement":
                raise Conflict(
                    f"loan {loan_id} is {loan.status}; only a signed loan waiting for its money can be paid out"
                )
            intercepted = fraud.payout_check(conn, loan.borrower_id, account_hash)
            if intercepted:
                # kept (with the alert) under the key: a retry is told the same until risk staff look
                fraud.raise_alerts(conn, intercepted, loan.borrower_id, f"loan:{loan_id}", now)
                return _intercepted(intercepted)
            return _start(conn, container, loan, account, account_hash, now, today)

        body = {"loan_id": loan_id, "account_hash": account_hash}
        return idempotent(conn, key, caller.subject_id, body, now, make)

    response = container.db.transaction(work)
    if response.body.get("status") == "pending":
        dispatch(container, response.body["disbursement_id"])
    return response


def _intercepted(findings: list[Finding]) -> StoredResponse:
    reasons = "; ".join(f.text_en for f in findings)
    problems = [{"path": "account_number", "message": f"{f.text_en} ({f.text_zh})"} for f in findings]
    message = f"the payout was intercepted by risk control: {reasons}; risk staff will review it"
    return StoredResponse(409, {"error": {"code": "payout_intercepted", "message": message, "fields": problems}})


def _start(
    conn: Connection, container: Container, loan: Any, account: str, account_hash: str, now: datetime, today: date
) -> StoredResponse:
    terms = json.loads(
        conn.execute(select(contracts.c.terms_json).where(contracts.c.id == loan.contract_id)).scalar_one()
    )
    fee = to_minor(Decimal(terms["upfront_fee"]))
    principal = int(loan.principal_minor)
    disbursement_id = str(uuid.uuid4())
    conn.execute(
        disbursements.insert().values(
            id=disbursement_id,
            loan_id=loan.id,
            status="pending",
            principal_minor=principal,
            fee_minor=fee,
            net_minor=principal - fee,
            account_enc=container.cipher.encrypt(account, ACCOUNT_CONTEXT),
            account_masked=mask_bank_card(account),
            account_hash=account_hash,
            failure_reason=None,
            created_at=now,
            resolved_at=None,
        )
    )
    post_in(conn, [disbursement_pending(f"disb-{disbursement_id}", loan.id, principal, fee, today)])
    conn.execute(
        outbox.insert().values(
            id=str(uuid.uuid4()),
            kind="payout",
            ref_id=disbursement_id,
            status="new",
            attempts=0,
            last_error=None,
            created_at=now,
            updated_at=now,
        )
    )
    conn.execute(loans.update().where(loans.c.id == loan.id).values(status="disbursing"))
    return StoredResponse(202, {"disbursement_id": disbursement_id, "status": "pending"})


def dispatch(container: Container, disbursement_id: str) -> bool:
    """Send the payout (keyed by our id); a channel error leaves the outbox row for `reconcile`."""
    row = container.db.read(
        lambda conn: conn.execute(select(disbursements).where(disbursements.c.id == disbursement_id)).first()
    )
    if row is None or row.status != "pending":
        return False
    account = container.cipher.decrypt(row.account_enc, ACCOUNT_CONTEXT)
    client = BankClient(container.settings.bank_url, timeout_s=container.settings.bank_timeout_seconds)
    now = container.clock.now()
    try:
        client.submit_payout(disbursement_id, account, from_minor(int(row.net_minor)))
        values: dict[str, Any] = {"status": "sent", "last_error": None}
    except BankChannelError as exc:
        values = {"last_error": str(exc)[:500]}
    finally:
        client.close()
    container.db.transaction(
        lambda conn: conn.execute(
            outbox.update()
            .where(and_(outbox.c.ref_id == disbursement_id, outbox.c.status != "done"))
            .values(attempts=outbox.c.attempts + 1, updated_at=now, **values)
        )
    )
    return values.get("status") == "sent"


def resolve(container: Container, disbursement_id: str, succeeded: bool, reason: str | None = None) -> str:
    """Post the settlement or void the pending transfer; a second resolution changes nothing."""
    now = container.clock.now()
    today = container.clock.business_date()

    def work(conn: Connection) -> str:
        row = conn.execute(select(disbursements).where(disbursements.c.id == disbursement_id)).first()
        if row is None:
            raise NotFound(f"disbursement {disbursement_id} was not found")
        if row.status != "pending":
            return str(row.status)
        pending_id = f"disb-{disbursement_id}"
        if succeeded:
            from puhui.services import servicing  # servicing replays responses with this module's helper

            post_in(conn, [disbursement_settled(f"settle-{disbursement_id}", row.loan_id, int(row.net_minor), today)])
            loan = conn.execute(select(loans).where(loans.c.id == row.loan_id)).one()
            servicing.activate(conn, loan, today)
            status, loan_status = "posted", "active"
        else:
            pending = ledger_repository.load_transfer(conn, pending_id)
            assert pending is not None
            post_in(conn, [reversal_of(pending, f"void-{disbursement_id}", today)])
            status, loan_status = "failed", "pending_disbursement"
        conn.execute(
            disbursements.update()
            .where(disbursements.c.id == disbursement_id)
            .values(status=status, failure_reason=reason, resolved_at=now)
        )
        conn.execute(loans.update().where(loans.c.id == row.loan_id).values(status=loan_status))
        conn.execute(outbox.update().where(outbox.c.ref_id == disbursement_id).values(status="done", updated_at=now))
        return status

    return container.db.transaction(work)


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    checked: int
    resubmitted: int
    posted: int
    failed: int
    still_pending: int


def reconcile(container: Container) -> ReconcileReport:
    """Finish every disbursement the outbox still holds: ask the bank, then resolve or resubmit."""
    open_ids = container.db.read(
        lambda conn: [r.ref_id for r in conn.execute(select(outbox.c.ref_id).where(outbox.c.status != "done"))]
    )
    client = BankClient(container.settings.bank_url, timeout_s=container.settings.bank_timeout_seconds)
    counts = {"resubmitted": 0, "posted": 0, "failed": 0, "still_pending": 0}
    try:
        for disbursement_id in open_ids:
            try:
                found = client.get_payout(disbursement_id)
            except BankChannelError:
                counts["still_pending"] += 1
                continue
            if found is None:
                counts["resubmitted" if dispatch(container, disbursement_id) else "still_pending"] += 1
            elif found.status in ("succeeded", "failed"):
                status = resolve(container, disbursement_id, found.status == "succeeded", found.failure_reason)
                counts["posted" if status == "posted" else "failed"] += 1
            else:
                counts["still_pending"] += 1
    finally:
        client.close()
    return ReconcileReport(len(open_ids), **counts)
