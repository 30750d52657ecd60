"""Daily interest without drift, penalty interest, days past due, the five-category class
(R-3.2, rule 9), the IFRS 9 stage (R-3.6, rule 10) and provisions (R-3.5).

Accrual never drifts: the amount to post on a day is round(cumulative exact accrual) minus what
has already been posted, so a year of daily postings adds up to the rounded exact total.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum, StrEnum

from puhui.domain.enums import DayCount
from puhui.money import ZERO, round_money


def interest_to_post(
    balance: Decimal, rate_annual: Decimal, day_count: DayCount, days_accrued: int, posted: Decimal
) -> Decimal:
    """Interest to post now so that the total posted equals round(balance x rate x days / basis).

    For a balance that changes, accumulate balance-days and call `interest_to_post_for`.
    """
    return interest_to_post_for(balance * days_accrued, rate_annual, day_count, posted)


def interest_to_post_for(balance_days: Decimal, rate_annual: Decimal, day_count: DayCount, posted: Decimal) -> Decimal:
    return round_money(balance_days * rate_annual / day_count.basis_days) - posted


def penalty_rate(contract_rate_annual: Decimal, multiplier: Decimal) -> Decimal:
    """罚息: contract rate x (1 + m), m in [0.3, 0.5] for overdue amounts (R-2.3, rule 8)."""
    return contract_rate_annual * (1 + multiplier)


class RiskClass(IntEnum):
    """五级分类 (2023 measures). The last three are non-performing."""

    NORMAL = 1  # 正常
    SPECIAL_MENTION = 2  # 关注
    SUBSTANDARD = 3  # 次级
    DOUBTFUL = 4  # 可疑
    LOSS = 5  # 损失

    @property
    def is_npl(self) -> bool:
        return self >= RiskClass.SUBSTANDARD

    @property
    def label_zh(self) -> str:
        return {1: "正常", 2: "关注", 3: "次级", 4: "可疑", 5: "损失"}[int(self)]


def class_floor(dpd: int) -> RiskClass:
    """The least severe class the days past due allow (R-3.2): > 0 -> 关注, > 90 -> 次级,
    > 270 -> 可疑, > 360 -> 损失."""
    if dpd > 360:
        return RiskClass.LOSS
    if dpd > 270:
        return RiskClass.DOUBTFUL
    if dpd > 90:
        return RiskClass.SUBSTANDARD
    if dpd > 0:
        return RiskClass.SPECIAL_MENTION
    return RiskClass.NORMAL


def classify(dpd: int, current: RiskClass = RiskClass.NORMAL, upgrade_reason: str | None = None) -> RiskClass:
    """Nightly class: never below the DPD floor; moving to a better class than the loan has now
    needs a recorded reason (rule 9), otherwise the current class is kept."""
    floor = class_floor(dpd)
    if floor >= current:
        return floor
    return floor if upgrade_reason else current


class Stage(IntEnum):
    STAGE_1 = 1  # 12-month ECL
    STAGE_2 = 2  # lifetime ECL: significant increase in credit risk (> 30 DPD)
    STAGE_3 = 3  # credit-impaired (> 90 DPD)


def stage_for(dpd: int, rebuttal: str | None = None) -> Stage:
    """IFRS 9 stage from DPD (rule 10); a recorded rebuttal keeps a > 30 DPD loan in stage 1."""
    if dpd > 90:
        return Stage.STAGE_3
    if dpd > 30:
        return Stage.STAGE_1 if rebuttal else Stage.STAGE_2
    return Stage.STAGE_1


class ProvisionKind(StrEnum):
    GENERAL = "general"
    SPECIFIC = "specific"


@dataclass(frozen=True, slots=True)
class ProvisionTable:
    """Configurable reserve rates (R-3.5 defaults: 1 % general; 2 / 25 / 50 / 100 % specific)."""

    general: Decimal = Decimal("0.01")
    specific: tuple[tuple[RiskClass, Decimal], ...] = (
        (RiskClass.NORMAL, ZERO),
        (RiskClass.SPECIAL_MENTION, Decimal("0.02")),
        (RiskClass.SUBSTANDARD, Decimal("0.25")),
        (RiskClass.DOUBTFUL, Decimal("0.50")),
        (RiskClass.LOSS, Decimal("1.00")),
    )

    def specific_rate(self, risk_class: RiskClass) -> Decimal:
        return dict(self.specific)[risk_class]


DEFAULT_PROVISIONS = ProvisionTable()


def required_provision(
    outstanding: Decimal, risk_class: RiskClass, table: ProvisionTable = DEFAULT_PROVISIONS
) -> Decimal:
    """General plus specific reserve for one loan's outstanding principal."""
    return round_money(outstanding * table.general) + round_money(outstanding * table.specific_rate(risk_class))
