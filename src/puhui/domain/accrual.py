"""Daily interest without drift, penalty interest, days past due, the five-category class
(R-3.2, rule 9) and its upgrade once a loan is cured, the IFRS 9 stage (R-3.6, rule 10) and
provisions (R-3.5).

Accrual never drifts: the amount to post on a day is round(cumulative exact accrual) minus what
has already been posted, so a year of daily postings adds up to the rounded exact total.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import IntEnum, StrEnum

from puhui.domain.dates import add_months
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


# Upgrading a class (rule 9: only with a recorded reason; rules.md sets no observation period).
# - 次级/可疑/损失 -> 正常 or 关注: the 2023 measures ask for the overdue amounts paid in full and normal
#   payment for at least two consecutive repayment periods or six months, whichever is longer, plus
#   the lender's assessment that the debtor will keep paying and no impaired asset of the debtor left
#   [S: the measures' text as quoted at 233.com/ccbp/timu/202507/3009583138954.html; R-3.1 names the
#   measures]. That assessment is a credit officer's judgement: the nightly run never makes it.
# - 关注 -> 正常: the measures set no period [NF]. This lender's policy [U]: the measures' period test
#   without the six-month floor they set for non-performing assets — nothing overdue, brought
#   current at least CURE_OBSERVATION_MONTHS ago and CURE_OBSERVATION_PERIODS consecutive
#   installments due and paid on time since — applied by the nightly run. Never for a restructured
#   loan (a restructuring has its own observation period).
CURE_OBSERVATION_MONTHS = 2
CURE_OBSERVATION_PERIODS = 2
CURE_REASON = (
    "cured: the overdue amounts were paid in full, then two installments in a row were paid on time"
    " over at least two months"
)


def cure_observed_from(on: date) -> date:
    """The latest day a loan may have been brought current to be upgraded on `on`."""
    return add_months(on, -CURE_OBSERVATION_MONTHS)


def cure_upgrade(
    current: RiskClass,
    dpd: int,
    current_since: date | None,
    installments_paid_since: int,
    on: date,
    restructured: bool = False,
) -> tuple[RiskClass, str | None]:
    """The nightly upgrade of a cured loan: 关注 -> 正常 with CURE_REASON when nothing is overdue and
    the loan was brought current at least CURE_OBSERVATION_MONTHS ago (`current_since`, cleared
    whenever it falls overdue again) with at least CURE_OBSERVATION_PERIODS installments due and
    paid since; otherwise the class stays (and its reason is None). batch/eod.py does the same in SQL."""
    cured = (
        current is RiskClass.SPECIAL_MENTION
        and dpd == 0
        and not restructured
        and current_since is not None
        and current_since <= cure_observed_from(on)
        and installments_paid_since >= CURE_OBSERVATION_PERIODS
    )
    if not cured:
        return current, None
    return classify(dpd, current, CURE_REASON), CURE_REASON


# An officer's upgrade of a non-performing loan (次级/可疑/损失 -> 关注 or 正常), the 2023 measures'
# conditions as quoted above: the overdue amounts paid in full (nothing past due now), normal payment
# for two consecutive repayment periods or six months, whichever is longer (brought current at least
# six months ago and at least two installments due and paid since), no other non-performing loan of
# the debtor left, and the officer's recorded assessment. A restructured loan is watched at least a
# year from its restructuring first [U: this lender's policy; the measures give a restructured asset
# an observation period of its own].
NPL_OBSERVATION_MONTHS = 6
NPL_OBSERVATION_PERIODS = 2
RESTRUCTURED_OBSERVATION_MONTHS = 12
UPGRADE_TARGETS = (RiskClass.NORMAL, RiskClass.SPECIAL_MENTION)


@dataclass(frozen=True, slots=True)
class NplUpgradeFacts:
    """What an officer's upgrade of one loan is checked against, on the business date `on`."""

    current: RiskClass
    dpd: int
    current_since: date | None  # the day it was last brought current (None: never overdue, or overdue now)
    installments_paid_since: int  # installments due after `current_since`, through `on`, paid
    restructured_on: date | None  # its latest restructuring, if any
    other_npl_loans: int  # the debtor's other active loans classed 次级 or worse
    on: date


class UpgradeCondition(StrEnum):
    """The conditions of an officer's upgrade, each checked on its own (the console lists them)."""

    PAID_UP = "paid_up"  # the overdue amounts paid in full: nothing past due
    SIX_MONTHS_CURRENT = "six_months_current"
    TWO_PERIODS_PAID = "two_periods_paid"
    RESTRUCTURING_OBSERVED = "restructuring_observed"
    NO_OTHER_NPL = "no_other_npl"


def npl_upgrade_checks(facts: NplUpgradeFacts) -> dict[UpgradeCondition, bool]:
    """Each condition and whether the loan meets it on `facts.on`."""
    paid_up = facts.dpd == 0
    since, restructured = facts.current_since, facts.restructured_on
    return {
        UpgradeCondition.PAID_UP: paid_up,
        UpgradeCondition.SIX_MONTHS_CURRENT: (
            paid_up and since is not None and since <= add_months(facts.on, -NPL_OBSERVATION_MONTHS)
        ),
        UpgradeCondition.TWO_PERIODS_PAID: paid_up and facts.installments_paid_since >= NPL_OBSERVATION_PERIODS,
        UpgradeCondition.RESTRUCTURING_OBSERVED: (
            restructured is None or restructured <= add_months(facts.on, -RESTRUCTURED_OBSERVATION_MONTHS)
        ),
        UpgradeCondition.NO_OTHER_NPL: facts.other_npl_loans == 0,
    }


def npl_upgrade_problems(facts: NplUpgradeFacts, to_class: RiskClass) -> list[str]:
    """Why the officer may not move the loan to `to_class` today; empty when the measures allow it.
    While the loan is overdue only that is said (the observation has not started)."""
    if not facts.current.is_npl:
        return [f"the loan is {facts.current.label_zh}, not non-performing: 关注 -> 正常 is the nightly cure"]
    if to_class not in UPGRADE_TARGETS:
        return ["a non-performing loan is upgraded to 关注 (special_mention) or 正常 (normal)"]
    checks = npl_upgrade_checks(facts)
    unmet = [c for c, met in checks.items() if not met]
    if not checks[UpgradeCondition.PAID_UP]:
        unmet = [c for c in unmet if c not in (UpgradeCondition.SIX_MONTHS_CURRENT, UpgradeCondition.TWO_PERIODS_PAID)]
    return [_unmet_text(c, facts) for c in unmet]


def _unmet_text(condition: UpgradeCondition, facts: NplUpgradeFacts) -> str:
    match condition:
        case UpgradeCondition.PAID_UP:
            return f"{facts.dpd} days past due: the overdue amounts must be paid in full first"
        case UpgradeCondition.SIX_MONTHS_CURRENT:
            since = f"since {facts.current_since.isoformat()}" if facts.current_since else "for no recorded period"
            return f"current {since}: normal payment for at least {NPL_OBSERVATION_MONTHS} months is needed"
        case UpgradeCondition.TWO_PERIODS_PAID:
            return (
                f"{facts.installments_paid_since} installment(s) paid on schedule since it was brought current:"
                f" at least {NPL_OBSERVATION_PERIODS} consecutive ones are needed"
            )
        case UpgradeCondition.RESTRUCTURING_OBSERVED:
            on = facts.restructured_on.isoformat() if facts.restructured_on else "?"
            return (
                f"restructured on {on}: a restructured loan is watched for"
                f" {RESTRUCTURED_OBSERVATION_MONTHS} months before an upgrade"
            )
        case UpgradeCondition.NO_OTHER_NPL:
            return f"the borrower still has {facts.other_npl_loans} other non-performing loan(s)"


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
