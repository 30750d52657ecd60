"""What the console's templates show, shaped from what the services return: the labels of states
and options (message ids for the catalogues), times in Beijing time, the ECharts options of the
dashboard and the model page, and the policy tables read for display.

Nothing here queries the database; the charts are built from `services.reports` figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

from puhui.clock import CHINA_TZ, as_utc
from puhui.domain.access import Role
from puhui.domain.accrual import RiskClass, UpgradeCondition
from puhui.domain.borrowers import Sector, SizeClass
from puhui.domain.enums import AllocationTarget, BorrowerKind, LenderType, LoanPurpose, RepaymentMethod
from puhui.domain.ledger import CHART, TransferCode
from puhui.domain.servicing import InstallmentStatus, LoanStatus, ScheduleChangeKind
from puhui.money import from_minor
from puhui.risk.fraud import AlertKind, Severity
from puhui.risk.monitoring import Stability
from puhui.risk.policy import Outcome
from puhui.services.reports import Dashboard, DpdBucket, LoanEventKind
from puhui.services.reviews import ReviewAction
from puhui.web.i18n import Language

Gettext = Callable[[str], str]
Option = dict[str, Any]


def N_(message: str) -> str:
    """Marks a message id for the catalogues; it is translated where it is shown, with `_`."""
    return message


# --- labels of states and options (message ids) ---------------------------------------------

ROLES = {
    Role.OFFICER: N_("Credit officer"),
    Role.RISK: N_("Risk manager"),
    Role.OPS: N_("Operations"),
    Role.FINANCE: N_("Finance"),
    Role.ADMIN: N_("Administrator"),
}
LOAN_STATUS = {
    LoanStatus.PENDING_DISBURSEMENT: N_("Signed, awaiting payout"),
    LoanStatus.DISBURSING: N_("Payout in progress"),
    LoanStatus.ACTIVE: N_("Active"),
    LoanStatus.CLOSED: N_("Closed"),
    LoanStatus.WRITTEN_OFF: N_("Written off"),
}
APPLICATION_STATUS = {
    Outcome.APPROVED: N_("Approved"),
    Outcome.DECLINED: N_("Declined"),
    Outcome.REVIEW: N_("In review"),
    "accepted": N_("Offer accepted"),
}
BORROWER_KIND = {
    BorrowerKind.INDIVIDUAL: N_("Individual"),
    BorrowerKind.INDIVIDUAL_BUSINESS: N_("Individual business"),
    BorrowerKind.ENTERPRISE: N_("Enterprise"),
}
SECTOR = {  # the 2011 size standard's sectors
    Sector.AGRICULTURE: N_("Agriculture"),
    Sector.INDUSTRY: N_("Industry (manufacturing)"),
    Sector.CONSTRUCTION: N_("Construction"),
    Sector.WHOLESALE: N_("Wholesale"),
    Sector.RETAIL: N_("Retail"),
    Sector.TRANSPORT: N_("Transport"),
    Sector.WAREHOUSING: N_("Warehousing"),
    Sector.POSTAL: N_("Postal and courier"),
    Sector.ACCOMMODATION: N_("Accommodation"),
    Sector.CATERING: N_("Catering"),
    Sector.ICT: N_("Information transmission"),
    Sector.SOFTWARE: N_("Software and IT services"),
    Sector.REAL_ESTATE: N_("Real estate development"),
    Sector.PROPERTY_MANAGEMENT: N_("Property management"),
    Sector.LEASING_BUSINESS_SERVICES: N_("Leasing and business services"),
    Sector.OTHER: N_("Other"),
}
SIZE_CLASS = {
    SizeClass.MICRO: N_("Micro"),
    SizeClass.SMALL: N_("Small"),
    SizeClass.MEDIUM: N_("Medium"),
    SizeClass.LARGE: N_("Large"),
    SizeClass.NOT_APPLICABLE: N_("Not a business"),
}
RISK_CLASS = {
    RiskClass.NORMAL: N_("Normal"),
    RiskClass.SPECIAL_MENTION: N_("Special mention"),
    RiskClass.SUBSTANDARD: N_("Substandard"),
    RiskClass.DOUBTFUL: N_("Doubtful"),
    RiskClass.LOSS: N_("Loss"),
}
RISK_CLASS_CSS = {c: c.name.lower() for c in RiskClass}
CONDITION_MET = {True: N_("Met"), False: N_("Not yet")}
UPGRADE_CONDITION = {
    UpgradeCondition.PAID_UP: N_("The overdue amounts are paid in full"),
    UpgradeCondition.SIX_MONTHS_CURRENT: N_("Paid normally for at least six months"),
    UpgradeCondition.TWO_PERIODS_PAID: N_("At least two installments paid on schedule since"),
    UpgradeCondition.RESTRUCTURING_OBSERVED: N_("No restructuring in the past year"),
    UpgradeCondition.NO_OTHER_NPL: N_("The borrower has no other non-performing loan"),
}
DPD_BUCKET = {
    DpdBucket.CURRENT: N_("Current"),
    DpdBucket.DPD_1_30: N_("1–30 days"),
    DpdBucket.DPD_31_90: N_("31–90 days"),
    DpdBucket.DPD_90_PLUS: N_("Over 90 days"),
}
INSTALLMENT_STATUS = {
    InstallmentStatus.SCHEDULED: N_("Scheduled"),
    InstallmentStatus.DUE: N_("Due"),
    InstallmentStatus.PAID: N_("Paid"),
    InstallmentStatus.CANCELLED: N_("Replaced"),
    InstallmentStatus.RESTRUCTURED: N_("Restructured"),
}
REVIEW_ACTION = {
    ReviewAction.PROPOSE_TERMS: N_("Proposed terms"),
    ReviewAction.APPROVE: N_("Approved"),
    ReviewAction.DECLINE: N_("Declined"),
}
SCHEDULE_CHANGE = {
    ScheduleChangeKind.PREPAYMENT_SHORTER_TERM: N_("Prepayment, shorter term"),
    ScheduleChangeKind.PREPAYMENT_SMALLER_INSTALLMENTS: N_("Prepayment, smaller installments"),
    ScheduleChangeKind.RESTRUCTURE_EXTENSION: N_("Restructured, term extended"),
    "write_off": N_("Written off"),
}
LOAN_EVENT = {
    LoanEventKind.SIGNED: N_("Contract signed"),
    LoanEventKind.PAYOUT_REQUESTED: N_("Payout requested"),
    LoanEventKind.PAYOUT_RESOLVED: N_("Payout answered by the bank"),
    LoanEventKind.SCHEDULE_CHANGED: N_("Schedule changed"),
    LoanEventKind.CLASS_UPGRADED: N_("Five-category class upgraded"),
    LoanEventKind.CLOSED: N_("Loan closed"),
}
PAYOUT_STATUS = {"pending": N_("Waiting for the bank"), "posted": N_("Paid out"), "failed": N_("Failed")}
REPAYMENT_KIND = {
    "repayment": N_("Repayment"),
    "payoff": N_("Payoff"),
    "prepayment_shorter_term": N_("Prepayment, shorter term"),
    "prepayment_smaller_installments": N_("Prepayment, smaller installments"),
    "prepayment_payoff": N_("Payoff"),
}
CHANNEL = {"api": N_("App or API"), "bank": N_("Bank transfer")}
ALLOCATION_TARGET = {
    AllocationTarget.PENALTY: N_("Penalty"),
    AllocationTarget.FEES: N_("Fees"),
    AllocationTarget.INTEREST: N_("Interest"),
    AllocationTarget.PRINCIPAL: N_("Principal"),
}
TRANSFER_CODE = {
    TransferCode.CAPITAL: N_("Capital"),
    TransferCode.DISBURSEMENT: N_("Disbursement (pending)"),
    TransferCode.DISBURSEMENT_SETTLED: N_("Disbursement settled"),
    TransferCode.REPAYMENT: N_("Repayment"),
    TransferCode.REPAYMENT_SETTLED: N_("Repayment settled"),
    TransferCode.INTEREST_ACCRUAL: N_("Interest accrual"),
    TransferCode.INTEREST_BILLING: N_("Interest billed"),
    TransferCode.PENALTY_ACCRUAL: N_("Penalty interest"),
    TransferCode.FEE_CHARGE: N_("Fee charged"),
    TransferCode.PROVISION: N_("Provision"),
    TransferCode.WRITE_OFF: N_("Write-off"),
    TransferCode.RECOVERY: N_("Recovery"),
    TransferCode.PARTNER_SHARE: N_("Partner share"),
    TransferCode.REVERSAL: N_("Reversal"),
}
ALERT_KIND = {
    AlertKind.VELOCITY: N_("Many applications in a short time"),
    AlertKind.RING_WITH_DEFAULTS: N_("Linked to borrowers who defaulted"),
    AlertKind.DEVICE_TAMPERED: N_("Emulator or rooted device"),
    AlertKind.PAYOUT_INTERCEPTED: N_("Payout intercepted"),
    AlertKind.THIRD_PARTY_PAYER: N_("Repaid by a third party"),
    AlertKind.MODEL_DRIFT: N_("Model drift"),
}
SEVERITY = {Severity.INFO: N_("Info"), Severity.WARN: N_("Look at it"), Severity.BLOCK: N_("Stopped")}
STABILITY = {Stability.STABLE: N_("Stable"), Stability.WATCH: N_("Watch"), Stability.SHIFTED: N_("Shifted")}
REPAYMENT_METHOD = {
    RepaymentMethod.EQUAL_INSTALLMENT: N_("Equal installments"),
    RepaymentMethod.EQUAL_PRINCIPAL: N_("Equal principal"),
    RepaymentMethod.INTEREST_ONLY: N_("Interest only, principal at the end"),
    RepaymentMethod.FLAT_RATE: N_("Flat rate"),
    RepaymentMethod.REVOLVING_DAILY: N_("Revolving, daily interest"),
}
PURPOSE = {LoanPurpose.CONSUMPTION: N_("Consumption"), LoanPurpose.BUSINESS: N_("Business")}
LENDER_TYPE = {
    LenderType.SMALL_LOAN_COMPANY: N_("Small-loan company"),
    LenderType.ONLINE_SMALL_LOAN_COMPANY: N_("Online small-loan company"),
    LenderType.BANK: N_("Bank"),
    LenderType.BANK_FACILITATION: N_("Bank loan through a facilitator"),
}
ACCOUNTS = CHART  # account names in both languages (name_zh, name), by code
OUTBOX_STATUS = {"new": N_("Not sent yet"), "sent": N_("Sent, no answer yet"), "done": N_("Done")}
EOD_STATUS = {"running": N_("Running"), "done": N_("Done")}

# The English names in the policy tables (risk/policy/*.json), so that Chinese staff read them in
# Chinese; a name the risk team adds later is shown as written until the catalogue has it.
POLICY_NAMES = (
    N_("Knock-out declines (first hit wins)"),
    N_("Referrals to a credit officer (every hit counts)"),
    N_("Base limit by borrower kind and score band (yuan)"),
    N_("Affordability: debt-service share and the cap without verified income"),
    N_("Rate position by PD band (0 = product minimum rate, 1 = product maximum)"),
    N_("Borrower kind"),
    N_("Age (years; owner's age for businesses)"),
    N_("Age (years)"),
    N_("Years in business"),
    N_("Reason code"),
    N_("Reason (Chinese)"),
    N_("Reason (English)"),
    N_("Model score"),
    N_("Score band"),
    N_("Base limit (yuan)"),
    N_("Max debt service / monthly income (or net cash inflow)"),
    N_("Limit when income is not verified (yuan)"),
    N_("Model PD"),
    N_("PD band"),
    N_("Position in the product's rate range"),
)


def label(table: Mapping[Any, str], value: Any) -> str:
    """The message id for `value` in `table` (the value itself when the table does not know it)."""
    return table.get(value, str(value))


# --- formatting --------------------------------------------------------------------------------


def when(moment: datetime | None) -> str:
    """A stored UTC time in China time (SQLite hands back naive UTC times)."""
    if moment is None:
        return ""
    return as_utc(moment).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def chooser(lang: Language) -> Callable[[Any, Any], Any]:
    """pick(zh, en): the text in the page's language (the other one when it is missing)."""

    def pick(zh: Any, en: Any) -> Any:
        return (zh or en) if lang is Language.ZH else (en or zh)

    return pick


def as_json(value: Any) -> str:
    """A rule's result as people read it (Chinese left as written, not escaped)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def yuan_of(minor: int) -> Decimal:
    """Fen (as stored) to yuan, exactly."""
    return from_minor(minor)


def percent_of(share: Decimal | float | None, places: int = 2) -> str:
    if share is None:
        return "—"
    return f"{Decimal(str(share)) * 100:.{places}f}%"


# --- ECharts options ---------------------------------------------------------------------------

FONT = "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, system-ui, sans-serif"
INK, MUTED, GRID = "#1a1d21", "#4b5563", "#e5e7eb"
BLUE, TEAL, AMBER, RED = "#1f4e79", "#2e86c1", "#b7791f", "#b3261e"
CLASS_COLOURS = {
    RiskClass.NORMAL: "#2e7d32",
    RiskClass.SPECIAL_MENTION: "#c99a06",
    RiskClass.SUBSTANDARD: "#e06c00",
    RiskClass.DOUBTFUL: "#c62828",
    RiskClass.LOSS: "#5d1010",
}
BUCKET_COLOURS = {
    DpdBucket.CURRENT: "#2e7d32",
    DpdBucket.DPD_1_30: "#c99a06",
    DpdBucket.DPD_31_90: "#e06c00",
    DpdBucket.DPD_90_PLUS: "#c62828",
}
OUTCOME_COLOURS = {Outcome.APPROVED: "#2e7d32", Outcome.DECLINED: RED, Outcome.REVIEW: AMBER}
VINTAGE_PALETTE = ["#1f4e79", "#2e86c1", "#16a085", "#27ae60", "#b7791f", "#d35400", "#b3261e", "#8e44ad"]


@dataclass(frozen=True, slots=True)
class MoneyUnit:
    divisor: Decimal
    name: str

    def of(self, minor: int) -> float:
        """A chart value: yuan in this unit, as a float rounded for display (figures stay exact)."""
        return float(round(Decimal(minor) / 100 / self.divisor, 2))


# Chinese reads large sums in 万 (ten thousand); English in thousands.
MONEY_UNITS = {Language.ZH: MoneyUnit(Decimal(10_000), "万元"), Language.EN: MoneyUnit(Decimal(1_000), "¥ thousand")}


def _base(**parts: Any) -> Option:
    return {
        "animation": False,  # figures for work, not a show; also what a screenshot records
        "textStyle": {"fontFamily": FONT, "color": INK},
        "grid": {"left": 12, "right": 16, "top": 40, "bottom": 12, "containLabel": True},
        "tooltip": {"trigger": "axis", "confine": True},
        **parts,
    }


def _value_axis(name: str, formatter: str = "{value}") -> Option:
    return {
        "type": "value",
        "name": name,
        "nameTextStyle": {"color": MUTED, "align": "left"},
        "axisLabel": {"color": MUTED, "formatter": formatter},
        "splitLine": {"lineStyle": {"color": GRID}},
    }


def _category_axis(names: list[str], axis_name: str = "") -> Option:
    return {
        "type": "category",
        "data": names,
        "name": axis_name,
        "nameLocation": "middle",
        "nameGap": 28,
        "axisLabel": {"color": MUTED, "interval": 0, "hideOverlap": True},
        "axisTick": {"alignWithLabel": True},
    }


def _donut(data: list[Option], name: str) -> Option:
    return _base(
        tooltip={"trigger": "item", "confine": True, "formatter": "{b}: {c} ({d}%)"},
        legend={"bottom": 0, "textStyle": {"color": INK}},
        series=[
            {
                "type": "pie",
                "name": name,
                "radius": ["42%", "68%"],
                "center": ["50%", "45%"],
                "avoidLabelOverlap": True,
                "label": {"formatter": "{d}%", "color": INK},
                "data": data,
            }
        ],
    )


def outcomes_chart(d: Dashboard, _: Gettext) -> Option | None:
    if not any(d.outcomes.values()):
        return None
    data = [
        {"name": _(APPLICATION_STATUS[o]), "value": d.outcomes[o], "itemStyle": {"color": OUTCOME_COLOURS[o]}}
        for o in (Outcome.APPROVED, Outcome.DECLINED, Outcome.REVIEW)
    ]
    return _donut(data, _("Applications"))


def classes_chart(d: Dashboard, _: Gettext, unit: MoneyUnit) -> Option | None:
    if not d.portfolio.loans:
        return None
    data = [
        {"name": _(RISK_CLASS[c]), "value": unit.of(a.minor), "itemStyle": {"color": CLASS_COLOURS[c]}}
        for c, a in d.classes.items()
        if a.minor
    ]
    return _donut(data, _("Principal outstanding") + f" ({unit.name})")


def dpd_chart(d: Dashboard, _: Gettext, unit: MoneyUnit) -> Option | None:
    if not d.portfolio.loans:
        return None
    buckets = list(DpdBucket)
    return _base(
        xAxis=_category_axis([_(DPD_BUCKET[b]) for b in buckets], _("Days past due")),
        yAxis=_value_axis(unit.name),
        grid={"left": 12, "right": 16, "top": 40, "bottom": 36, "containLabel": True},
        series=[
            {
                "type": "bar",
                "name": _("Principal outstanding"),
                "barMaxWidth": 56,
                "label": {"show": True, "position": "top", "color": INK},
                "data": [
                    {"value": unit.of(d.dpd[b].minor), "itemStyle": {"color": BUCKET_COLOURS[b]}} for b in buckets
                ],
            }
        ],
    )


def vintage_chart(d: Dashboard, _: Gettext) -> Option | None:
    if not d.vintages:
        return None
    longest = max(len(v.bad_share) for v in d.vintages)
    series = [
        {
            "type": "line",
            "name": f"{v.month:%Y-%m} ({v.loans})",
            "symbolSize": 5,
            "lineStyle": {"width": 2},
            "itemStyle": {"color": VINTAGE_PALETTE[i % len(VINTAGE_PALETTE)]},
            "data": [round(share * 100, 2) for share in v.bad_share],
        }
        for i, v in enumerate(d.vintages)
    ]
    return _base(
        legend={"type": "scroll", "bottom": 0, "textStyle": {"color": INK}},
        grid={"left": 12, "right": 16, "top": 40, "bottom": 56, "containLabel": True},
        xAxis=_category_axis([f"M{k}" for k in range(longest)], _("Months on book")),
        yAxis=_value_axis(_("Share 30+ days past due"), "{value}%"),
        series=series,
    )


def _band_name(low: int | None, high: int | None) -> str:
    if low is None:
        return f"<{high}%"
    if high is None:
        return f"≥{low}%"
    return f"{low}–{high}%"


def apr_chart(d: Dashboard, _: Gettext) -> Option | None:
    if not any(b.offers for b in d.apr_bands):
        return None
    names = [_band_name(b.low_percent, b.high_percent) for b in d.apr_bands]
    return _base(
        legend={"top": 0, "right": 0, "textStyle": {"color": INK}},
        grid={"left": 12, "right": 16, "top": 40, "bottom": 36, "containLabel": True},
        xAxis=_category_axis(names, _("APR (IRR method)")),
        yAxis=_value_axis(_("Count"), "{value}"),
        series=[
            {"type": "bar", "name": _("Offers"), "itemStyle": {"color": TEAL}, "data": [b.offers for b in d.apr_bands]},
            {"type": "bar", "name": _("Loans"), "itemStyle": {"color": BLUE}, "data": [b.loans for b in d.apr_bands]},
        ],
    )


def monthly_chart(d: Dashboard, _: Gettext, unit: MoneyUnit) -> Option | None:
    if not any(m.loans for m in d.disbursed_by_month):
        return None
    return _base(
        legend={"top": 0, "left": "center", "textStyle": {"color": INK}},
        grid={"left": 12, "right": 16, "top": 56, "bottom": 12, "containLabel": True},
        xAxis=_category_axis([f"{m.month:%Y-%m}" for m in d.disbursed_by_month]),
        yAxis=[_value_axis(unit.name), {**_value_axis(_("Loans")), "splitLine": {"show": False}}],
        series=[
            {
                "type": "bar",
                "name": _("Principal paid out"),
                "itemStyle": {"color": BLUE},
                "barMaxWidth": 36,
                "data": [unit.of(m.minor) for m in d.disbursed_by_month],
            },
            {
                "type": "line",
                "name": _("Loans"),
                "yAxisIndex": 1,
                "itemStyle": {"color": AMBER},
                "data": [m.loans for m in d.disbursed_by_month],
            },
        ],
    )


def dashboard_charts(d: Dashboard, _: Gettext, lang: Language) -> dict[str, Option | None]:
    """Every dashboard chart by its element id; None where there is nothing to draw yet."""
    unit = MONEY_UNITS[lang]
    return {
        "chart-outcomes": outcomes_chart(d, _),
        "chart-dpd": dpd_chart(d, _, unit),
        "chart-classes": classes_chart(d, _, unit),
        "chart-vintage": vintage_chart(d, _),
        "chart-apr": apr_chart(d, _),
        "chart-monthly": monthly_chart(d, _, unit),
    }


def psi_chart(monitored: Mapping[str, Any], _: Gettext) -> Option:
    """The live model's score distribution against its training sample, bin by bin."""
    psi = monitored["psi"]
    edges = [int(e) for e in psi["edges"]]
    names = [f"<{edges[0]}", *(f"{a}–{b}" for a, b in pairwise(edges)), f"≥{edges[-1]}"]
    as_percent = [round(float(s) * 100, 1) for s in psi["training_shares"]]
    live = [round(float(s) * 100, 1) for s in psi["live_shares"]] if monitored["decisions"] else []
    series = [{"type": "bar", "name": _("Training sample"), "itemStyle": {"color": MUTED}, "data": as_percent}]
    if live:
        series.append({"type": "bar", "name": _("Live decisions"), "itemStyle": {"color": BLUE}, "data": live})
    return _base(
        legend={"top": 0, "right": 0, "textStyle": {"color": INK}},
        grid={"left": 12, "right": 16, "top": 40, "bottom": 36, "containLabel": True},
        xAxis=_category_axis(names, _("Score")),
        yAxis=_value_axis(_("Share"), "{value}%"),
        series=series,
    )


# --- the policy tables and the model, read for display -----------------------------------------


@dataclass(frozen=True, slots=True)
class PolicyColumn:
    key: str
    name: str
    field: str
    is_output: bool


@dataclass(frozen=True, slots=True)
class PolicyTable:
    file: str
    name: str
    hit_policy: str
    columns: list[PolicyColumn]
    rules: list[dict[str, str]]  # column key -> cell, plus "_id" and "_description"


def policy_tables(directory: Path) -> list[PolicyTable]:
    """The decision tables of every JDM file in `directory`, in file order, as rows and columns."""
    tables = []
    for path in sorted(directory.glob("*.json")):
        graph = json.loads(path.read_text(encoding="utf-8"))
        for node in graph.get("nodes", []):
            if node.get("type") == "decisionTableNode":
                tables.append(_table(path.stem, node))
    return tables


def _table(file: str, node: Mapping[str, Any]) -> PolicyTable:
    content = node["content"]
    columns = [PolicyColumn(c["id"], c["name"], c.get("field", ""), False) for c in content["inputs"]]
    columns += [PolicyColumn(c["id"], c["name"], c.get("field", ""), True) for c in content["outputs"]]
    rules = [{k: str(v) for k, v in rule.items()} for rule in content["rules"]]
    return PolicyTable(file, node.get("name", file), content.get("hitPolicy", ""), columns, rules)


@dataclass(frozen=True, slots=True)
class Candidate:
    name: str
    mean_auc: float
    fold_auc: list[float]
    chosen: bool
    params: dict[str, Any]


def cv_candidates(metadata: Mapping[str, Any]) -> list[Candidate]:
    cv = metadata.get("cv", {})
    chosen = cv.get("chosen")
    return [
        Candidate(name, float(c["mean_auc"]), [float(a) for a in c.get("fold_auc", [])], name == chosen, c["params"])
        for name, c in cv.get("candidates", {}).items()
    ]


def feature_label(metadata: Mapping[str, Any], feature: str, lang: Language) -> str:
    found = metadata.get("labels", {}).get(feature)
    if not found:
        return feature
    return str(found["zh"] if lang is Language.ZH else found["en"])
