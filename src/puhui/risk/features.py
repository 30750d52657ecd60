"""Credit features from the alternative data (Polars): cash flow, repayment habits, invoices, utility bills,
the relation network and devices.

One function, `build_features(data, as_of, defaulted_parties)`, serves both settings: the training table
(thousands of borrowers at once; `puhui simulate` calls it) and the decision (one borrower inside an HTTP
request). Using the same code in both is what keeps the model's training and serving features equal.

Rules that hold for every feature (docs/features.md lists them all, from `FEATURES`):
- only rows dated on or before `as_of` count, and a payment made after `as_of` is still unpaid at `as_of`;
- a window of `w` days is `(as_of - w, as_of]`; "months" are 30-day buckets counted back from `as_of`, so
  every bucket is complete whatever the day of `as_of`;
- a feature is null when the borrower has no row in the source its group reads (no consent, no data), and a
  ratio is null when its denominator is zero: the model then learns what "unknown" means instead of being
  told a made-up zero.

The expressions are built once, at import; a call only prepares the frames it is given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import polars as pl

from puhui.risk.data.schemas import Direction, InvoiceDirection, InvoiceStatus, RelationKind, Source, columns

BORROWER_ID = "borrower_id"
AGE = "age_days"  # days between a row's date and as_of: 0 = on as_of
MONTH_DAYS = 30
TREND_MONTHS = 12
WINDOWS_DAYS = (30, 90, 180, 365)
# a 12-month volatility or trend from a shorter history would compare real months with months before the
# account existed; a month of slack allows for a first transaction a few days into the window
MIN_HISTORY_TREND_DAYS = (TREND_MONTHS - 1) * MONTH_DAYS
YOY_FROM_DAYS = 365  # "the same three months a year earlier" start 365 days back
MIN_HISTORY_YOY_DAYS = YOY_FROM_DAYS + 2 * MONTH_DAYS
IDENTITY_KINDS = (RelationKind.SHARED_PHONE, RelationKind.SHARED_DEVICE, RelationKind.SHARED_ADDRESS)
DEVICE_NODE_PREFIX = "device:"  # device ids and party ids share one graph, so keep their names apart


class FeatureGroup(StrEnum):
    CASHFLOW = "cashflow"
    REPAYMENT = "repayment"
    INVOICE = "invoice"
    UTILITY = "utility"
    NETWORK = "network"
    DEVICE = "device"

    @property
    def sources(self) -> tuple[Source, ...]:
        return GROUP_SOURCES[self]


GROUP_SOURCES: dict[FeatureGroup, tuple[Source, ...]] = {
    FeatureGroup.CASHFLOW: (Source.TRANSACTIONS,),
    FeatureGroup.REPAYMENT: (Source.REPAYMENTS,),
    FeatureGroup.INVOICE: (Source.TAX_INVOICES,),
    FeatureGroup.UTILITY: (Source.UTILITY_PAYMENTS,),
    FeatureGroup.NETWORK: (Source.RELATIONS, Source.DEVICES),
    FeatureGroup.DEVICE: (Source.DEVICES,),
}


class Unit(StrEnum):
    YUAN = "yuan"
    RATIO = "ratio"
    COUNT = "count"
    DAYS = "days"
    FLAG = "flag"  # 0 or 1

    @property
    def dtype(self) -> pl.DataType:
        return pl.Float64() if self in (Unit.YUAN, Unit.RATIO) else pl.Int64()


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    group: FeatureGroup
    zh: str
    en: str
    window_days: int | None  # None: everything up to as_of (or the state at as_of)
    unit: Unit = Unit.RATIO
    missing: str = ""  # when it is null besides "no row in the group's source"


def _windowed(stem: str, group: FeatureGroup, zh: str, en: str, unit: Unit = Unit.YUAN) -> tuple[FeatureSpec, ...]:
    return tuple(FeatureSpec(f"{stem}_{w}d", group, zh.format(w=w), en.format(w=w), w, unit) for w in WINDOWS_DAYS)


_C, _R, _I, _U, _N, _D = (
    FeatureGroup.CASHFLOW,
    FeatureGroup.REPAYMENT,
    FeatureGroup.INVOICE,
    FeatureGroup.UTILITY,
    FeatureGroup.NETWORK,
    FeatureGroup.DEVICE,
)
_ZERO_IN = "inflows in the window are zero"
_NO_RELATION = "no relation row (device rows alone do not count)"
_DEGREE_KINDS = {
    RelationKind.SHARED_PHONE: ("共用手机号的关联方数", "parties sharing a phone number"),
    RelationKind.SHARED_DEVICE: ("共用设备的关联方数", "parties sharing a device"),
    RelationKind.SHARED_ADDRESS: ("共用地址的关联方数", "parties sharing an address"),
    RelationKind.GUARANTOR: ("担保关系方数", "guarantor links"),
    RelationKind.TRADING_PARTNER: ("交易伙伴数", "trading partners"),
    RelationKind.FAMILY: ("家庭关系方数", "family members"),
}

FEATURES: tuple[FeatureSpec, ...] = (
    *_windowed("inflow", _C, "近{w}天流入金额(元)", "money received in the last {w} days (yuan)"),
    *_windowed("outflow", _C, "近{w}天流出金额(元)", "money paid out in the last {w} days (yuan)"),
    FeatureSpec("net_flow_90d", _C, "近90天净流入(元)", "inflows minus outflows, last 90 days (yuan)", 90, Unit.YUAN),
    FeatureSpec("net_flow_365d", _C, "近365天净流入(元)", "inflows minus outflows, last 365 days", 365, Unit.YUAN),
    FeatureSpec(
        "outflow_to_inflow_90d",
        _C,
        "近90天支出/收入比",
        "outflows per yuan of inflow, last 90 days",
        90,
        Unit.RATIO,
        _ZERO_IN,
    ),
    FeatureSpec(
        "inflow_cv_12m",
        _C,
        "近12个月月流入变异系数",
        "volatility of monthly inflows (coefficient of variation), 12 months",
        TREND_MONTHS * MONTH_DAYS,
        Unit.RATIO,
        "history shorter than 11 months, or no inflow",
    ),
    FeatureSpec(
        "inflow_trend_12m",
        _C,
        "近12个月月流入趋势(斜率/均值)",
        "trend of monthly inflows: slope per month as a share of the mean, 12 months",
        TREND_MONTHS * MONTH_DAYS,
        Unit.RATIO,
        "history shorter than 11 months, or no inflow",
    ),
    FeatureSpec(
        "inflow_yoy_change_3m",
        _C,
        "近3个月流入同比变化(剔除季节性)",
        "inflows of the last 3 months against the same 3 months a year earlier, minus 1 (seasonally adjusted decline)",
        YOY_FROM_DAYS + 3 * MONTH_DAYS,
        Unit.RATIO,
        "history shorter than 14 months, or no inflow a year earlier",
    ),
    FeatureSpec(
        "inflow_hhi_365d",
        _C,
        "近365天收款对手集中度(赫芬达尔指数)",
        "concentration of inflows by counterparty (Herfindahl index; unnamed payers count as many small ones)",
        365,
        Unit.RATIO,
        _ZERO_IN,
    ),
    FeatureSpec(
        "inflow_top1_share_365d",
        _C,
        "近365天最大收款对手占比",
        "share of inflows from the largest counterparty",
        365,
        Unit.RATIO,
        _ZERO_IN,
    ),
    FeatureSpec(
        "negative_balance_days_90d",
        _C,
        "近90天余额为负的天数",
        "days with a negative balance, last 90 days",
        90,
        Unit.DAYS,
        "no balance_after given",
    ),
    FeatureSpec(
        "negative_balance_days_365d",
        _C,
        "近365天余额为负的天数",
        "days with a negative balance, last 365 days",
        365,
        Unit.DAYS,
        "no balance_after given",
    ),
    FeatureSpec("active_days_90d", _C, "近90天有交易的天数", "days with any transaction, last 90 days", 90, Unit.DAYS),
    FeatureSpec(
        "active_days_365d", _C, "近365天有交易的天数", "days with any transaction, last 365 days", 365, Unit.DAYS
    ),
    FeatureSpec(
        "balance_latest",
        _C,
        "最新账户余额(元)",
        "the latest balance on or before as_of (yuan)",
        None,
        Unit.YUAN,
        "no balance_after given",
    ),
    FeatureSpec(
        "cash_buffer_months_90d",
        _C,
        "余额可覆盖月支出的月数",
        "latest balance in months of outflow (last 90 days)",
        90,
        Unit.RATIO,
        "no balance_after given, or no outflow",
    ),
    FeatureSpec("history_days", _C, "流水历史天数", "days since the oldest transaction", None, Unit.DAYS),
    FeatureSpec(
        "installments_due_24m",
        _R,
        "近24个月应还期数",
        "installments due at other lenders, last 24 months",
        730,
        Unit.COUNT,
    ),
    FeatureSpec(
        "late_share_24m",
        _R,
        "近24个月逾期还款占比",
        "share of installments paid late or not at all, last 24 months",
        730,
        Unit.RATIO,
        "no installment due in the window",
    ),
    FeatureSpec(
        "max_days_late_24m",
        _R,
        "近24个月最长逾期天数",
        "most days an installment was late, last 24 months",
        730,
        Unit.DAYS,
        "no installment due in the window",
    ),
    FeatureSpec(
        "overdue_amount", _R, "当前逾期金额(元)", "amount past due and unpaid at as_of (yuan)", None, Unit.YUAN
    ),
    FeatureSpec("overdue_count", _R, "当前逾期期数", "installments past due and unpaid at as_of", None, Unit.COUNT),
    FeatureSpec(
        "lenders_24m", _R, "近24个月借款机构数", "lenders with an installment due, last 24 months", 730, Unit.COUNT
    ),
    FeatureSpec(
        "debt_service_to_inflow_90d",
        _R,
        "近90天应还款/流入",
        "installments due per yuan of inflow, last 90 days",
        90,
        Unit.RATIO,
        "no transactions, or no inflow",
    ),
    FeatureSpec(
        "sales_invoice_amount_365d",
        _I,
        "近365天有效销项发票金额(元)",
        "valid sales invoices, last 365 days (yuan, before tax)",
        365,
        Unit.YUAN,
    ),
    FeatureSpec(
        "sales_invoice_growth_6m",
        _I,
        "销项发票近6月环比增长",
        "valid sales invoices of the last 6 months against the 6 before, minus 1",
        360,
        Unit.RATIO,
        "no valid sales invoice in the earlier 6 months",
    ),
    FeatureSpec(
        "invoice_void_red_share_365d",
        _I,
        "近365天作废/红冲发票占比",
        "share of invoices void or red (credit notes), last 365 days",
        365,
        Unit.RATIO,
        "no invoice in the window",
    ),
    FeatureSpec(
        "purchase_to_sales_ratio_365d",
        _I,
        "近365天进项/销项金额比",
        "valid purchase invoices per yuan of sales invoices, last 365 days",
        365,
        Unit.RATIO,
        "no valid sales invoice in the window",
    ),
    FeatureSpec(
        "utility_bills_365d", _U, "近365天水电燃气通信账单数", "utility bills due, last 365 days", 365, Unit.COUNT
    ),
    FeatureSpec(
        "utility_late_share_365d",
        _U,
        "近365天账单逾期缴费占比",
        "share of bills paid after the due date or unpaid, last 365 days",
        365,
        Unit.RATIO,
        "no bill due in the window",
    ),
    FeatureSpec(
        "utility_max_days_late_365d",
        _U,
        "近365天账单最长逾期天数",
        "most days a bill was late, last 365 days",
        365,
        Unit.DAYS,
        "no bill due in the window",
    ),
    FeatureSpec(
        "utility_unpaid_count", _U, "当前未缴逾期账单数", "bills past due and unpaid at as_of", None, Unit.COUNT
    ),
    FeatureSpec(
        "relation_degree", _N, "关联方总数", "distinct related parties (degree)", None, Unit.COUNT, _NO_RELATION
    ),
    *(
        FeatureSpec(f"degree_{kind.value}", _N, zh, en, None, Unit.COUNT, _NO_RELATION)
        for kind, (zh, en) in _DEGREE_KINDS.items()
    ),
    FeatureSpec(
        "defaulted_neighbours",
        _N,
        "已违约的关联方数",
        "related parties known to have defaulted",
        None,
        Unit.COUNT,
        f"{_NO_RELATION}, or no list of defaulted parties given",
    ),
    FeatureSpec(
        "defaulted_neighbour_share",
        _N,
        "已违约关联方占比",
        "share of related parties known to have defaulted",
        None,
        Unit.RATIO,
        f"{_NO_RELATION}, or no list of defaulted parties given",
    ),
    FeatureSpec(
        "ring_component_size",
        _N,
        "身份关联团伙规模(借款人数)",
        "borrowers linked to this one through shared phones, "
        "devices or addresses (connected component, itself included)",
        None,
        Unit.COUNT,
    ),
    FeatureSpec(
        "ring_has_defaulted",
        _N,
        "关联团伙中有违约方",
        "the shared-identity component holds a known defaulted party",
        None,
        Unit.FLAG,
        "no list of defaulted parties given",
    ),
    FeatureSpec("device_count", _D, "使用设备数", "distinct devices seen", None, Unit.COUNT),
    FeatureSpec("device_emulator", _D, "使用模拟器", "a device was an emulator", None, Unit.FLAG),
    FeatureSpec("device_rooted", _D, "设备已root/越狱", "a device was rooted or jailbroken", None, Unit.FLAG),
    FeatureSpec(
        "device_shared_borrowers",
        _D,
        "同设备其他借款人数",
        "other borrowers seen on the same device (most on any one)",
        None,
        Unit.COUNT,
    ),
    FeatureSpec(
        "ip_shared_borrowers_30d",
        _D,
        "近30天同IP段其他借款人数",
        "other borrowers seen on the same IP prefix, last 30 days",
        30,
        Unit.COUNT,
        "no ip_prefix seen in the window",
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in FEATURES}


@dataclass(frozen=True, slots=True)
class AltData:
    """Everything the features read: the borrowers to score and one optional frame per source.

    Every source frame has `borrower_id` and the columns of `schemas.columns(source)`; dates may be Date or ISO
    strings and amounts Decimal, float or strings (parquet, CSV and API rows all work). The frames may hold
    rows of other borrowers too: shared devices and identity rings are found across everything given, but
    only the borrowers in `borrowers` get a row of features.
    """

    borrowers: pl.DataFrame
    transactions: pl.DataFrame | None = None
    utility_payments: pl.DataFrame | None = None
    tax_invoices: pl.DataFrame | None = None
    repayments: pl.DataFrame | None = None
    relations: pl.DataFrame | None = None
    devices: pl.DataFrame | None = None

    def frame(self, source: Source) -> pl.DataFrame | None:
        value: pl.DataFrame | None = getattr(self, source.value)
        return value

    @classmethod
    def of(cls, borrowers: pl.DataFrame, frames: Mapping[Source, pl.DataFrame]) -> AltData:
        return cls(borrowers, **{source.value: frame for source, frame in frames.items()})


assert {f.name for f in fields(AltData)} == {"borrowers", *(s.value for s in Source)}


# ---- preparing a source: types, defaults, as_of ------------------------------------------------------------------

DATE_COLUMN: dict[Source, str] = {
    Source.TRANSACTIONS: "occurred_on",
    Source.UTILITY_PAYMENTS: "due_on",
    Source.TAX_INVOICES: "issued_on",
    Source.REPAYMENTS: "due_on",
    Source.RELATIONS: "since",
    Source.DEVICES: "observed_on",
}
_DATES = {"occurred_on", "due_on", "paid_on", "issued_on", "since", "observed_on"}
_AMOUNTS = {"amount", "balance_after", "tax_amount", "amount_due", "amount_paid"}
_FLAGS = {"emulator", "rooted"}
_DEFAULTS: dict[str, pl.Expr] = {
    "counterparty_id": pl.lit(None, pl.String()),
    "channel": pl.lit("bank"),
    "balance_after": pl.lit(None, pl.Float64()),
    "paid_on": pl.lit(None, pl.Date()),
    "status": pl.lit(InvoiceStatus.VALID.value),
    "amount_paid": pl.lit(0.0),
    "since": pl.lit(None, pl.Date()),
    "ip_prefix": pl.lit(None, pl.String()),
    "os": pl.lit(None, pl.String()),
    "emulator": pl.lit(False),
    "rooted": pl.lit(False),
}
_TRUE_WORDS = ("true", "1", "yes", "t", "y")


def _target_dtype(column: str) -> pl.DataType:
    if column in _DATES:
        return pl.Date()
    if column in _AMOUNTS:
        return pl.Float64()
    if column in _FLAGS:
        return pl.Boolean()
    return pl.String()


def _conform_expr(column: str, dtype: pl.DataType) -> pl.Expr:
    """Cast one column to what the features expect; ISO strings and 'true'/'false' as CSV gives them."""
    target = _target_dtype(column)
    col = pl.col(column)
    if target == pl.Date() and dtype == pl.String():
        return col.str.to_date("%Y-%m-%d")
    if target == pl.Boolean() and dtype == pl.String():
        return col.str.to_lowercase().is_in(_TRUE_WORDS)
    return col.cast(target)


_SCHEMA_COLUMNS: dict[Source, tuple[str, ...]] = {s: (BORROWER_ID, *columns(s)) for s in Source}


def _conformed(frame: pl.DataFrame, source: Source) -> list[pl.Expr]:
    """The schema's columns in order, cast where the input has another type, defaults where it has none."""
    schema = frame.schema
    selected: list[pl.Expr] = []
    for column in _SCHEMA_COLUMNS[source]:
        if column not in schema:
            if column not in _DEFAULTS:
                raise ValueError(f"{source.value}: column {column!r} is missing")
            selected.append(_DEFAULTS[column].cast(_target_dtype(column)).alias(column))
        elif schema[column] != _target_dtype(column):
            selected.append(_conform_expr(column, schema[column]).alias(column))
        else:
            selected.append(pl.col(column))
    return selected


def _prepare(frame: pl.DataFrame | None, source: Source, as_of: date, only: str | None) -> pl.DataFrame | None:
    """Typed rows dated on or before as_of, with their age in days; a payment after as_of is not yet made."""
    if frame is None:
        return None
    typed = _conformed(frame, source)
    by_name = dict(zip(_SCHEMA_COLUMNS[source], typed, strict=True))
    cutoff = pl.lit(as_of, pl.Date())
    dated = by_name[DATE_COLUMN[source]]
    derived = [(cutoff - dated).dt.total_days().alias(AGE)]
    if source in (Source.REPAYMENTS, Source.UTILITY_PAYMENTS):
        later = by_name["paid_on"] > cutoff
        derived.append(pl.when(later).then(None).otherwise(by_name["paid_on"]).alias("paid_on"))
        if source is Source.REPAYMENTS:
            derived.append(pl.when(later).then(0.0).otherwise(by_name["amount_paid"]).alias("amount_paid"))
    replaced = {e.meta.output_name() for e in derived}
    columns = [e for name, e in by_name.items() if name not in replaced] + derived
    age = pl.col(AGE)
    # relations may carry no `since`: a link of unknown age is taken as known at as_of
    keep = (age >= 0) | age.is_null() if source is Source.RELATIONS else age >= 0
    if only is not None and source in OWN_ROWS:
        keep &= pl.col(BORROWER_ID) == only
    return frame.select(columns).filter(keep)


@dataclass(frozen=True, slots=True)
class _Per:
    """How rows become one row per borrower. For many borrowers: group_by. At decision time, with one borrower
    to score, the same expressions run as a plain select over that borrower's rows, which Polars evaluates
    several times faster than a group_by of one group (the HTTP budget is a few milliseconds); the result then
    carries no borrower_id, and `build_features` puts the parts side by side."""

    only: str | None  # the one borrower scored, or None for a batch

    def rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame if self.only is None else frame.filter(pl.col(BORROWER_ID) == self.only)

    def agg(self, frame: pl.DataFrame, exprs: Sequence[pl.Expr], *keys: str) -> pl.DataFrame:
        if self.only is None:
            return frame.group_by(BORROWER_ID, *keys).agg(exprs)
        if keys:
            return frame.group_by(*keys).agg(exprs)
        one = frame.select(exprs)
        return one if frame.height else one.head(0)  # a select over no rows would make zeros out of nothing


# sources whose features read the scored borrower's rows only (relations and devices also read the others')
OWN_ROWS = (Source.TRANSACTIONS, Source.UTILITY_PAYMENTS, Source.TAX_INVOICES, Source.REPAYMENTS)


# ---- cash flow ---------------------------------------------------------------------------------------------------

_AGE_COL = pl.col(AGE)
_IS_IN = pl.col("direction") == Direction.IN.value


def _within(days: int) -> pl.Expr:
    return pl.col(AGE) < days


def _month(k: int) -> pl.Expr:
    """The k-th 30-day bucket back from as_of (0 = the latest)."""
    return pl.col(AGE) // MONTH_DAYS == k


_IN_COL, _OUT_COL = pl.col("inflow"), pl.col("outflow")


def _masked_sum(value: pl.Expr, condition: pl.Expr, name: str) -> pl.Expr:
    return pl.when(condition).then(value).otherwise(0.0).sum().alias(name)


def _trend_weight() -> pl.Expr:
    """Each day's weight in the OLS slope of the twelve monthly inflows: the slope of y on x = 0..11 (oldest to
    newest) is sum((x - mean x) y) / sum((x - mean x)^2), a fixed weight per month, so one weighted sum over
    the days gives it without building the months first."""
    centred = np.arange(TREND_MONTHS, dtype=np.float64) - (TREND_MONTHS - 1) / 2.0
    x = (TREND_MONTHS - 1) - pl.col(AGE) // MONTH_DAYS  # month 0 = the latest 30 days = x 11
    return (
        pl.when(pl.col(AGE) < TREND_MONTHS * MONTH_DAYS)
        .then((x - (TREND_MONTHS - 1) / 2.0) / float((centred**2).sum()))
        .otherwise(0.0)
    )


_MONTHS = [f"_m{k}" for k in range(TREND_MONTHS)]  # _m0 = the latest 30 days

_NAMED_IN_365D = (
    pl.col("direction").eq(Direction.IN.value) & (pl.col(AGE) < 365) & pl.col("counterparty_id").is_not_null()
)
# per row, what the borrower received from the row's counterparty in the last 365 days: summing amount x that
# over the rows gives sum over counterparties of (their total)^2, the Herfindahl numerator, in the same pass
_CP_TOTAL = pl.when(_NAMED_IN_365D).then(pl.col("amount")).otherwise(0.0).sum().over(BORROWER_ID, "counterparty_id")
_ROW_FLOWS = (
    pl.when(_IS_IN).then(pl.col("amount")).otherwise(0.0).alias("inflow"),
    pl.when(_IS_IN).then(0.0).otherwise(pl.col("amount")).alias("outflow"),
    pl.when(_NAMED_IN_365D).then(_CP_TOTAL).otherwise(0.0).alias("_cp_total"),
)
_DAILY = (
    pl.col("inflow").sum(),
    pl.col("outflow").sum(),
    pl.col("balance_after").min().alias("min_balance"),
    pl.col("balance_after").last().alias("last_balance"),
    (pl.col("inflow") * pl.col("_cp_total")).sum().alias("_cp_sq"),
    pl.col("_cp_total").max().alias("_cp_top"),
)

_CASH_AGG = (
    *(_masked_sum(_IN_COL, _within(w), f"inflow_{w}d") for w in WINDOWS_DAYS),
    *(_masked_sum(_OUT_COL, _within(w), f"outflow_{w}d") for w in WINDOWS_DAYS),
    *(_masked_sum(_IN_COL, _month(k), m) for k, m in enumerate(_MONTHS)),
    _masked_sum(_IN_COL, _AGE_COL.is_between(YOY_FROM_DAYS, YOY_FROM_DAYS + 3 * MONTH_DAYS - 1), "_in_yoy_base"),
    (_masked_sum(_IN_COL, _within(TREND_MONTHS * MONTH_DAYS), "_m_mean") / TREND_MONTHS),
    (_IN_COL * _trend_weight()).sum().alias("_m_slope"),
    *(
        ((pl.col("min_balance") < 0) & (_within(w))).sum().cast(pl.Int64).alias(f"negative_balance_days_{w}d")
        for w in (90, 365)
    ),
    *(
        ((_within(w)) & ((_IN_COL > 0) | (_OUT_COL > 0))).sum().cast(pl.Int64).alias(f"active_days_{w}d")
        for w in (90, 365)
    ),
    pl.col("min_balance").is_not_null().sum().alias("_balance_days"),
    pl.col("last_balance").sort_by(AGE).drop_nulls().first().alias("balance_latest"),
    pl.col("_cp_sq").sum(),
    pl.col("_cp_top").max(),
    _AGE_COL.max().cast(pl.Int64).alias("history_days"),
)


def _safe_ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return pl.when(denominator != 0).then(numerator / denominator).otherwise(None)


def _cash_derived() -> tuple[pl.Expr, ...]:
    mean = pl.col("_m_mean")
    sum_sq = pl.sum_horizontal([pl.col(m) * pl.col(m) for m in _MONTHS])
    # sample variance from the sum of squares: (sum y^2 - n mean^2) / (n - 1), floored at 0 against rounding
    std = ((sum_sq - TREND_MONTHS * mean * mean) / (TREND_MONTHS - 1)).clip(lower_bound=0.0).sqrt()
    long_enough = pl.col("history_days") >= MIN_HISTORY_TREND_DAYS
    has_balance = pl.col("_balance_days") > 0
    return (
        (pl.col("inflow_90d") - pl.col("outflow_90d")).alias("net_flow_90d"),
        (pl.col("inflow_365d") - pl.col("outflow_365d")).alias("net_flow_365d"),
        _safe_ratio(pl.col("outflow_90d"), pl.col("inflow_90d")).alias("outflow_to_inflow_90d"),
        pl.when(long_enough).then(_safe_ratio(std, mean)).alias("inflow_cv_12m"),
        pl.when(long_enough).then(_safe_ratio(pl.col("_m_slope"), mean)).alias("inflow_trend_12m"),
        pl.when(pl.col("history_days") >= MIN_HISTORY_YOY_DAYS)
        .then(_safe_ratio(pl.col("inflow_90d"), pl.col("_in_yoy_base")) - 1.0)  # 90 days = the latest 3 months
        .alias("inflow_yoy_change_3m"),
        *(
            pl.when(has_balance).then(pl.col(c)).alias(c)
            for c in ("negative_balance_days_90d", "negative_balance_days_365d")
        ),
        _safe_ratio(pl.col("balance_latest"), pl.col("outflow_90d") / 3.0).alias("cash_buffer_months_90d"),
        _safe_ratio(pl.col("_cp_sq"), pl.col("inflow_365d") ** 2).alias("inflow_hhi_365d"),
        _safe_ratio(pl.col("_cp_top"), pl.col("inflow_365d")).alias("inflow_top1_share_365d"),
    )


_CASH_DERIVED = _cash_derived()


def _cashflow(tx: pl.DataFrame, per: _Per) -> pl.DataFrame:
    daily = per.agg(tx.with_columns(_ROW_FLOWS), _DAILY, AGE)
    return per.agg(daily, _CASH_AGG).with_columns(_CASH_DERIVED)


# ---- repayments at other lenders, invoices, utility bills --------------------------------------------------------


def _lateness(paid_in_full: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Days late (paid late, or still unpaid: days since due) and whether the row is past due and unpaid."""
    unpaid_past_due = ~paid_in_full & (_AGE_COL > 0)
    paid_days = (pl.col("paid_on") - pl.col("due_on")).dt.total_days()
    days_late = pl.when(paid_in_full).then(paid_days).otherwise(_AGE_COL).clip(lower_bound=0)
    return days_late.alias("_days_late"), unpaid_past_due.alias("_overdue")


_REPAY_ROWS = _lateness(pl.col("paid_on").is_not_null() & (pl.col("amount_paid") >= pl.col("amount_due")))
_IN_24M = _AGE_COL < 730
_REPAY_AGG = (
    _IN_24M.sum().cast(pl.Int64).alias("installments_due_24m"),
    (pl.col("_days_late") > 0).filter(_IN_24M).mean().alias("late_share_24m"),
    pl.col("_days_late").filter(_IN_24M).max().cast(pl.Int64).alias("max_days_late_24m"),
    pl.when(pl.col("_overdue"))
    .then(pl.col("amount_due") - pl.col("amount_paid"))
    .otherwise(0.0)
    .sum()
    .alias("overdue_amount"),
    pl.col("_overdue").sum().cast(pl.Int64).alias("overdue_count"),
    pl.col("lender").filter(_IN_24M).n_unique().cast(pl.Int64).alias("lenders_24m"),
    _masked_sum(pl.col("amount_due"), _AGE_COL < 90, "_due_90d"),
)


def _repayments(rows: pl.DataFrame, per: _Per) -> pl.DataFrame:
    return per.agg(rows.with_columns(_REPAY_ROWS), _REPAY_AGG)


_VALID = pl.col("status") == InvoiceStatus.VALID.value
_SALES = (pl.col("direction") == InvoiceDirection.SALES.value) & _VALID
_PURCHASE = (pl.col("direction") == InvoiceDirection.PURCHASE.value) & _VALID
_IN_12M = _AGE_COL < 365
_INVOICE_AGG = (
    _masked_sum(pl.col("amount"), _SALES & _IN_12M, "sales_invoice_amount_365d"),
    _masked_sum(pl.col("amount"), _SALES & (_AGE_COL < 180), "_sales_6m"),
    _masked_sum(pl.col("amount"), _SALES & _AGE_COL.is_between(180, 359), "_sales_prev_6m"),
    _masked_sum(pl.col("amount"), _PURCHASE & _IN_12M, "_purchase_365d"),
    (~_VALID).filter(_IN_12M).mean().alias("invoice_void_red_share_365d"),
)
_INVOICE_DERIVED = (
    (_safe_ratio(pl.col("_sales_6m"), pl.col("_sales_prev_6m")) - 1.0).alias("sales_invoice_growth_6m"),
    _safe_ratio(pl.col("_purchase_365d"), pl.col("sales_invoice_amount_365d")).alias("purchase_to_sales_ratio_365d"),
)


def _invoices(rows: pl.DataFrame, per: _Per) -> pl.DataFrame:
    return per.agg(rows, _INVOICE_AGG).with_columns(_INVOICE_DERIVED)


_UTILITY_ROWS = _lateness(pl.col("paid_on").is_not_null())
_UTILITY_AGG = (
    _IN_12M.sum().cast(pl.Int64).alias("utility_bills_365d"),
    (pl.col("_days_late") > 0).filter(_IN_12M).mean().alias("utility_late_share_365d"),
    pl.col("_days_late").filter(_IN_12M).max().cast(pl.Int64).alias("utility_max_days_late_365d"),
    pl.col("_overdue").sum().cast(pl.Int64).alias("utility_unpaid_count"),
)


def _utilities(rows: pl.DataFrame, per: _Per) -> pl.DataFrame:
    return per.agg(rows.with_columns(_UTILITY_ROWS), _UTILITY_AGG)


# ---- the relation network ----------------------------------------------------------------------------------------

_OTHER = pl.col("other_party_id")
_NETWORK_AGG = (
    _OTHER.n_unique().cast(pl.Int64).alias("relation_degree"),
    *(
        _OTHER.filter(pl.col("kind") == kind.value).n_unique().cast(pl.Int64).alias(f"degree_{kind.value}")
        for kind in RelationKind
    ),
)
_NEIGHBOUR_AGG = (
    _OTHER.filter(pl.col("_defaulted")).n_unique().cast(pl.Int64).alias("defaulted_neighbours"),
    (_OTHER.filter(pl.col("_defaulted")).n_unique() / _OTHER.n_unique()).alias("defaulted_neighbour_share"),
)


def _known_defaults(defaulted_parties: pl.DataFrame | None, as_of: date) -> pl.Series | None:
    """Ids of parties known to have defaulted on or before as_of (a later default is not known yet)."""
    if defaulted_parties is None:
        return None
    frame = defaulted_parties
    if "defaulted_on" in frame.schema:
        on = frame["defaulted_on"]
        on = on.str.to_date("%Y-%m-%d") if on.dtype == pl.String() else on.cast(pl.Date())
        frame = frame.filter(on.is_null() | (on <= as_of))
    return frame["party_id"].cast(pl.String()).unique()


def _network(relations: pl.DataFrame, defaults: pl.Series | None, per: _Per) -> pl.DataFrame:
    own = per.rows(relations)
    if defaults is None:
        return per.agg(own, _NETWORK_AGG)
    marked = own.with_columns(_OTHER.is_in(defaults.implode()).alias("_defaulted"))
    return per.agg(marked, (*_NETWORK_AGG, *_NEIGHBOUR_AGG))


def _identity_edges(relations: pl.DataFrame | None, devices: pl.DataFrame | None) -> pl.DataFrame:
    """Borrower -> party links that say "the same person": shared phones, devices, addresses, and device ids seen.

    A borrower with relation or device rows but no such link still gets a self-loop, so it forms a component
    of one instead of dropping out.
    """
    parts: list[pl.DataFrame] = []
    if relations is not None:
        identity = relations.filter(pl.col("kind").is_in([k.value for k in IDENTITY_KINDS]))
        parts.append(identity.select(pl.col(BORROWER_ID).alias("a"), _OTHER.alias("b")))
        parts.append(relations.select(pl.col(BORROWER_ID).alias("a"), pl.col(BORROWER_ID).alias("b")))
    if devices is not None:
        parts.append(
            devices.select(pl.col(BORROWER_ID).alias("a"), (DEVICE_NODE_PREFIX + pl.col("device_id")).alias("b"))
        )
    return pl.concat(parts)  # repeated edges are harmless to connected components


def _rings(edges: pl.DataFrame, borrower_ids: pl.Series, defaults: pl.Series | None, per: _Per) -> pl.DataFrame:
    """Connected components of the identity graph: size in borrowers and whether a known defaulter is in it."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    names = pl.concat([edges["a"], edges["b"]])
    codes = (names.rank("dense") - 1).cast(pl.Int64).to_numpy()  # node numbers, hashed and sorted in Polars
    n_nodes, half = int(codes.max()) + 1, edges.height
    graph = coo_matrix((np.ones(half, dtype=np.int8), (codes[:half], codes[half:])), shape=(n_nodes, n_nodes))
    n_components, labels = connected_components(graph, directed=False)
    borrowers = pl.concat([borrower_ids, edges["a"]]).implode()
    size = _count_per_component(codes, names.is_in(borrowers).to_numpy(), labels, n_components)
    scored = edges["a"] if per.only is None else edges["a"].filter(edges["a"] == per.only).head(1)
    component = (
        labels[codes[:half]] if per.only is None else labels[codes[:half]][(edges["a"] == per.only).to_numpy()][:1]
    )
    has_defaulted: npt.NDArray[np.int64] | None = None
    if defaults is not None:
        defaulted = _count_per_component(codes, names.is_in(defaults.implode()).to_numpy(), labels, n_components)
        has_defaulted = (defaulted[component] > 0).astype(np.int64)
    frame = pl.DataFrame(
        {
            BORROWER_ID: scored,
            "ring_component_size": size[component].astype(np.int64),
            "ring_has_defaulted": has_defaulted,
        },
        schema={BORROWER_ID: pl.String(), "ring_component_size": pl.Int64(), "ring_has_defaulted": pl.Int64()},
    )
    return frame.unique(BORROWER_ID) if per.only is None else frame.drop(BORROWER_ID)


def _count_per_component(
    codes: npt.NDArray[np.int64], flagged: npt.NDArray[np.bool_], labels: npt.NDArray[np.int32], n_components: int
) -> npt.NDArray[np.float64]:
    """How many distinct flagged nodes each component holds (a node appears once per edge end)."""
    node_flag = np.zeros(len(labels), dtype=np.float64)
    node_flag[codes[flagged]] = 1.0
    counts: npt.NDArray[np.float64] = np.bincount(labels, weights=node_flag, minlength=n_components).astype(np.float64)
    return counts


# ---- devices -----------------------------------------------------------------------------------------------------

_RECENT_IP = (pl.col(AGE) < 30) & pl.col("ip_prefix").is_not_null()
_DEVICE_ROWS = (
    # borrowers seen per device id / per recent IP prefix, over every borrower's rows given
    pl.col(BORROWER_ID).n_unique().over("device_id").alias("_on_device"),
    pl.when(_RECENT_IP).then(pl.col(BORROWER_ID)).drop_nulls().n_unique().over("ip_prefix").alias("_on_ip"),
)
_DEVICE_AGG = (
    pl.col("device_id").n_unique().cast(pl.Int64).alias("device_count"),
    pl.col("emulator").any().cast(pl.Int64).alias("device_emulator"),
    pl.col("rooted").any().cast(pl.Int64).alias("device_rooted"),
    (pl.col("_on_device").max() - 1).cast(pl.Int64).alias("device_shared_borrowers"),
    (pl.col("_on_ip").filter(_RECENT_IP).max() - 1).cast(pl.Int64).alias("ip_shared_borrowers_30d"),
)


def _devices(devices: pl.DataFrame, per: _Per) -> pl.DataFrame:
    # the sharing counts look at every borrower's rows given; only then narrow to the borrowers scored
    return per.agg(per.rows(devices.with_columns(_DEVICE_ROWS)), _DEVICE_AGG)


# ---- the whole row -----------------------------------------------------------------------------------------------

_OUTPUT_CAST = {f.name: pl.col(f.name).cast(f.unit.dtype) for f in FEATURES}


def _output(schema: pl.Schema) -> list[pl.Expr]:
    """The catalogue's columns in order; a cast only where a column does not have its type yet."""
    return [pl.col(BORROWER_ID)] + [
        pl.col(f.name) if schema.get(f.name) == f.unit.dtype else _OUTPUT_CAST[f.name] for f in FEATURES
    ]


def build_features(data: AltData, as_of: date, defaulted_parties: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per borrower of `data.borrowers` (same order): `borrower_id` and every feature of FEATURES."""
    borrower_ids = data.borrowers[BORROWER_ID].cast(pl.String())
    per = _Per(borrower_ids[0] if len(borrower_ids) == 1 else None)
    prepared = {source: _prepare(data.frame(source), source, as_of, per.only) for source in Source}
    defaults = _known_defaults(defaulted_parties, as_of)
    parts = _group_frames(prepared, defaults, borrower_ids, per)
    if per.only is None:
        result = pl.DataFrame({BORROWER_ID: borrower_ids})
        for part in parts:
            result = result.join(part, on=BORROWER_ID, how="left", maintain_order="left")
    else:  # every part is one row (or none): side by side is the join
        ones = [p for p in parts if p.height]
        result = pl.concat([pl.DataFrame({BORROWER_ID: borrower_ids}), *ones], how="horizontal")
    return result.with_columns(_missing(result.schema)).select(_output(result.schema))


_DEBT_TO_INFLOW = "debt_service_to_inflow_90d"


def _missing(schema: pl.Schema) -> list[pl.Expr]:
    """Null columns for the features whose source was not given; the one feature that needs two sources."""
    both = "_due_90d" in schema and "inflow_90d" in schema
    ratio = _safe_ratio(pl.col("_due_90d"), pl.col("inflow_90d")).alias(_DEBT_TO_INFLOW)
    fill = [pl.lit(None, f.unit.dtype).alias(f.name) for f in FEATURES if f.name not in schema]
    return [ratio, *(e for e in fill if e.meta.output_name() != _DEBT_TO_INFLOW)] if both else fill


def _group_frames(
    prepared: Mapping[Source, pl.DataFrame | None], defaults: pl.Series | None, borrower_ids: pl.Series, per: _Per
) -> list[pl.DataFrame]:
    parts: list[pl.DataFrame] = []
    makers = (
        (Source.TRANSACTIONS, _cashflow),
        (Source.REPAYMENTS, _repayments),
        (Source.TAX_INVOICES, _invoices),
        (Source.UTILITY_PAYMENTS, _utilities),
        (Source.DEVICES, _devices),
    )
    for source, make in makers:
        rows = prepared[source]
        if rows is not None:
            parts.append(make(rows, per))
    relations, devices = prepared[Source.RELATIONS], prepared[Source.DEVICES]
    if relations is not None:
        parts.append(_network(relations, defaults, per))
    if relations is not None or devices is not None:
        parts.append(_rings(_identity_edges(relations, devices), borrower_ids, defaults, per))
    return parts


# ---- the catalogue as a document ---------------------------------------------------------------------------------

_GROUP_MISSING = {
    FeatureGroup.CASHFLOW: "no transaction row (no consent to `transactions`, or none shared)",
    FeatureGroup.REPAYMENT: "no repayment row (no loan at another lender, or no consent to `credit_bureau`)",
    FeatureGroup.INVOICE: "no invoice row (no e-invoices, or no consent to `tax_invoices`)",
    FeatureGroup.UTILITY: "no utility bill row",
    FeatureGroup.NETWORK: "no relation row and no device row",
    FeatureGroup.DEVICE: "no device row",
}


def catalogue_markdown() -> str:
    """docs/features.md, generated from FEATURES (a unit test keeps the file equal to this)."""
    lines = [
        "# Feature catalogue / 特征目录",
        "",
        "Generated from `puhui.risk.features.FEATURES`; regenerate with",
        "`.venv/bin/python -c \"from puhui.risk.features import catalogue_markdown as m; print(m(), end='')\""
        " > docs/features.md`.",
        "",
        "Every feature is computed by `build_features(data, as_of, defaulted_parties)` from rows dated on or before",
        "`as_of` only; a payment made after `as_of` counts as unpaid. A window of *w* days is `(as_of - w, as_of]`;",
        "months are 30-day buckets counted back from `as_of`. A feature is null when the borrower has no row in the",
        "source(s) its group reads (first table) and in the cases of its column *also null when*; a ratio is null",
        "when its denominator is zero. Nulls are left for the model to learn from: no value is made up.",
        "",
        "The network and device groups read every row given, not only the scored borrower's: pass the relations and",
        "devices of other borrowers (the device index) to find shared devices and identity rings. `defaulted_parties`",
        "lists the parties known to have defaulted (`party_id`, optional `defaulted_on`: later defaults are ignored);",
        "without it the default-based network features are null. The same function builds the training table",
        "(`puhui simulate`) and the features at decision time, one borrower at a time.",
        "",
        "| group | reads | null when the borrower has |",
        "|---|---|---|",
        *(f"| {g.value} | {', '.join(s.value for s in g.sources)} | {_GROUP_MISSING[g]} |" for g in FeatureGroup),
        "",
        "| name | group | 中文 | meaning | window (days) | unit | also null when |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in FEATURES:
        window = "—" if f.window_days is None else str(f.window_days)
        lines.append(
            f"| `{f.name}` | {f.group.value} | {f.zh} | {f.en} | {window} | {f.unit.value} | {f.missing or '—'} |"
        )
    return "\n".join(lines) + "\n"
