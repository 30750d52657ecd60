"""Credit features from the alternative data (Polars): cash flow, repayment habits, invoices, utility bills,
the relation network and devices.

One function, `build_features(data, as_of, defaulted_parties)`, serves both settings: the training table
(thousands of borrowers at once; `puhui simulate` calls it) and the decision (one borrower inside an HTTP
request). The batch runs as Polars expressions, the reference; for one borrower the same features are computed
over NumPy arrays (`_<group>_one`, next to each group's expressions), because some forty Polars operations of
~0.1 ms each do not fit a decision's budget of a few milliseconds. tests/unit/test_features.py holds the two
equal, feature by feature, on simulated borrowers of every kind: that is what keeps the model's training and
serving features equal. At decision time pass the borrower's own rows and the relation and device rows of every
borrower that shares an identifier with it, directly or through others (the ring is a connected component).

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

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from enum import StrEnum
from typing import Any, TypeVar

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
# the value of every row of a column a frame leaves out; a column not listed here must be given
_DEFAULTS: dict[str, str | float | bool | None] = {
    "counterparty_id": None,
    "channel": "bank",
    "balance_after": None,
    "paid_on": None,
    "status": InvoiceStatus.VALID.value,
    "amount_paid": 0.0,
    "since": None,
    "ip_prefix": None,
    "os": None,
    "emulator": False,
    "rooted": False,
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


_Column = TypeVar("_Column", pl.Expr, pl.Series)


def _conform(value: _Column, column: str, dtype: pl.DataType) -> _Column:
    """Cast one column to what the features expect; ISO strings and 'true'/'false' as CSV gives them. The same
    rule for an expression (the batch) and a Series (one borrower)."""
    target = _target_dtype(column)
    if target == pl.Date() and dtype == pl.String():
        return value.str.to_date("%Y-%m-%d")
    if target == pl.Boolean() and dtype == pl.String():
        return value.str.to_lowercase().is_in(_TRUE_WORDS)
    return value.cast(target)


def _default(source: Source, column: str) -> str | float | bool | None:
    if column not in _DEFAULTS:
        raise ValueError(f"{source.value}: column {column!r} is missing")
    return _DEFAULTS[column]


_SCHEMA_COLUMNS: dict[Source, tuple[str, ...]] = {s: (BORROWER_ID, *columns(s)) for s in Source}


def _conformed(frame: pl.DataFrame, source: Source) -> list[pl.Expr]:
    """The schema's columns in order, cast where the input has another type, defaults where it has none."""
    schema = frame.schema
    selected: list[pl.Expr] = []
    for column in _SCHEMA_COLUMNS[source]:
        if column not in schema:
            selected.append(pl.lit(_default(source, column), _target_dtype(column)).alias(column))
        elif schema[column] != _target_dtype(column):
            selected.append(_conform(pl.col(column), column, schema[column]).alias(column))
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


# sources whose features read the scored borrower's rows only (relations and devices also read the others')
OWN_ROWS = (Source.TRANSACTIONS, Source.UTILITY_PAYMENTS, Source.TAX_INVOICES, Source.REPAYMENTS)


def _per_borrower(frame: pl.DataFrame, exprs: Sequence[pl.Expr], *keys: str) -> pl.DataFrame:
    return frame.group_by(BORROWER_ID, *keys).agg(exprs)


# ---- one borrower at decision time: the same rows as NumPy arrays ------------------------------------------------
#
# A Polars operation costs about 0.1 ms whatever the size of its frame, and the batch code runs about forty of
# them: far too slow inside an HTTP request. For one borrower `build_features` reads each column once into NumPy
# (or a list, for the few rows of relations and devices) and computes every feature next to its Polars
# definition below, in `_<group>_one`, by the same rule; tests/unit/test_features.py checks, feature by feature,
# that the two agree on simulated borrowers of every kind. Rows the NumPy code does not take (a null where the
# schema wants a value, an amount that is not a finite number) go to the batch code, the reference.
# Only Series methods that Polars runs natively are used here: one that it runs as an expression (fill_null,
# is_null, unique, is_in, the str namespace...) costs a query of its own, 0.1 ms or more. Text dates and flags,
# which `_conform` parses with such methods, are parsed for every source in one query (`_parsed_texts`).

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]
_Values = dict[str, float | int | None]
_EPOCH = date(1970, 1, 1)


class _NotFast(Exception):
    """Rows left to the batch code (the reference): a null where the schema wants a value, or a non-finite amount."""


def _given_rows(frame: pl.DataFrame, source: Source, only: str) -> pl.DataFrame:
    """The rows the features of `only` read: its own for OWN_ROWS, all for relations and devices (raises, as the
    batch does, when a required column is missing)."""
    schema = frame.schema
    for column in _SCHEMA_COLUMNS[source]:
        if column not in schema:
            _default(source, column)
    if source not in OWN_ROWS:
        return frame
    borrower = frame.get_column(BORROWER_ID)
    borrower = borrower if schema[BORROWER_ID] == pl.String() else borrower.cast(pl.String())
    if borrower.null_count():
        raise _NotFast(BORROWER_ID)
    own = borrower == only
    return frame if own.all() else frame.filter(own)  # at decision time the caller gives the borrower's rows only


def _parsed_texts(frames: Mapping[Source, pl.DataFrame]) -> dict[tuple[Source, str], pl.Series]:
    """The text columns `_conform` parses (dates, 'true'/'false' flags) of every frame, parsed in one query."""
    cells = [
        (source, column)
        for source, frame in frames.items()
        for column, dtype in frame.schema.items()
        if dtype == pl.String() and column in _DATES | _FLAGS and column in _SCHEMA_COLUMNS[source]
    ]
    if not cells:
        return {}
    parsed = pl.select(
        _conform(pl.lit(frames[s].get_column(c)), c, pl.String()).implode().alias(str(i))
        for i, (s, c) in enumerate(cells)
    )
    return {cell: parsed.get_column(str(i))[0] for i, cell in enumerate(cells)}


class _Rows:
    """One source's rows read the way `_prepare` reads them (same casts and defaults, nothing dated after as_of),
    as NumPy arrays of the rows kept, in the order given."""

    __slots__ = ("_frame", "_keep", "_parsed", "_schema", "_source", "age", "as_of_day")

    def __init__(
        self, frame: pl.DataFrame, source: Source, as_of_day: int, parsed: Mapping[tuple[Source, str], pl.Series]
    ) -> None:
        self._schema, self._frame, self._keep, self._source, self._parsed = frame.schema, frame, None, source, parsed
        day, unknown = self._days(DATE_COLUMN[source])
        age = as_of_day - day
        if unknown is None:
            keep = age >= 0
        elif source is Source.RELATIONS:  # a link of unknown age is known at as_of, as in `_prepare`
            age[unknown] = 0
            keep = age >= 0
        else:
            keep = ~unknown & (age >= 0)
        self._keep = None if keep.all() else keep
        self.age: IntArray = self._kept(age)
        self.as_of_day = as_of_day

    def series(self, column: str) -> pl.Series:
        """The whole column, conformed (the keep mask not applied)."""
        dtype = self._schema.get(column)
        if dtype is None:
            return pl.Series(column, [_DEFAULTS[column]] * self._frame.height, _target_dtype(column))
        parsed = self._parsed.get((self._source, column))
        if parsed is not None:
            return parsed
        values = self._frame.get_column(column)
        return values if dtype == _target_dtype(column) else _conform(values, column, dtype)

    def _kept(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return values if self._keep is None else values[self._keep]

    def _days(self, column: str) -> tuple[IntArray, BoolArray | None]:
        """Day numbers (days since 1970-01-01) of every row, and where the date is null (there 0), if anywhere."""
        values = self.series(column).to_numpy()  # datetime64[D], NaT where null
        day: IntArray = values.view(np.int64).copy()
        unknown: BoolArray = np.isnat(values)
        if not unknown.any():
            return day, None
        day[unknown] = 0
        return day, unknown

    def dates(self, column: str) -> tuple[IntArray, BoolArray]:
        day, unknown = self._days(column)
        return self._kept(day), np.zeros(self.age.size, np.bool_) if unknown is None else self._kept(unknown)

    def floats(self, column: str, nullable: bool = False) -> FloatArray:
        """Amounts as float64, NaN where null (only if `nullable`)."""
        values = self.series(column)
        nulls = values.null_count()
        if nulls and not nullable:
            raise _NotFast(column)
        array: FloatArray = values.to_numpy()
        if np.count_nonzero(np.isfinite(array)) != array.size - nulls:  # NaN or infinity given as a number
            raise _NotFast(column)
        return self._kept(array)

    def equals(self, column: str, value: str) -> BoolArray:
        values = self.series(column)
        if values.null_count():
            raise _NotFast(column)
        return self._kept((values == value).to_numpy())

    def flags(self, column: str) -> BoolArray:
        """Null counts as False, as `any()` skips it."""
        values = self.series(column)
        array = values.to_numpy()  # with nulls: objects, None where null
        return self._kept(array.astype(np.bool_) if values.null_count() else array)

    def texts(self, column: str, nullable: bool = False) -> ObjectArray:
        """Strings (None where null, only if `nullable`) as an object array."""
        values = self.series(column)
        if values.null_count() and not nullable:
            raise _NotFast(column)
        return self._kept(values.to_numpy())


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    """`_safe_ratio` for one borrower: null when either is null or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _kept_sum(values: FloatArray, where: BoolArray) -> float:
    return float(values[where].sum())


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


# Each day's weight in the OLS slope of the twelve monthly inflows: the slope of y on x = 0..11 (oldest to newest)
# is sum((x - mean x) y) / sum((x - mean x)^2), a fixed weight per month, so one weighted sum over the days gives
# it without building the months first. Month 0 (the latest 30 days) is x = 11.
_TREND_CENTRE = (TREND_MONTHS - 1) / 2.0
_TREND_SCALE = float(((np.arange(TREND_MONTHS, dtype=np.float64) - _TREND_CENTRE) ** 2).sum())
_TREND_WEIGHTS = np.array([((TREND_MONTHS - 1) - k - _TREND_CENTRE) / _TREND_SCALE for k in range(TREND_MONTHS)])


def _trend_weight() -> pl.Expr:
    x = (TREND_MONTHS - 1) - pl.col(AGE) // MONTH_DAYS
    return pl.when(pl.col(AGE) < TREND_MONTHS * MONTH_DAYS).then((x - _TREND_CENTRE) / _TREND_SCALE).otherwise(0.0)


_MONTHS = [f"_m{k}" for k in range(TREND_MONTHS)]  # _m0 = the latest 30 days
_HHI_DAYS = 365
_YOY_LAST_AGE = YOY_FROM_DAYS + 3 * MONTH_DAYS - 1
_NEGATIVE_DAYS = (90, 365)
_ACTIVE_DAYS = (90, 365)

_NAMED_IN_365D = (
    pl.col("direction").eq(Direction.IN.value) & (pl.col(AGE) < _HHI_DAYS) & pl.col("counterparty_id").is_not_null()
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
    _masked_sum(_IN_COL, _AGE_COL.is_between(YOY_FROM_DAYS, _YOY_LAST_AGE), "_in_yoy_base"),
    (_masked_sum(_IN_COL, _within(TREND_MONTHS * MONTH_DAYS), "_m_mean") / TREND_MONTHS),
    (_IN_COL * _trend_weight()).sum().alias("_m_slope"),
    *(
        ((pl.col("min_balance") < 0) & (_within(w))).sum().cast(pl.Int64).alias(f"negative_balance_days_{w}d")
        for w in _NEGATIVE_DAYS
    ),
    *(
        ((_within(w)) & ((_IN_COL > 0) | (_OUT_COL > 0))).sum().cast(pl.Int64).alias(f"active_days_{w}d")
        for w in _ACTIVE_DAYS
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
            for c in (f"negative_balance_days_{w}d" for w in _NEGATIVE_DAYS)
        ),
        _safe_ratio(pl.col("balance_latest"), pl.col("outflow_90d") / 3.0).alias("cash_buffer_months_90d"),
        _safe_ratio(pl.col("_cp_sq"), pl.col("inflow_365d") ** 2).alias("inflow_hhi_365d"),
        _safe_ratio(pl.col("_cp_top"), pl.col("inflow_365d")).alias("inflow_top1_share_365d"),
    )


_CASH_DERIVED = _cash_derived()


def _cashflow(tx: pl.DataFrame) -> pl.DataFrame:
    daily = _per_borrower(tx.with_columns(_ROW_FLOWS), _DAILY, AGE)
    return _per_borrower(daily, _CASH_AGG).with_columns(_CASH_DERIVED)


def _cashflow_one(tx: _Rows) -> _Values:
    """`_cashflow` for one borrower's rows: the same sums, by day where the batch goes by day."""
    age = tx.age
    if not age.size:
        return {}
    amount = tx.floats("amount")
    is_in = tx.equals("direction", Direction.IN.value)
    inflow, outflow = np.where(is_in, amount, 0.0), np.where(is_in, 0.0, amount)
    received = {w: _kept_sum(inflow, age < w) for w in WINDOWS_DAYS}
    paid = {w: _kept_sum(outflow, age < w) for w in WINDOWS_DAYS}
    v: _Values = {f"inflow_{w}d": received[w] for w in WINDOWS_DAYS}
    v.update({f"outflow_{w}d": paid[w] for w in WINDOWS_DAYS})
    month = age // MONTH_DAYS
    in_trend = month < TREND_MONTHS  # = age < TREND_MONTHS * MONTH_DAYS
    trend_in, trend_month = inflow[in_trend], month[in_trend]
    months = np.bincount(trend_month, weights=trend_in, minlength=TREND_MONTHS)
    mean = float(trend_in.sum()) / TREND_MONTHS
    slope = float((trend_in * _TREND_WEIGHTS[trend_month]).sum())
    yoy_base = _kept_sum(inflow, (age >= YOY_FROM_DAYS) & (age <= _YOY_LAST_AGE))
    # by day (index = age): active days, negative-balance days, the latest balance
    day_in, day_out = np.bincount(age, weights=inflow), np.bincount(age, weights=outflow)
    active = (day_in > 0) | (day_out > 0)
    for w in _ACTIVE_DAYS:
        v[f"active_days_{w}d"] = int(np.count_nonzero(active[:w]))
    balance = tx.floats("balance_after", nullable=True)
    has_balance = ~np.isnan(balance)
    latest = None
    if has_balance.any():
        negative = np.zeros(day_in.size, np.bool_)
        negative[age[has_balance & (balance < 0)]] = True  # the day's lowest balance is below zero
        for w in _NEGATIVE_DAYS:
            v[f"negative_balance_days_{w}d"] = int(np.count_nonzero(negative[:w]))
        latest = _latest_balance(age, balance, has_balance)
    # Herfindahl: per named inflow of the last 365 days, the total from its counterparty
    named = np.flatnonzero(is_in & (age < _HHI_DAYS))
    payers = tx.texts("counterparty_id", True)[named].tolist()
    named = named[[p is not None for p in payers]]
    codes: dict[str, int] = {}
    payer = np.fromiter((codes.setdefault(p, len(codes)) for p in payers if p is not None), np.int64, named.size)
    cp_total = np.zeros(age.size)
    cp_total[named] = np.bincount(payer, weights=amount[named], minlength=len(codes))[payer]
    history = int(age.max())
    sum_sq = 0.0
    for m in months.tolist():
        sum_sq += m * m
    std = math.sqrt(max((sum_sq - TREND_MONTHS * mean * mean) / (TREND_MONTHS - 1), 0.0))
    long_enough = history >= MIN_HISTORY_TREND_DAYS
    yoy = _ratio(received[90], yoy_base)  # 90 days = the latest 3 months
    v.update(
        net_flow_90d=received[90] - paid[90],
        net_flow_365d=received[365] - paid[365],
        outflow_to_inflow_90d=_ratio(paid[90], received[90]),
        inflow_cv_12m=_ratio(std, mean) if long_enough else None,
        inflow_trend_12m=_ratio(slope, mean) if long_enough else None,
        inflow_yoy_change_3m=None if yoy is None or history < MIN_HISTORY_YOY_DAYS else yoy - 1.0,
        balance_latest=latest,
        cash_buffer_months_90d=_ratio(latest, paid[90] / 3.0),
        inflow_hhi_365d=_ratio(float((inflow * cp_total).sum()), received[365] ** 2),
        inflow_top1_share_365d=_ratio(float(cp_total.max()), received[365]),
        history_days=history,
    )
    return v


def _latest_balance(age: IntArray, balance: FloatArray, has_balance: BoolArray) -> float | None:
    """The balance after the last row of the newest day whose last row has one (`last()`, then `drop_nulls()`)."""
    order = np.argsort(age, kind="stable")  # newest day first, rows of a day in the order given
    by_age = age[order]
    last_of_day = np.ones(order.size, np.bool_)
    last_of_day[:-1] = by_age[1:] != by_age[:-1]
    candidates = order[last_of_day & has_balance[order]]
    return float(balance[candidates[0]]) if candidates.size else None


# ---- repayments at other lenders, invoices, utility bills --------------------------------------------------------


def _lateness(paid_in_full: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Days late (paid late, or still unpaid: days since due) and whether the row is past due and unpaid."""
    unpaid_past_due = ~paid_in_full & (_AGE_COL > 0)
    paid_days = (pl.col("paid_on") - pl.col("due_on")).dt.total_days()
    days_late = pl.when(paid_in_full).then(paid_days).otherwise(_AGE_COL).clip(lower_bound=0)
    return days_late.alias("_days_late"), unpaid_past_due.alias("_overdue")


def _lateness_one(rows: _Rows, paid_day: IntArray, paid_in_full: BoolArray) -> tuple[IntArray, BoolArray]:
    """`_lateness` over arrays (the due day is as_of minus the age)."""
    paid_days = paid_day - (rows.as_of_day - rows.age)
    days_late: IntArray = np.maximum(np.where(paid_in_full, paid_days, rows.age), 0)
    return days_late, ~paid_in_full & (rows.age > 0)


def _paid_by_as_of(rows: _Rows) -> tuple[IntArray, BoolArray, BoolArray]:
    """paid_on as `_prepare` leaves it (a payment after as_of is not made yet): day, unpaid, paid after as_of."""
    paid_day, unpaid = rows.dates("paid_on")
    later = ~unpaid & (paid_day > rows.as_of_day)
    return paid_day, unpaid | later, later


_REPAY_DAYS, _DUE_DAYS = 730, 90
_REPAY_ROWS = _lateness(pl.col("paid_on").is_not_null() & (pl.col("amount_paid") >= pl.col("amount_due")))
_IN_24M = _AGE_COL < _REPAY_DAYS
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
    _masked_sum(pl.col("amount_due"), _AGE_COL < _DUE_DAYS, "_due_90d"),
)


def _repayments(rows: pl.DataFrame) -> pl.DataFrame:
    return _per_borrower(rows.with_columns(_REPAY_ROWS), _REPAY_AGG)


def _repayments_one(rows: _Rows) -> _Values:
    age = rows.age
    if not age.size:
        return {}
    due = rows.floats("amount_due")
    paid_day, unpaid, later = _paid_by_as_of(rows)
    paid = np.where(later, 0.0, rows.floats("amount_paid"))
    days_late, overdue = _lateness_one(rows, paid_day, ~unpaid & (paid >= due))
    in_24m = age < _REPAY_DAYS
    due_24m = int(np.count_nonzero(in_24m))
    return {
        "installments_due_24m": due_24m,
        "late_share_24m": np.count_nonzero(days_late[in_24m] > 0) / due_24m if due_24m else None,
        "max_days_late_24m": int(days_late[in_24m].max()) if due_24m else None,
        "overdue_amount": float(np.where(overdue, due - paid, 0.0).sum()),
        "overdue_count": int(np.count_nonzero(overdue)),
        "lenders_24m": len(set(rows.texts("lender")[in_24m].tolist())),
        "_due_90d": _kept_sum(due, age < _DUE_DAYS),
    }


_INVOICE_DAYS, _HALF_YEAR = 365, 180
_VALID = pl.col("status") == InvoiceStatus.VALID.value
_SALES = (pl.col("direction") == InvoiceDirection.SALES.value) & _VALID
_PURCHASE = (pl.col("direction") == InvoiceDirection.PURCHASE.value) & _VALID
_IN_12M = _AGE_COL < _INVOICE_DAYS
_INVOICE_AGG = (
    _masked_sum(pl.col("amount"), _SALES & _IN_12M, "sales_invoice_amount_365d"),
    _masked_sum(pl.col("amount"), _SALES & (_AGE_COL < _HALF_YEAR), "_sales_6m"),
    _masked_sum(pl.col("amount"), _SALES & _AGE_COL.is_between(_HALF_YEAR, 2 * _HALF_YEAR - 1), "_sales_prev_6m"),
    _masked_sum(pl.col("amount"), _PURCHASE & _IN_12M, "_purchase_365d"),
    (~_VALID).filter(_IN_12M).mean().alias("invoice_void_red_share_365d"),
)
_INVOICE_DERIVED = (
    (_safe_ratio(pl.col("_sales_6m"), pl.col("_sales_prev_6m")) - 1.0).alias("sales_invoice_growth_6m"),
    _safe_ratio(pl.col("_purchase_365d"), pl.col("sales_invoice_amount_365d")).alias("purchase_to_sales_ratio_365d"),
)


def _invoices(rows: pl.DataFrame) -> pl.DataFrame:
    return _per_borrower(rows, _INVOICE_AGG).with_columns(_INVOICE_DERIVED)


def _invoices_one(rows: _Rows) -> _Values:
    age = rows.age
    if not age.size:
        return {}
    amount = rows.floats("amount")
    valid = rows.equals("status", InvoiceStatus.VALID.value)
    sales = rows.equals("direction", InvoiceDirection.SALES.value) & valid
    purchase = rows.equals("direction", InvoiceDirection.PURCHASE.value) & valid
    in_12m = age < _INVOICE_DAYS
    sales_365d = _kept_sum(amount, sales & in_12m)
    growth = _ratio(
        _kept_sum(amount, sales & (age < _HALF_YEAR)),
        _kept_sum(amount, sales & (age >= _HALF_YEAR) & (age <= 2 * _HALF_YEAR - 1)),
    )
    issued = int(np.count_nonzero(in_12m))
    return {
        "sales_invoice_amount_365d": sales_365d,
        "sales_invoice_growth_6m": None if growth is None else growth - 1.0,
        "invoice_void_red_share_365d": np.count_nonzero(~valid & in_12m) / issued if issued else None,
        "purchase_to_sales_ratio_365d": _ratio(_kept_sum(amount, purchase & in_12m), sales_365d),
    }


_UTILITY_ROWS = _lateness(pl.col("paid_on").is_not_null())
_UTILITY_AGG = (
    _IN_12M.sum().cast(pl.Int64).alias("utility_bills_365d"),
    (pl.col("_days_late") > 0).filter(_IN_12M).mean().alias("utility_late_share_365d"),
    pl.col("_days_late").filter(_IN_12M).max().cast(pl.Int64).alias("utility_max_days_late_365d"),
    pl.col("_overdue").sum().cast(pl.Int64).alias("utility_unpaid_count"),
)


def _utilities(rows: pl.DataFrame) -> pl.DataFrame:
    return _per_borrower(rows.with_columns(_UTILITY_ROWS), _UTILITY_AGG)


def _utilities_one(rows: _Rows) -> _Values:
    age = rows.age
    if not age.size:
        return {}
    paid_day, unpaid, _ = _paid_by_as_of(rows)
    days_late, overdue = _lateness_one(rows, paid_day, ~unpaid)
    in_12m = age < _INVOICE_DAYS
    bills = int(np.count_nonzero(in_12m))
    return {
        "utility_bills_365d": bills,
        "utility_late_share_365d": np.count_nonzero(days_late[in_12m] > 0) / bills if bills else None,
        "utility_max_days_late_365d": int(days_late[in_12m].max()) if bills else None,
        "utility_unpaid_count": int(np.count_nonzero(overdue)),
    }


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
    party = defaulted_parties["party_id"].cast(pl.String())
    if "defaulted_on" in defaulted_parties.schema:
        on = defaulted_parties["defaulted_on"]
        on = on.str.to_date("%Y-%m-%d") if on.dtype == pl.String() else on.cast(pl.Date())
        day = on.to_numpy()  # datetime64[D]: NaT (no date, so known) compares False
        party = party.filter(pl.Series(~(day > np.datetime64(as_of, "D"))))
    return party  # an id may repeat: only membership is asked


_FEW_DEFAULTS = 2_000  # up to this many known defaults, a Python set is quicker than a Polars is_in


def _defaulted_among(known: pl.Series | None, names: set[str]) -> set[str] | None:
    """Which of `names` are known defaults (None: no list of defaulted parties given)."""
    if known is None:
        return None
    if len(known) <= _FEW_DEFAULTS:
        return names.intersection(known.to_list())
    return set(known.filter(known.is_in(pl.Series(list(names), dtype=pl.String()).implode())).to_list())


def _network(relations: pl.DataFrame, defaults: pl.Series | None) -> pl.DataFrame:
    if defaults is None:
        return _per_borrower(relations, _NETWORK_AGG)
    marked = relations.with_columns(_OTHER.is_in(defaults.implode()).alias("_defaulted"))
    return _per_borrower(marked, (*_NETWORK_AGG, *_NEIGHBOUR_AGG))


def _network_one(parties: list[str], kinds: list[str], known: set[str] | None) -> _Values:
    """`_network` over the other parties and kinds of the borrower's relation rows."""
    if not parties:
        return {}
    distinct = set(parties)
    v: _Values = {"relation_degree": len(distinct)}
    for kind in RelationKind:
        v[f"degree_{kind.value}"] = len({p for p, k in zip(parties, kinds, strict=True) if k == kind.value})
    if known is not None:
        v["defaulted_neighbours"] = len(distinct & known)
        v["defaulted_neighbour_share"] = len(distinct & known) / len(distinct)
    return v


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


def _rings(edges: pl.DataFrame, defaults: pl.Series | None) -> pl.DataFrame:
    """Connected components of the identity graph: size in borrowers and whether a known defaulter is in it."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    names = pl.concat([edges["a"], edges["b"]])
    codes = (names.rank("dense") - 1).cast(pl.Int64).to_numpy()  # node numbers, hashed and sorted in Polars
    n_nodes, half = int(codes.max()) + 1, edges.height
    graph = coo_matrix((np.ones(half, dtype=np.int8), (codes[:half], codes[half:])), shape=(n_nodes, n_nodes))
    n_components, labels = connected_components(graph, directed=False)
    # a ring counts the borrowers that have rows of their own (the edges' "a" side): a scored borrower with
    # no relation or device row yet cannot be known from another's rows alone, so it is not counted in a
    # batch either (no look-ahead, and training equals serving)
    borrowers = edges["a"].implode()
    size = _count_per_component(codes, names.is_in(borrowers).to_numpy(), labels, n_components)
    component = labels[codes[:half]]
    has_defaulted: npt.NDArray[np.int64] | None = None
    if defaults is not None:
        defaulted = _count_per_component(codes, names.is_in(defaults.implode()).to_numpy(), labels, n_components)
        has_defaulted = (defaulted[component] > 0).astype(np.int64)
    frame = pl.DataFrame(
        {
            BORROWER_ID: edges["a"],
            "ring_component_size": size[component].astype(np.int64),
            "ring_has_defaulted": has_defaulted,
        },
        schema={BORROWER_ID: pl.String(), "ring_component_size": pl.Int64(), "ring_has_defaulted": pl.Int64()},
    )
    return frame.unique(BORROWER_ID)


def _count_per_component(
    codes: npt.NDArray[np.int64], flagged: npt.NDArray[np.bool_], labels: npt.NDArray[np.int32], n_components: int
) -> npt.NDArray[np.float64]:
    """How many distinct flagged nodes each component holds (a node appears once per edge end)."""
    node_flag = np.zeros(len(labels), dtype=np.float64)
    node_flag[codes[flagged]] = 1.0
    counts: npt.NDArray[np.float64] = np.bincount(labels, weights=node_flag, minlength=n_components).astype(np.float64)
    return counts


_IDENTITY_VALUES = frozenset(k.value for k in IDENTITY_KINDS)


def _ring_of(
    only: str, relations: tuple[list[str], list[str], list[str]] | None, devices: list[tuple[str, str]]
) -> tuple[set[str], int] | None:
    """`_rings` for one borrower: the nodes of its component (found from it, edge by edge) and how many of them are
    borrowers; None when it has no relation and no device row."""
    links: dict[str, list[str]] = {}
    borrowers: set[str] = set()  # the `a` side: whoever has a relation or device row
    if relations is not None:
        for a, b, kind in zip(*relations, strict=True):
            borrowers.add(a)
            if kind in _IDENTITY_VALUES:
                links.setdefault(a, []).append(b)
                links.setdefault(b, []).append(a)
    for a, device in devices:
        borrowers.add(a)
        node = DEVICE_NODE_PREFIX + device
        links.setdefault(a, []).append(node)
        links.setdefault(node, []).append(a)
    if only not in borrowers:
        return None
    component, frontier = {only}, [only]
    while frontier:
        reached = {b for a in frontier for b in links.get(a, ()) if b not in component}
        component |= reached
        frontier = list(reached)
    return component, sum(1 for node in component if node in borrowers)


# ---- devices -----------------------------------------------------------------------------------------------------

_IP_DAYS = 30
_RECENT_IP = (pl.col(AGE) < _IP_DAYS) & pl.col("ip_prefix").is_not_null()
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


def _devices(devices: pl.DataFrame) -> pl.DataFrame:
    # the sharing counts look at every borrower's rows given; only then narrow to the borrowers scored
    return _per_borrower(devices.with_columns(_DEVICE_ROWS), _DEVICE_AGG)


def _devices_one(only: str, rows: _Rows, borrower: list[str], device: list[str]) -> _Values:
    """`_devices` for one borrower, over every borrower's device rows given."""
    own = [i for i, b in enumerate(borrower) if b == only]
    if not own:
        return {}
    ip, age = rows.texts("ip_prefix", True).tolist(), rows.age.tolist()
    emulator, rooted = rows.flags("emulator"), rows.flags("rooted")
    on_device: dict[str, set[str]] = {}
    on_ip: dict[str, set[str]] = {}
    for b, d, p, a in zip(borrower, device, ip, age, strict=True):
        on_device.setdefault(d, set()).add(b)
        if p is not None and a < _IP_DAYS:
            on_ip.setdefault(p, set()).add(b)
    own_ips = [ip[i] for i in own if ip[i] is not None and age[i] < _IP_DAYS]
    return {
        "device_count": len({device[i] for i in own}),
        "device_emulator": int(bool(emulator[own].any())),
        "device_rooted": int(bool(rooted[own].any())),
        "device_shared_borrowers": max(len(on_device[device[i]]) for i in own) - 1,
        "ip_shared_borrowers_30d": max(len(on_ip[p]) for p in own_ips) - 1 if own_ips else None,
    }


# ---- the whole row -----------------------------------------------------------------------------------------------

_OUTPUT_CAST = {f.name: pl.col(f.name).cast(f.unit.dtype) for f in FEATURES}
_OUTPUT_SCHEMA = pl.Schema({BORROWER_ID: pl.String(), **{f.name: f.unit.dtype for f in FEATURES}})


def _output(schema: pl.Schema) -> list[pl.Expr]:
    """The catalogue's columns in order; a cast only where a column does not have its type yet."""
    return [pl.col(BORROWER_ID)] + [
        pl.col(f.name) if schema.get(f.name) == f.unit.dtype else _OUTPUT_CAST[f.name] for f in FEATURES
    ]


def build_features(data: AltData, as_of: date, defaulted_parties: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per borrower of `data.borrowers` (same order): `borrower_id` and every feature of FEATURES."""
    borrower_ids = data.borrowers[BORROWER_ID].cast(pl.String())
    only = borrower_ids[0] if len(borrower_ids) == 1 else None
    if isinstance(only, str):
        try:
            return _one_borrower(data, as_of, defaulted_parties, only)
        except _NotFast:
            pass  # rows the NumPy code does not take: the batch code below is the reference
    prepared = {source: _prepare(data.frame(source), source, as_of, only) for source in Source}
    defaults = _known_defaults(defaulted_parties, as_of)
    result = pl.DataFrame({BORROWER_ID: borrower_ids})
    for part in _group_frames(prepared, defaults, borrower_ids):
        result = result.join(part, on=BORROWER_ID, how="left", maintain_order="left")
    return result.with_columns(_missing(result.schema)).select(_output(result.schema))


_DEBT_TO_INFLOW = "debt_service_to_inflow_90d"


def _missing(schema: pl.Schema) -> list[pl.Expr]:
    """Null columns for the features whose source was not given; the one feature that needs two sources."""
    both = "_due_90d" in schema and "inflow_90d" in schema
    ratio = _safe_ratio(pl.col("_due_90d"), pl.col("inflow_90d")).alias(_DEBT_TO_INFLOW)
    fill = [pl.lit(None, f.unit.dtype).alias(f.name) for f in FEATURES if f.name not in schema]
    return [ratio, *(e for e in fill if e.meta.output_name() != _DEBT_TO_INFLOW)] if both else fill


def _group_frames(
    prepared: Mapping[Source, pl.DataFrame | None], defaults: pl.Series | None, borrower_ids: pl.Series
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
            parts.append(make(rows))
    relations, devices = prepared[Source.RELATIONS], prepared[Source.DEVICES]
    if relations is not None:
        parts.append(_network(relations, defaults))
    if relations is not None or devices is not None:
        parts.append(_rings(_identity_edges(relations, devices), defaults))
    return parts


def _one_borrower(data: AltData, as_of: date, defaulted_parties: pl.DataFrame | None, only: str) -> pl.DataFrame:
    """`build_features` for one borrower, over NumPy arrays; raises _NotFast for rows it leaves to the batch."""
    as_of_day = as_of.toordinal() - _EPOCH.toordinal()
    given = {s: _given_rows(frame, s, only) for s in Source if (frame := data.frame(s)) is not None}
    parsed = _parsed_texts(given)
    rows = {s: _Rows(frame, s, as_of_day, parsed) for s, frame in given.items()}
    v: _Values = {}
    makers = (
        (Source.TRANSACTIONS, _cashflow_one),
        (Source.REPAYMENTS, _repayments_one),
        (Source.TAX_INVOICES, _invoices_one),
        (Source.UTILITY_PAYMENTS, _utilities_one),
    )
    for source, make in makers:
        if source in rows:
            v.update(make(rows[source]))
    if "_due_90d" in v and "inflow_90d" in v:
        v[_DEBT_TO_INFLOW] = _ratio(v["_due_90d"], v["inflow_90d"])
    relations, devices = rows.get(Source.RELATIONS), rows.get(Source.DEVICES)
    links: tuple[list[str], list[str], list[str]] | None = None
    parties: list[str] = []
    kinds: list[str] = []
    if relations is not None:
        links = (relations.texts(BORROWER_ID).tolist(), relations.texts("other_party_id").tolist(),
                 relations.texts("kind").tolist())  # fmt: skip
        own = [i for i, b in enumerate(links[0]) if b == only]
        parties, kinds = [links[1][i] for i in own], [links[2][i] for i in own]
    device_rows: list[tuple[str, str]] = []
    if devices is not None:
        borrower, device = devices.texts(BORROWER_ID).tolist(), devices.texts("device_id").tolist()
        device_rows = list(zip(borrower, device, strict=True))
        v.update(_devices_one(only, devices, borrower, device))
    ring = _ring_of(only, links, device_rows)
    if links is not None or ring is not None:
        component, size = ring if ring is not None else (set(), None)
        known = _defaulted_among(_known_defaults(defaulted_parties, as_of), set(parties) | component)
        if links is not None:
            v.update(_network_one(parties, kinds, known))
        if size is not None:
            v["ring_component_size"] = size
            v["ring_has_defaulted"] = None if known is None else int(bool(component & known))
    return pl.from_dicts([{BORROWER_ID: only, **{f.name: v.get(f.name) for f in FEATURES}}], schema=_OUTPUT_SCHEMA)


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
