"""The one way to see a borrower's identifiers in full: an admin, with a stated reason, and an
audit row written in the same transaction as the read (PIPL Art. 51; JR/T 0171 masking). Every
other response shows them masked."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, select

from puhui.adapters.db.tables import borrowers, disbursements, loans, pii_access_log
from puhui.bootstrap import Container
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.services.auth import PHONE_CONTEXT
from puhui.services.borrowers import ID_CONTEXT, Forbidden, NotFound
from puhui.services.disbursement import ACCOUNT_CONTEXT
from puhui.services.retention import TOMBSTONE, is_erased

IDENTITY_ROLES = (Role.ADMIN,)
FIELDS = "id_number,phone,payout_accounts"


def reveal_identity(container: Container, borrower_id: str, reason: str, caller: Principal) -> dict[str, Any]:
    if caller.kind is not SubjectKind.STAFF or not caller.has_any(IDENTITY_ROLES):
        raise Forbidden("only an admin sees a borrower's identifiers in full")
    cipher = container.cipher
    now = container.clock.now()

    def work(conn: Connection) -> dict[str, Any]:
        row = conn.execute(select(borrowers).where(borrowers.c.id == borrower_id)).first()
        if row is None:
            raise NotFound(f"borrower {borrower_id} was not found")
        accounts = conn.execute(
            select(disbursements.c.account_enc)
            .join(loans, loans.c.id == disbursements.c.loan_id)
            .where(loans.c.borrower_id == borrower_id)
            .order_by(disbursements.c.created_at)
        ).scalars()
        audit_id = str(uuid.uuid4())
        conn.execute(
            pii_access_log.insert().values(
                id=audit_id,
                borrower_id=borrower_id,
                staff_id=caller.subject_id,
                staff_role=caller.role.value,
                fields=FIELDS,
                reason=reason.strip(),
                created_at=now,
            )
        )

        def shown(sealed: str, context: str) -> str:  # an anonymised borrower's are tombstones
            return TOMBSTONE if is_erased(sealed) else cipher.decrypt(sealed, context)

        return {
            "borrower_id": borrower_id,
            "id_number": shown(row.id_number_enc, ID_CONTEXT),
            "phone": shown(row.phone_enc, PHONE_CONTEXT),
            "payout_accounts": sorted({cipher.decrypt(a, ACCOUNT_CONTEXT) for a in accounts if not is_erased(a)}),
            "audit_id": audit_id,
        }

    return dict(container.db.transaction(work))


def access_log(container: Container, borrower_id: str) -> list[dict[str, Any]]:
    def work(conn: Connection) -> list[dict[str, Any]]:
        query = select(pii_access_log).where(pii_access_log.c.borrower_id == borrower_id)
        return [dict(r._mapping) for r in conn.execute(query.order_by(pii_access_log.c.created_at))]

    return list(container.db.read(work))
