"""Who may do what: roles, principals, consent scopes (PIPL Art. 29 separate consent; rule 13)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    BORROWER = "borrower"
    OFFICER = "officer"  # credit officer: reviews the manual queue
    RISK = "risk"  # products, policies, models
    OPS = "ops"  # disbursement, repayment posting, reconciliation, EOD
    FINANCE = "finance"  # ledger, write-off, reports
    ADMIN = "admin"
    PARTNER = "partner"  # API key: co-lending bank, guarantor, compensation fund

    @property
    def is_staff(self) -> bool:
        return self in STAFF_ROLES


STAFF_ROLES = frozenset({Role.OFFICER, Role.RISK, Role.OPS, Role.FINANCE, Role.ADMIN})


class SubjectKind(StrEnum):
    PHONE = "phone"  # a borrower signed in by OTP: owns every borrower record with that phone
    STAFF = "staff"
    PARTNER = "partner"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: SubjectKind
    subject_id: str  # the phone's keyed hash, the staff user id, or the partner name
    role: Role

    def has_any(self, roles: Iterable[Role]) -> bool:
        return self.role in set(roles) or (self.role is Role.ADMIN and self.kind is SubjectKind.STAFF)


class ConsentScope(StrEnum):
    CREDIT_ASSESSMENT = "credit_assessment"  # needed for any decision
    TRANSACTIONS = "transactions"
    TAX_INVOICES = "tax_invoices"
    RELATIONS = "relations"
    CREDIT_BUREAU = "credit_bureau"

    @property
    def purpose(self) -> str:
        return CONSENT_PURPOSES[self]


CONSENT_PURPOSES: dict[ConsentScope, str] = {
    ConsentScope.CREDIT_ASSESSMENT: "assess creditworthiness for a loan application or a pre-approved line",
    ConsentScope.TRANSACTIONS: "analyse transaction and payment flows to estimate cash flow and repayment capacity",
    ConsentScope.TAX_INVOICES: "use tax and e-invoice records to verify sales and their growth",
    ConsentScope.RELATIONS: "check relations (phones, devices, addresses, guarantors, trading partners) for fraud",
    ConsentScope.CREDIT_BUREAU: "query a licensed credit-reporting agency about the borrower",
}


class MissingConsent(Exception):
    """An action needs a consent the borrower has not given (or has revoked)."""

    code = "consent_required"

    def __init__(self, scope: ConsentScope) -> None:
        super().__init__(f"the borrower has not consented to '{scope.value}' ({scope.purpose})")
        self.scope = scope


def require_consents(active: Iterable[ConsentScope], needed: Iterable[ConsentScope]) -> None:
    have = set(active)
    for scope in needed:
        if scope not in have:
            raise MissingConsent(scope)
