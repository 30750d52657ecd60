"""Options shared across the core. Enums, never bare strings, for states and choices."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class RepaymentMethod(StrEnum):
    EQUAL_INSTALLMENT = "equal_installment"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_ONLY = "interest_only"  # 先息后本
    FLAT_RATE = "flat_rate"  # 等本等息
    REVOLVING_DAILY = "revolving_daily"  # 随借随还

    @property
    def is_fixed_term(self) -> bool:
        return self is not RepaymentMethod.REVOLVING_DAILY

    @property
    def is_bullet(self) -> bool:
        """Principal falls due in one payment at the end (R-4.3 caps such terms for banks)."""
        return self in (RepaymentMethod.INTEREST_ONLY, RepaymentMethod.REVOLVING_DAILY)


class DayCount(StrEnum):
    ACT_360 = "ACT/360"
    ACT_365 = "ACT/365"

    @property
    def basis_days(self) -> Decimal:
        return Decimal(360) if self is DayCount.ACT_360 else Decimal(365)


class PeriodInterest(StrEnum):
    """How a fixed-term installment's interest is computed.

    `monthly_rate` is the market convention of the §2 formulas (periodic rate = annual / 12);
    `actual_days` charges balance x annual rate x actual days in the period / the day-count basis.
    """

    MONTHLY_RATE = "monthly_rate"
    ACTUAL_DAYS = "actual_days"


class BorrowerKind(StrEnum):
    INDIVIDUAL = "individual"
    INDIVIDUAL_BUSINESS = "individual_business"  # 个体工商户
    ENTERPRISE = "enterprise"


class LenderType(StrEnum):
    SMALL_LOAN_COMPANY = "small_loan_company"  # 小额贷款公司
    ONLINE_SMALL_LOAN_COMPANY = "online_small_loan_company"  # 网络小额贷款公司
    BANK = "bank"
    BANK_FACILITATION = "bank_facilitation"  # 助贷: bank loan through a facilitation platform

    @property
    def is_small_loan_company(self) -> bool:
        return self in (LenderType.SMALL_LOAN_COMPANY, LenderType.ONLINE_SMALL_LOAN_COMPANY)


class LoanPurpose(StrEnum):
    CONSUMPTION = "consumption"
    BUSINESS = "business"


class AllocationTarget(StrEnum):
    PENALTY = "penalty"
    FEES = "fees"
    INTEREST = "interest"
    PRINCIPAL = "principal"


DEFAULT_ALLOCATION_ORDER: tuple[AllocationTarget, ...] = (
    AllocationTarget.PENALTY,
    AllocationTarget.FEES,
    AllocationTarget.INTEREST,
    AllocationTarget.PRINCIPAL,
)
