"""Rate caps and per-borrower limits, by lender type and date (rules.md §1, §4 and rules 4, 11).

Caps are data: each `CapRule` names its rule, the lender types it binds, the dates it is in
force and whether it blocks or warns. The LPR is a dated table, so "4 x LPR on the contract
date" is looked up, never hard-coded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from puhui.domain.enums import BorrowerKind, LenderType, LoanPurpose, RepaymentMethod
from puhui.money import round_percent

HUNDRED = Decimal(100)


class CapAction(StrEnum):
    BLOCK = "block"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class LprFixing:
    effective_from: date
    rate_one_year: Decimal  # fraction: 0.030 = 3.0 %


# One-year LPR fixings (published on the 20th: 3.0 % on 2026-01-20, unchanged 8 months).
LPR_TABLE: tuple[LprFixing, ...] = (
    LprFixing(date(2024, 7, 22), Decimal("0.0335")),
    LprFixing(date(2024, 10, 21), Decimal("0.0310")),
    LprFixing(date(2025, 5, 20), Decimal("0.0300")),
)


def lpr_on(day: date, table: tuple[LprFixing, ...] = LPR_TABLE) -> Decimal:
    """The one-year LPR in force on `day`."""
    applicable = [f for f in table if f.effective_from <= day]
    if not applicable:
        raise ValueError(f"no LPR fixing known on or before {day}")
    return max(applicable, key=lambda f: f.effective_from).rate_one_year


@dataclass(frozen=True, slots=True)
class CapRule:
    rule_id: str
    description: str
    lender_types: frozenset[LenderType]
    action: CapAction
    fixed_percent: Decimal | None = None  # a cap of its own, e.g. 24 %
    lpr_multiple: Decimal | None = None  # or a multiple of the one-year LPR
    effective_from: date = date(1900, 1, 1)
    effective_to: date | None = None  # inclusive

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def limit_percent(self, day: date, table: tuple[LprFixing, ...]) -> Decimal:
        if self.fixed_percent is not None:
            return self.fixed_percent
        assert self.lpr_multiple is not None
        return round_percent(self.lpr_multiple * lpr_on(day, table) * HUNDRED)


_SLC = frozenset({LenderType.SMALL_LOAN_COMPANY, LenderType.ONLINE_SMALL_LOAN_COMPANY})
_BANKS = frozenset({LenderType.BANK})

DEFAULT_CAP_RULES: tuple[CapRule, ...] = (
    CapRule(
        "R-1.4",
        "small-loan company: no new loan with a comprehensive cost above 24 %",
        _SLC,
        CapAction.BLOCK,
        fixed_percent=Decimal(24),
    ),
    CapRule(
        "R-1.4/4xLPR",
        "small-loan company: bring new loans to at most 4 x LPR by end-2027",
        _SLC,
        CapAction.WARN,
        lpr_multiple=Decimal(4),
        effective_to=date(2027, 12, 31),
    ),
    CapRule(
        "R-1.4/4xLPR",
        "small-loan company: new loans at most 4 x LPR from 2028-01-01",
        _SLC,
        CapAction.BLOCK,
        lpr_multiple=Decimal(4),
        effective_from=date(2028, 1, 1),
    ),
    CapRule(
        "R-1.5",
        "bank loan facilitation (助贷): cost of a single loan at most 24 %",
        frozenset({LenderType.BANK_FACILITATION}),
        CapAction.BLOCK,
        fixed_percent=Decimal(24),
    ),
    CapRule(
        "R-1.7",
        "financial loan contracts: total cost above 24 % is not supported (SPC 2017)",
        _BANKS,
        CapAction.BLOCK,
        fixed_percent=Decimal(24),
    ),
)


@dataclass(frozen=True, slots=True)
class CapFinding:
    rule_id: str
    action: CapAction
    limit_percent: Decimal
    apr_percent: Decimal
    message: str


class RateCapExceeded(ValueError):
    code = "rate_cap_exceeded"

    def __init__(self, findings: list[CapFinding]) -> None:
        self.findings = findings
        super().__init__("; ".join(f.message for f in findings))


def evaluate_caps(
    apr_percent: Decimal,
    lender_type: LenderType,
    on: date,
    rules: tuple[CapRule, ...] = DEFAULT_CAP_RULES,
    lpr_table: tuple[LprFixing, ...] = LPR_TABLE,
) -> list[CapFinding]:
    """Every cap the APR (a percentage, e.g. 17.83) breaches on `on`, blocking or warning."""
    findings = []
    for rule in rules:
        if lender_type not in rule.lender_types or not rule.in_force(on):
            continue
        limit = rule.limit_percent(on, lpr_table)
        if apr_percent > limit:
            verb = "exceeds" if rule.action is CapAction.BLOCK else "is above"
            message = f"APR {apr_percent} % {verb} the {limit} % cap of rule {rule.rule_id} ({rule.description})"
            findings.append(CapFinding(rule.rule_id, rule.action, limit, apr_percent, message))
    return findings


def enforce_caps(
    apr_percent: Decimal,
    lender_type: LenderType,
    on: date,
    rules: tuple[CapRule, ...] = DEFAULT_CAP_RULES,
    lpr_table: tuple[LprFixing, ...] = LPR_TABLE,
) -> list[CapFinding]:
    """Raise RateCapExceeded on any blocking finding; otherwise return the warnings."""
    findings = evaluate_caps(apr_percent, lender_type, on, rules, lpr_table)
    blocking = [f for f in findings if f.action is CapAction.BLOCK]
    if blocking:
        raise RateCapExceeded(blocking)
    return findings


# --- per-borrower limits (rule 11) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LimitConfig:
    """Versioned limit values; amounts in yuan, shares as fractions."""

    effective_from: date = date(2024, 1, 1)
    online_consumption_max: Decimal = Decimal(200_000)
    online_business_max: Decimal = Decimal(10_000_000)
    single_borrower_net_assets_share: Decimal = Decimal("0.10")
    related_parties_net_assets_share: Decimal = Decimal("0.15")
    bank_internet_consumer_max: Decimal = Decimal(200_000)
    bank_bullet_term_max_months: int = 12
    natural_person_max: Decimal | None = None  # optional draft: 300,000
    natural_person_income_share: Decimal | None = None  # optional draft: 1/3


DEFAULT_LIMITS = LimitConfig()


@dataclass(frozen=True, slots=True)
class ExposureRequest:
    lender_type: LenderType
    purpose: LoanPurpose
    borrower_kind: BorrowerKind
    amount: Decimal
    term_months: int
    repayment_method: RepaymentMethod
    existing_exposure: Decimal = Decimal(0)  # this borrower's outstanding with the lender
    related_exposure: Decimal = Decimal(0)  # outstanding of its related parties
    lender_net_assets: Decimal | None = None  # prior year-end, small-loan companies
    income_3y_average: Decimal | None = None


@dataclass(frozen=True, slots=True)
class LimitBreach:
    rule_id: str
    field: str
    limit: Decimal
    message: str


def check_borrower_limits(req: ExposureRequest, cfg: LimitConfig = DEFAULT_LIMITS) -> list[LimitBreach]:
    """Every per-borrower limit the new amount would breach (an empty list means allowed)."""
    total = req.existing_exposure + req.amount
    breaches: list[LimitBreach] = []

    def over(rule_id: str, field: str, limit: Decimal, value: Decimal, what: str) -> None:
        if value > limit:
            breaches.append(LimitBreach(rule_id, field, limit, f"{what} {value} exceeds {limit} ({rule_id})"))

    if req.lender_type is LenderType.ONLINE_SMALL_LOAN_COMPANY:
        if req.purpose is LoanPurpose.CONSUMPTION:
            over("R-4.1", "amount", cfg.online_consumption_max, total, "consumption credit")
        else:
            over("R-4.1", "amount", cfg.online_business_max, total, "business credit")
        if req.borrower_kind is BorrowerKind.INDIVIDUAL:
            _natural_person_limits(req, cfg, total, over)
    if req.lender_type.is_small_loan_company and req.lender_net_assets is not None:
        over(
            "R-4.1",
            "amount",
            req.lender_net_assets * cfg.single_borrower_net_assets_share,
            total,
            "single-borrower exposure",
        )
        over(
            "R-4.1",
            "amount",
            req.lender_net_assets * cfg.related_parties_net_assets_share,
            total + req.related_exposure,
            "exposure with related parties",
        )
    if req.lender_type in (LenderType.BANK, LenderType.BANK_FACILITATION) and (req.purpose is LoanPurpose.CONSUMPTION):
        over("R-4.3", "amount", cfg.bank_internet_consumer_max, total, "internet consumer credit")
        if req.repayment_method.is_bullet and req.term_months > cfg.bank_bullet_term_max_months:
            breaches.append(
                LimitBreach(
                    "R-4.3",
                    "term_months",
                    Decimal(cfg.bank_bullet_term_max_months),
                    f"a bullet-repayment consumer loan may run at most {cfg.bank_bullet_term_max_months} months"
                    " (R-4.3)",
                )
            )
    return breaches


def _natural_person_limits(req: ExposureRequest, cfg: LimitConfig, total: Decimal, over: object) -> None:
    assert callable(over)
    if cfg.natural_person_max is not None:
        over("R-4.2", "amount", cfg.natural_person_max, total, "natural-person credit")
    if cfg.natural_person_income_share is not None and req.income_3y_average is not None:
        over("R-4.2", "amount", req.income_3y_average * cfg.natural_person_income_share, total, "credit against income")
