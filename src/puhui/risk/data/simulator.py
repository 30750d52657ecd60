"""A seeded simulator of micro and small enterprises, individual businesses (个体工商户) and individuals, with the
alternative data a lender sees about them and whether they default in the 12 months after the observation date.

Everything is drawn from one NumPy `SeedSequence` (one child stream per step, so a change in one step does not
reshuffle the others): the same seed gives the same frames, and the writer the same bytes.

The story behind the numbers:
- each borrower has a monthly income path: a size, a growth trend, the industry's seasons (retail peaks at the
  Spring Festival and Double 11, agriculture at harvest, construction stops over the festival), noise, and
  sometimes a shock (revenue collapses) that may start before or after the observation date;
- costs are partly fixed, so a collapse burns cash; debts at other lenders fall due every month; surplus cash is
  drawn out, so balances stay realistic;
- trading partners (customers, suppliers, employers) are shared between borrowers; when a partner fails, the
  borrower loses that revenue, and a failed partner is on the lender's list of known defaulted parties;
- payment habits (utility bills, installments) follow a latent discipline and the cash stress of the month;
- fraud rings share devices, phones and addresses, apply together and default on the first payment.

The default in 12 months is a latent process of the (partly future) cash gap, falling income, leverage,
discipline and the network, so cash-flow and network features tell the model much more than the application.
The training table is built with `puhui.risk.features.build_features`, the same code that runs at decision time.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind, LoanPurpose
from puhui.risk.data.schemas import (
    Channel,
    Direction,
    InvoiceDirection,
    InvoiceStatus,
    RelationKind,
    Source,
    Utility,
    columns,
)
from puhui.risk.features import BORROWER_ID, FEATURES, AltData, build_features

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DEFAULT_AS_OF = date(2026, 11, 30)
TARGET = "default_12m"
FUTURE_MONTHS = 12  # the label window after as_of
MAX_BORROWERS = 50_000  # about 300 KB of memory and 4 ms per borrower: larger books, several seeds
MONEY = pl.Decimal(14, 2)


class OutputFormat(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"


class Step(StrEnum):
    """The steps `simulate` reports, in order (the CLI's progress bar)."""

    POPULATION = "borrowers and their trading partners"
    CASH_PLAN = "monthly cash flows"
    REPAYMENTS = "loans at other lenders"
    TRANSACTIONS = "transactions"
    BILLS = "utility bills and invoices"
    LINKS = "relations, devices and fraud rings"
    LABELS = "defaults in the next 12 months"


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    borrowers: int
    seed: int = 7
    months: int = 24
    as_of: date = DEFAULT_AS_OF

    def __post_init__(self) -> None:
        if not 1 <= self.borrowers <= MAX_BORROWERS:
            raise ValueError(
                f"borrowers must be between 1 and {MAX_BORROWERS:,} (memory: about 300 KB each), not {self.borrowers}"
            )
        if not 1 <= self.months <= 120:
            raise ValueError(f"months must be between 1 and 120, not {self.months}")
        if self.seed < 0:
            raise ValueError(f"seed must be zero or positive, not {self.seed}")


@dataclass(frozen=True, slots=True)
class Simulation:
    config: SimulationConfig
    applications: pl.DataFrame  # borrowers.csv: what a lender knows without alternative data
    data: AltData  # the alternative data, one frame per source, as observed at as_of
    defaulted_parties: pl.DataFrame  # party_id, defaulted_on: defaults known on or before as_of
    labels: pl.DataFrame  # borrower_id, default_12m


# ---- the application and bureau fields (borrowers.csv) -----------------------------------------------------------

APPLICATION_FIELDS: dict[str, tuple[str, str]] = {
    "kind": ("借款人类型", "kind of borrower: individual, individual business or enterprise"),
    "region": ("所在省份", "province"),
    "industry": ("行业", "industry (of the employer, for individuals)"),
    "age": ("年龄(个人或经营者)", "age of the individual or the owner"),
    "years_in_business": ("经营年限", "years in business"),
    "staff_count": ("员工人数", "staff"),
    "declared_annual_revenue": ("申报年收入(元)", "declared annual revenue or income (yuan)"),
    "requested_amount": ("申请金额(元)", "amount applied for (yuan)"),
    "requested_term_months": ("申请期限(月)", "term applied for (months)"),
    "loan_purpose": ("借款用途", "purpose of the loan"),
    "bureau_inquiries_6m": ("近6个月征信查询次数", "credit bureau inquiries, last 6 months"),
    "bureau_open_loans": ("征信未结清贷款数", "open loans on the credit report"),
    "bureau_max_dpd_24m": ("征信近24个月最高逾期天数", "worst days past due on the credit report, 24 months"),
    "has_mortgage": ("有房贷", "has a mortgage"),
}


def feature_labels(training_columns: Sequence[str]) -> dict[str, dict[str, str]]:
    """{"column": {"zh", "en"}} for every training column but the id and the target (the model's reason codes)."""
    known = {name: {"zh": zh, "en": en} for name, (zh, en) in APPLICATION_FIELDS.items()}
    known.update({f.name: {"zh": f.zh, "en": f.en} for f in FEATURES})
    return {c: known[c] for c in training_columns if c not in (BORROWER_ID, TARGET)}


# ---- tables the story is drawn from ------------------------------------------------------------------------------

KINDS = (BorrowerKind.INDIVIDUAL, BorrowerKind.INDIVIDUAL_BUSINESS, BorrowerKind.ENTERPRISE)
KIND_SHARES = (0.38, 0.40, 0.22)


class K(IntEnum):
    """Kind codes of the arrays (the index into KINDS)."""

    INDIVIDUAL = 0
    INDIVIDUAL_BUSINESS = 1
    ENTERPRISE = 2


SECTORS = tuple(Sector)
_S = {s: i for i, s in enumerate(SECTORS)}
# sector shares per kind (individuals: the employer's); missing sectors have share 0
SECTOR_SHARES: dict[K, dict[Sector, float]] = {
    K.INDIVIDUAL: {
        Sector.INDUSTRY: 18, Sector.RETAIL: 11, Sector.CATERING: 8, Sector.CONSTRUCTION: 8, Sector.TRANSPORT: 7,
        Sector.ICT: 5, Sector.SOFTWARE: 4, Sector.WHOLESALE: 5, Sector.ACCOMMODATION: 4, Sector.REAL_ESTATE: 3,
        Sector.PROPERTY_MANAGEMENT: 4, Sector.LEASING_BUSINESS_SERVICES: 6, Sector.AGRICULTURE: 6,
        Sector.WAREHOUSING: 3, Sector.POSTAL: 3, Sector.OTHER: 5,
    },
    K.INDIVIDUAL_BUSINESS: {
        Sector.RETAIL: 30, Sector.CATERING: 18, Sector.AGRICULTURE: 12, Sector.WHOLESALE: 8, Sector.TRANSPORT: 8,
        Sector.ACCOMMODATION: 5, Sector.CONSTRUCTION: 4, Sector.LEASING_BUSINESS_SERVICES: 5, Sector.INDUSTRY: 3,
        Sector.PROPERTY_MANAGEMENT: 1, Sector.WAREHOUSING: 1, Sector.OTHER: 5,
    },
    K.ENTERPRISE: {
        Sector.INDUSTRY: 22, Sector.WHOLESALE: 15, Sector.CONSTRUCTION: 10, Sector.RETAIL: 8, Sector.TRANSPORT: 6,
        Sector.WAREHOUSING: 4, Sector.SOFTWARE: 8, Sector.ICT: 5, Sector.LEASING_BUSINESS_SERVICES: 8,
        Sector.AGRICULTURE: 5, Sector.CATERING: 3, Sector.ACCOMMODATION: 2, Sector.REAL_ESTATE: 2,
        Sector.PROPERTY_MANAGEMENT: 2,
    },
}  # fmt: skip

REGIONS = (
    "guangdong", "zhejiang", "jiangsu", "shandong", "henan", "sichuan", "hebei", "hubei", "fujian", "hunan",
    "anhui", "yunnan",
)  # fmt: skip
REGION_SHARES = (14, 12, 11, 10, 9, 8, 7, 7, 6, 6, 5, 5)

# month multipliers Jan..Dec of each sector's sales; the festival and shopping events come on top
SEASON: dict[Sector, tuple[float, ...]] = {
    Sector.RETAIL: (1.05, 1.0, 0.9, 0.9, 0.95, 1.0, 0.95, 0.9, 0.95, 1.0, 1.2, 1.15),
    Sector.WHOLESALE: (1.1, 0.8, 0.95, 0.95, 1.0, 1.0, 0.95, 0.95, 1.05, 1.1, 1.15, 1.2),
    Sector.CATERING: (1.1, 1.1, 0.9, 0.95, 1.0, 0.95, 1.0, 1.0, 0.95, 1.05, 0.95, 1.05),
    Sector.ACCOMMODATION: (0.8, 0.9, 0.85, 0.95, 1.15, 1.0, 1.35, 1.4, 1.0, 1.2, 0.8, 0.8),
    Sector.AGRICULTURE: (0.6, 0.5, 0.6, 0.8, 1.0, 1.4, 1.0, 0.9, 1.6, 1.9, 1.3, 0.8),  # summer and autumn harvest
    Sector.CONSTRUCTION: (0.8, 0.5, 1.0, 1.15, 1.2, 1.15, 0.9, 0.9, 1.1, 1.15, 1.2, 1.3),
    Sector.INDUSTRY: (1.0, 0.75, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95, 1.05, 1.05, 1.1, 1.2),
    Sector.TRANSPORT: (1.0, 0.7, 0.95, 0.95, 1.0, 1.0, 0.95, 0.95, 1.0, 1.05, 1.35, 1.25),
    Sector.WAREHOUSING: (1.0, 0.7, 0.95, 0.95, 1.0, 1.0, 0.95, 0.95, 1.0, 1.05, 1.35, 1.25),
    Sector.POSTAL: (1.0, 0.7, 0.9, 0.9, 0.95, 1.1, 0.95, 0.9, 0.95, 1.0, 1.5, 1.3),
    Sector.ICT: (0.9, 0.8, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95, 1.0, 1.0, 1.05, 1.4),
    Sector.SOFTWARE: (0.85, 0.8, 1.0, 1.0, 1.0, 1.05, 0.95, 0.95, 1.0, 1.0, 1.05, 1.45),  # year-end contracts
    Sector.REAL_ESTATE: (0.9, 0.7, 1.0, 1.05, 1.1, 1.05, 0.95, 0.95, 1.1, 1.1, 1.0, 1.05),
    Sector.PROPERTY_MANAGEMENT: (1.3, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.95),
    Sector.LEASING_BUSINESS_SERVICES: (0.95, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.15),
    Sector.OTHER: (1.0, 0.85, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1),
}
CONSUMER_SECTORS = frozenset({Sector.RETAIL, Sector.CATERING, Sector.ACCOMMODATION})
# share of sales paid by named business customers (the rest: walk-in consumers through POS, Alipay, WeChat)
B2B_SHARE: dict[Sector, float] = {
    Sector.RETAIL: 0.1, Sector.CATERING: 0.05, Sector.ACCOMMODATION: 0.15, Sector.AGRICULTURE: 0.7,
    Sector.WHOLESALE: 0.8, Sector.INDUSTRY: 0.95, Sector.CONSTRUCTION: 0.95, Sector.TRANSPORT: 0.8,
    Sector.WAREHOUSING: 0.9, Sector.POSTAL: 0.5, Sector.ICT: 0.9, Sector.SOFTWARE: 0.95, Sector.REAL_ESTATE: 0.6,
    Sector.PROPERTY_MANAGEMENT: 0.9, Sector.LEASING_BUSINESS_SERVICES: 0.9, Sector.OTHER: 0.5,
}  # fmt: skip
# VAT rate on the invoices of a general taxpayer of the sector (small-scale taxpayers: 1 % or 3 %)
VAT_RATE: dict[Sector, float] = {
    Sector.AGRICULTURE: 0.09, Sector.INDUSTRY: 0.13, Sector.CONSTRUCTION: 0.09, Sector.WHOLESALE: 0.13,
    Sector.RETAIL: 0.13, Sector.TRANSPORT: 0.09, Sector.WAREHOUSING: 0.06, Sector.POSTAL: 0.09,
    Sector.ACCOMMODATION: 0.06, Sector.CATERING: 0.06, Sector.ICT: 0.06, Sector.SOFTWARE: 0.06,
    Sector.REAL_ESTATE: 0.09, Sector.PROPERTY_MANAGEMENT: 0.06, Sector.LEASING_BUSINESS_SERVICES: 0.06,
    Sector.OTHER: 0.06,
}  # fmt: skip
# variable cost (purchases) per yuan of sales, low and high
VARIABLE_COST: dict[Sector, tuple[float, float]] = {
    Sector.RETAIL: (0.65, 0.8), Sector.WHOLESALE: (0.75, 0.88), Sector.CATERING: (0.35, 0.5),
    Sector.ACCOMMODATION: (0.25, 0.4), Sector.AGRICULTURE: (0.45, 0.65), Sector.CONSTRUCTION: (0.55, 0.75),
    Sector.INDUSTRY: (0.55, 0.75), Sector.TRANSPORT: (0.4, 0.6), Sector.WAREHOUSING: (0.3, 0.5),
    Sector.POSTAL: (0.3, 0.5), Sector.ICT: (0.3, 0.5), Sector.SOFTWARE: (0.15, 0.3), Sector.REAL_ESTATE: (0.4, 0.6),
    Sector.PROPERTY_MANAGEMENT: (0.3, 0.45), Sector.LEASING_BUSINESS_SERVICES: (0.3, 0.5), Sector.OTHER: (0.4, 0.6),
}  # fmt: skip

# Spring Festival (春节) dates: the lunar new year moves between Jan 21 and Feb 20
SPRING_FESTIVAL: dict[int, date] = {
    y: date.fromisoformat(d)
    for y, d in (
        (2015, "2015-02-19"), (2016, "2016-02-08"), (2017, "2017-01-28"), (2018, "2018-02-16"),
        (2019, "2019-02-05"), (2020, "2020-01-25"), (2021, "2021-02-12"), (2022, "2022-02-01"),
        (2023, "2023-01-22"), (2024, "2024-02-10"), (2025, "2025-01-29"), (2026, "2026-02-17"),
        (2027, "2027-02-06"), (2028, "2028-01-26"), (2029, "2029-02-13"), (2030, "2030-02-03"),
        (2031, "2031-01-23"), (2032, "2032-02-11"), (2033, "2033-01-31"), (2034, "2034-02-19"),
        (2035, "2035-02-08"), (2036, "2036-01-28"), (2037, "2037-02-15"),
    )
}  # fmt: skip

N_LENDERS = 14
BUREAU_LENDERS = 9  # lenders 0..8 report to the credit bureau; online lenders 9..13 do not
PLATFORMS = ("PLAT-meituan", "PLAT-eleme", "PLAT-didi", "PLAT-sf", "PLAT-jd")  # gig-work platforms paying weekly
OS_NAMES = ("android 14", "android 13", "android 12", "ios 18", "ios 17", "harmonyos 4")


# ---- randomness, calendar ----------------------------------------------------------------------------------------


def _streams(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


@dataclass(frozen=True, slots=True)
class _Calendar:
    """Days from the first observed day to the end of the label window; months are calendar months."""

    first_day: date
    as_of: date
    day_dates: npt.NDArray[np.datetime64]  # every day, history and future
    day_month: IntArray  # plan month of each day (0 = the month of first_day)
    n_history_days: int
    n_history_months: int  # months with at least one observed day (the last may be partial)
    n_months: int  # history + FUTURE_MONTHS
    month_first: IntArray  # first day index of each plan month (within day_dates)
    month_last: IntArray  # last day index of each plan month, history months clipped at as_of
    month_of_year: IntArray  # 1..12 of each plan month

    def date_of(self, day: IntArray) -> npt.NDArray[np.datetime64]:
        return np.datetime64(self.first_day, "D") + day.astype("timedelta64[D]")

    def day_in_month(self, month: IntArray, day_of_month: IntArray) -> IntArray:
        """Day index of a day of the month, clipped to the month's end (the 31st in February is the 28th/29th);
        negative when it falls before the first observed day."""
        calendar_month = self.day_dates[self.month_first[month]].astype("datetime64[M]")
        month_start = calendar_month.astype("datetime64[D]")
        length = ((calendar_month + 1).astype("datetime64[D]") - month_start).astype(np.int64)
        day = month_start + (np.minimum(day_of_month, length) - 1).astype("timedelta64[D]")
        result: IntArray = (day - np.datetime64(self.first_day, "D")).astype(np.int64)
        return result


def _calendar(config: SimulationConfig) -> _Calendar:
    first = _add_months(config.as_of, -config.months) + timedelta(days=1)
    end = _add_months(date(config.as_of.year, config.as_of.month, 1), FUTURE_MONTHS + 1) - timedelta(days=1)
    days = np.arange(np.datetime64(first, "D"), np.datetime64(end, "D") + 1)
    months_since_epoch = days.astype("datetime64[M]").astype(np.int64)
    day_month = (months_since_epoch - months_since_epoch[0]).astype(np.int64)
    n_months = int(day_month[-1]) + 1
    n_history_days = (config.as_of - first).days + 1
    index = np.arange(len(days), dtype=np.int64)
    month_first = np.full(n_months, len(days), dtype=np.int64)
    np.minimum.at(month_first, day_month, index)
    month_last = np.zeros(n_months, dtype=np.int64)
    np.maximum.at(month_last, day_month, index)
    n_history_months = int(day_month[n_history_days - 1]) + 1
    month_last[n_history_months - 1] = n_history_days - 1
    month_of_year = ((months_since_epoch[month_first] % 12) + 1).astype(np.int64)
    return _Calendar(
        first,
        config.as_of,
        days,
        day_month,
        n_history_days,
        n_history_months,
        n_months,
        month_first,
        month_last,
        month_of_year,
    )


def _event_factor(cal: _Calendar, sector: Sector | None) -> FloatArray:
    """Day multipliers of the festival and shopping events for a sector (None: consumer spending)."""
    factor = np.ones(len(cal.day_dates))
    day = cal.day_dates
    last_year = int(day[-1].astype("datetime64[Y]").astype(np.int64)) + 1970
    years = range(cal.first_day.year - 1, last_year + 2)
    for year in years:
        festival = np.datetime64(SPRING_FESTIVAL.get(year, date(year, 2, 5)), "D")
        offset = (day - festival).astype(np.int64)
        before, week = (offset >= -21) & (offset < 0), (offset >= 0) & (offset < 7)
        _festival(factor, sector, offset, before, week)
    month_day = (day - day.astype("datetime64[M]")).astype(np.int64) + 1
    month = day.astype("datetime64[M]").astype(np.int64) % 12 + 1
    double_11 = (month == 11) & (month_day <= 11)
    mid_year_618 = (month == 6) & (month_day <= 18)
    golden_week = (month == 10) & (month_day <= 7)
    if sector is None or sector is Sector.RETAIL:
        factor[double_11] *= 1.6
        factor[mid_year_618] *= 1.25
    if sector in (Sector.POSTAL, Sector.TRANSPORT, Sector.WAREHOUSING):
        factor[double_11] *= 1.3  # parcels of Double 11
    if sector is Sector.ACCOMMODATION:
        factor[golden_week] *= 1.8
    return factor


def _festival(factor: FloatArray, sector: Sector | None, offset: IntArray, before: BoolArray, week: BoolArray) -> None:
    if sector is None or sector is Sector.RETAIL:
        factor[before] *= 1.5  # new-year shopping
        factor[week] *= 0.5 if sector is Sector.RETAIL else 1.0
    elif sector is Sector.CATERING:
        factor[before] *= 1.4
        factor[week] *= 1.2  # reunion dinners
    elif sector is Sector.ACCOMMODATION:
        factor[week] *= 1.3
    elif sector is Sector.WHOLESALE:
        factor[(offset >= -45) & (offset < -10)] *= 1.4  # shops stock up for the festival
        factor[week] *= 0.4
    elif sector is Sector.CONSTRUCTION:
        factor[(offset >= -14) & (offset < 21)] *= 0.35  # workers go home
    elif sector is not Sector.AGRICULTURE:
        factor[(offset >= -7) & (offset < 10)] *= 0.5


def _weekday_factor(cal: _Calendar, sector: Sector | None) -> FloatArray:
    weekday = (cal.day_dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    weekend = weekday >= 5
    if sector is None or sector in CONSUMER_SECTORS:
        return np.where(weekend, 1.3, 1.0)
    if sector is Sector.AGRICULTURE:
        return np.ones(len(weekday))
    return np.where(weekend, 0.25, 1.0)  # businesses pay each other on working days


@dataclass(frozen=True, slots=True)
class _Profiles:
    """Activity per day of each sector's sales, of consumer spending and of business-to-business payments."""

    cumulative: FloatArray  # (n_profiles, n_days + 1): running sum of the day weights, with a 0 in front
    month_level: FloatArray  # (n_profiles, n_months): mean activity of each month, for the cash plan

    @staticmethod
    def spending() -> int:
        return len(SECTORS)

    @staticmethod
    def b2b() -> int:
        return len(SECTORS) + 1


def _profiles(cal: _Calendar) -> _Profiles:
    rows: list[FloatArray] = []
    month_of_day = cal.month_of_year[cal.day_month] - 1
    for sector in SECTORS:
        season = np.asarray(SEASON[sector])[month_of_day]
        rows.append(season * _event_factor(cal, sector) * _weekday_factor(cal, sector))
    rows.append(_event_factor(cal, None) * _weekday_factor(cal, None))
    rows.append(_weekday_factor(cal, Sector.INDUSTRY))
    weight = np.vstack(rows)
    cumulative = np.concatenate([np.zeros((len(rows), 1)), np.cumsum(weight, axis=1)], axis=1)
    totals = np.zeros((len(rows), cal.n_months))
    for p in range(len(rows)):
        totals[p] = np.bincount(cal.day_month, weights=weight[p], minlength=cal.n_months)
    days_per_month = np.bincount(cal.day_month, minlength=cal.n_months)
    month_level = totals / days_per_month
    return _Profiles(cumulative, month_level / month_level.mean(axis=1, keepdims=True))


# ---- the borrowers -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Population:
    n: int
    ids: pl.Series
    kind: IntArray
    sector: IntArray
    region: IntArray
    age: IntArray
    years_in_business: FloatArray  # nan for individuals
    staff: IntArray  # 0 for individuals
    base_monthly: FloatArray  # typical monthly income or sales (yuan)
    growth: FloatArray  # a year
    sigma: FloatArray  # month-to-month noise of income
    shock_month: FloatArray  # plan month the collapse begins (inf: none)
    shock_severity: FloatArray
    discipline: FloatArray  # latent payment habit; higher pays on time
    ring: IntArray  # fraud ring number, -1 for none
    gig: BoolArray  # individuals paid by platforms instead of an employer
    first_month: IntArray  # plan month the account (or business) starts
    has_mortgage: BoolArray
    consent_transactions: BoolArray
    consent_invoices: BoolArray
    consent_relations: BoolArray
    balance_provided: BoolArray  # some data providers give no balance_after

    @property
    def is_business(self) -> BoolArray:
        result: BoolArray = self.kind != K.INDIVIDUAL
        return result


def _choice(rng: np.random.Generator, n: int, weights: Sequence[float]) -> IntArray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int64)


def _population(rng: np.random.Generator, config: SimulationConfig, cal: _Calendar) -> _Population:
    n = config.borrowers
    width = max(6, len(str(n)))
    ids = pl.Series(BORROWER_ID, [f"B{i + 1:0{width}d}" for i in range(n)], dtype=pl.String())
    ring = _rings(rng, n)
    in_ring = ring >= 0
    kind = _choice(rng, n, KIND_SHARES)
    # ring members are mostly individuals and small shops: identities are cheap to fake there
    kind[in_ring] = _choice(rng, int(in_ring.sum()), (0.5, 0.4, 0.1))
    sector = np.zeros(n, dtype=np.int64)
    for k in K:
        mask = kind == k
        shares = [SECTOR_SHARES[k].get(s, 0.0) for s in SECTORS]
        sector[mask] = _choice(rng, int(mask.sum()), shares)
    region = _choice(rng, n, REGION_SHARES)
    _cluster_rings(rng, ring, region, sector)
    age = np.clip(rng.normal(np.select([kind == 0, kind == 1], [35.0, 42.0], 45.0), 9.0), 20, 65)
    age[in_ring] = rng.integers(22, 46, int(in_ring.sum()))
    years = np.where(kind == 0, np.nan, np.minimum(rng.exponential(np.where(kind == 1, 6.0, 8.0)), 30.0))
    years[in_ring & (kind != 0)] = rng.uniform(0.2, 3.0, int((in_ring & (kind != 0)).sum()))
    staff = np.select(
        [kind == 1, kind == 2],
        [1 + rng.poisson(1.5, n), np.clip(np.exp(rng.normal(np.log(18.0), 0.8, n)), 2, 290)],
        0,
    ).astype(np.int64)
    base = _base_income(rng, kind, staff)
    discipline = 0.25 * (age - 40.0) / 10.0 + rng.normal(0.0, 0.97, n)
    discipline[in_ring] -= 1.0
    shock_month, severity = _shocks(rng, n, cal)
    first_month = _first_month(rng, years, in_ring, cal)
    return _Population(
        n=n, ids=ids, kind=kind, sector=sector, region=region, age=age.round().astype(np.int64),
        years_in_business=np.round(years, 1).astype(np.float64), staff=staff, base_monthly=base,
        growth=rng.normal(0.05, 0.15, n), sigma=_income_noise(rng, kind),
        shock_month=shock_month, shock_severity=severity, discipline=discipline, ring=ring,
        gig=(kind == 0) & (rng.random(n) < 0.22),
        first_month=first_month, has_mortgage=_mortgage(rng, kind, age, base, in_ring),
        **_consents(rng, kind, in_ring, discipline),
    )  # fmt: skip


def _rings(rng: np.random.Generator, n: int) -> IntArray:
    """About 3 % of applicants belong to fraud rings of 3 to 10 members."""
    ring = np.full(n, -1, dtype=np.int64)
    target = round(0.03 * n)
    sizes: list[int] = []
    while sum(sizes) < target:
        sizes.append(int(rng.integers(3, 11)))
    if sum(sizes) > n:
        return ring
    members = rng.permutation(n)[: sum(sizes)]
    ring[members] = np.repeat(np.arange(len(sizes)), sizes)
    return ring


def _cluster_rings(rng: np.random.Generator, ring: IntArray, region: IntArray, sector: IntArray) -> None:
    """A ring works from one place and tends to claim one line of trade."""
    for r in range(int(ring.max()) + 1):
        members = np.flatnonzero(ring == r)
        region[members] = region[members[0]]
        same_trade = rng.random(len(members)) < 0.6
        sector[members[same_trade]] = sector[members[0]]


def _base_income(rng: np.random.Generator, kind: IntArray, staff: IntArray) -> FloatArray:
    individual = np.exp(rng.normal(np.log(7000.0), 0.5, len(kind)))
    shop = np.exp(rng.normal(np.log(45000.0), 0.8, len(kind)))
    firm = 30000.0 * staff * np.exp(rng.normal(0.0, 0.6, len(kind)))
    result: FloatArray = np.select([kind == 0, kind == 1], [individual, shop], firm)
    return result


def _income_noise(rng: np.random.Generator, kind: IntArray) -> FloatArray:
    low = np.select([kind == 0, kind == 1], [0.04, 0.10], 0.12)
    high = np.select([kind == 0, kind == 1], [0.15, 0.35], 0.45)
    result: FloatArray = rng.uniform(low, high)
    return result


def _shocks(rng: np.random.Generator, n: int, cal: _Calendar) -> tuple[FloatArray, FloatArray]:
    """A sixth of borrowers lose a large part of their income, starting in the last 14 months or the next 8."""
    hit = rng.random(n) < 0.17
    start = rng.integers(max(cal.n_history_months - 14, 0), cal.n_history_months + 8, n).astype(np.float64)
    return np.where(hit, start, np.inf), np.where(hit, rng.uniform(0.35, 0.85, n), 0.0)


def _first_month(rng: np.random.Generator, years: FloatArray, in_ring: BoolArray, cal: _Calendar) -> IntArray:
    months_in_business = np.where(np.isnan(years), 1e9, years * 12.0)
    start = np.maximum(cal.n_history_months - months_in_business, 0.0).astype(np.int64)
    # ring identities are fresh: their accounts start a few months before they apply
    start[in_ring] = cal.n_history_months - rng.integers(2, 9, int(in_ring.sum()))
    result: IntArray = np.clip(start, 0, cal.n_history_months - 1)
    return result


def _mortgage(
    rng: np.random.Generator, kind: IntArray, age: FloatArray, base: FloatArray, in_ring: BoolArray
) -> BoolArray:
    income = np.log(np.where(kind == 0, base, base * 0.12))
    p = 1.0 / (1.0 + np.exp(-(-1.2 + 0.05 * (age - 35.0) + 0.5 * (income - np.log(7000.0)))))
    result: BoolArray = (rng.random(len(kind)) < p) & ~in_ring
    return result


def _consents(
    rng: np.random.Generator, kind: IntArray, in_ring: BoolArray, discipline: FloatArray
) -> dict[str, BoolArray]:
    n = len(kind)
    # a little adverse selection: the less disciplined share their data a little less often
    share_tx = 1.0 / (1.0 + np.exp(-(2.0 + 0.3 * discipline + 0.3 * (kind != 0))))
    invoicing = np.select([kind == 1, kind == 2], [0.45, 0.9], 0.0)
    return {
        "consent_transactions": rng.random(n) < share_tx,
        "consent_invoices": rng.random(n) < invoicing,
        "consent_relations": rng.random(n) < np.where(in_ring, 0.9, 0.85),
        "balance_provided": rng.random(n) < 0.9,
    }


# ---- trading partners --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Parties:
    """Everyone a borrower deals with. Party codes: external firms 0..n_external-1, then borrowers, then platforms."""

    names: pl.Series  # party code -> id
    n_external: int
    external_failed_day: IntArray  # day index a firm failed (a large number: never)
    customers: IntArray  # (n, slots) party codes, -1 unused
    customer_weight: FloatArray  # (n, slots), rows sum to 1 where used
    suppliers: IntArray
    supplier_weight: FloatArray
    employer: IntArray  # party code of an individual's employer or platform, -1 none
    popularity: FloatArray  # of external firms, for new customers that replace failed ones

    def borrower_code(self, borrower: IntArray) -> IntArray:
        result: IntArray = borrower + self.n_external
        return result


NEVER = 1 << 40


def _parties(rng: np.random.Generator, pop: _Population, cal: _Calendar) -> _Parties:
    n_external = max(60, pop.n)
    width = max(6, len(str(n_external)))
    names = pl.concat(
        [
            pl.Series([f"C{j + 1:0{width}d}" for j in range(n_external)], dtype=pl.String()),
            pop.ids,
            pl.Series(PLATFORMS, dtype=pl.String()),
        ]
    ).alias("party_id")
    popularity = rng.pareto(1.6, n_external) + 0.05  # a few big buyers and suppliers trade with many borrowers
    popularity /= popularity.sum()
    # small firms fail, the big hubs (top 5 %) do not: one hub's failure would hit half the book at once
    failed = (rng.random(n_external) < 0.07) & (popularity < np.quantile(popularity, 0.95))
    failed_day = np.where(failed, rng.integers(0, cal.n_history_days, n_external), NEVER)
    customers, customer_weight = _partners(rng, pop, n_external, popularity, (3.0, 6.0), sell=True)
    suppliers, supplier_weight = _partners(rng, pop, n_external, popularity, (2.0, 4.0), sell=False)
    employer = _employers(rng, pop, n_external, popularity)
    return _Parties(
        names,
        n_external,
        failed_day.astype(np.int64),
        customers,
        customer_weight,
        suppliers,
        supplier_weight,
        employer,
        popularity,
    )


def _partners(
    rng: np.random.Generator,
    pop: _Population,
    n_external: int,
    popularity: FloatArray,
    mean_count: tuple[float, float],
    sell: bool,
) -> tuple[IntArray, FloatArray]:
    slots = 12
    count = np.select(
        [pop.kind == 1, pop.kind == 2], [1 + rng.poisson(mean_count[0], pop.n), 1 + rng.poisson(mean_count[1], pop.n)]
    )
    count = np.minimum(count, slots)
    external = rng.choice(n_external, size=(pop.n, slots), p=popularity)
    businesses = np.flatnonzero(pop.is_business)
    other_borrower = n_external + rng.choice(businesses, size=(pop.n, slots)) if len(businesses) else external
    # one slot in six is another applicant: the supply chains that carry contagion between borrowers
    chosen = np.where(rng.random((pop.n, slots)) < 0.17, other_borrower, external)
    ring_member = pop.ring >= 0
    if sell and ring_member.any():
        chosen[ring_member] = _ring_partners(rng, pop, n_external, slots)[ring_member]
    used = np.arange(slots)[None, :] < count[:, None]
    self_code = n_external + np.arange(pop.n)
    used &= chosen != self_code[:, None]
    weight = np.where(used, rng.pareto(1.0, (pop.n, slots)) + 0.1, 0.0)
    total = weight.sum(axis=1, keepdims=True)
    return np.where(used, chosen, -1).astype(np.int64), np.divide(
        weight, total, out=np.zeros_like(weight), where=total > 0
    )


def _ring_partners(rng: np.random.Generator, pop: _Population, n_external: int, slots: int) -> IntArray:
    """Ring members 'sell' to each other: round-tripped money that makes a thin file look busy."""
    partners = np.zeros((pop.n, slots), dtype=np.int64)
    for r in range(int(pop.ring.max()) + 1):
        members = np.flatnonzero(pop.ring == r)
        partners[members] = n_external + rng.choice(members, size=(len(members), slots))
    return partners


def _employers(rng: np.random.Generator, pop: _Population, n_external: int, popularity: FloatArray) -> IntArray:
    enterprises = np.flatnonzero(pop.kind == K.ENTERPRISE)
    external = rng.choice(n_external, size=pop.n, p=popularity)
    applicant = n_external + rng.choice(enterprises, size=pop.n) if len(enterprises) else external
    employer = np.where(rng.random(pop.n) < 0.15, applicant, external)
    platform = n_external + pop.n + rng.integers(0, len(PLATFORMS), pop.n)
    employer = np.where(pop.gig, platform, employer)
    return np.where(pop.kind == K.INDIVIDUAL, employer, -1).astype(np.int64)


# ---- loans at other lenders --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Loans:
    borrower: IntArray
    lender: IntArray
    start_month: IntArray  # plan month of disbursement (may be before the history)
    term_months: IntArray
    installment: FloatArray
    due_day: IntArray  # day of month


def _loans(rng: np.random.Generator, pop: _Population, cal: _Calendar) -> _Loans:
    # the less disciplined borrow more; ring identities have thin files
    rate = np.select([pop.kind == 0, pop.kind == 1], [0.8, 1.0], 1.3) * np.exp(-0.25 * pop.discipline)
    count = rng.poisson(np.where(pop.ring >= 0, 0.3, rate))
    borrower = np.repeat(np.arange(pop.n), count)
    n = len(borrower)
    term = rng.choice(np.array([6, 12, 24, 36]), size=n, p=[0.1, 0.4, 0.3, 0.2]).astype(np.int64)
    multiple = np.select(
        [pop.kind[borrower] == 0, pop.kind[borrower] == 1], [rng.uniform(1.0, 5.0, n), rng.uniform(0.5, 3.0, n)],
        rng.uniform(0.3, 2.0, n),
    )  # fmt: skip
    principal = multiple * pop.base_monthly[borrower]
    rate_monthly = rng.uniform(0.06, 0.24, n) / 12.0
    installment = principal * rate_monthly / (1.0 - (1.0 + rate_monthly) ** (-term))
    start = rng.integers(-term + 1, cal.n_history_months, n)
    lender = np.where(
        rng.random(n) < 0.7, rng.integers(0, BUREAU_LENDERS, n), rng.integers(BUREAU_LENDERS, N_LENDERS, n)
    )
    return _Loans(borrower, lender.astype(np.int64), start.astype(np.int64), term, installment, rng.integers(1, 29, n))


def _debt_service(loans: _Loans, n: int, cal: _Calendar) -> FloatArray:
    """Installments due per borrower and plan month (history and future)."""
    service = np.zeros((n, cal.n_months))
    for k in range(int(loans.term_months.max(initial=0))):
        month = loans.start_month + 1 + k
        live = (k < loans.term_months) & (month >= 0) & (month < cal.n_months)
        np.add.at(service, (loans.borrower[live], month[live]), loans.installment[live])
    return service


# ---- the monthly cash plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    """Per borrower and plan month: what comes in, what goes out, and the balance at the month end."""

    inflow: FloatArray
    variable: FloatArray  # purchases, or an individual's spending
    fixed: FloatArray  # rent, payroll, mortgage
    debt: FloatArray  # installments due at other lenders
    draws: FloatArray  # surplus moved out (owner's drawings, savings)
    balance_end: FloatArray
    opening: FloatArray  # balance when the account starts
    new_installment: FloatArray  # of the loan applied for (from the month after as_of)
    requested_amount: FloatArray
    requested_term: IntArray
    b2b_share: FloatArray
    known_partner_failure: FloatArray  # share of sales lost to partners that failed on or before as_of

    @property
    def stress(self) -> BoolArray:
        """Month ends with a negative balance: the months bills and installments are paid late."""
        result: BoolArray = self.balance_end < -0.01
        return result


def _cash_plan(
    rng: np.random.Generator, pop: _Population, parties: _Parties, loans: _Loans, cal: _Calendar, prof: _Profiles
) -> _Plan:
    inflow, lost_known = _income(rng, pop, parties, cal, prof)
    low, high = np.array([VARIABLE_COST[s] for s in SECTORS]).T
    business_variable = rng.uniform(low[pop.sector], high[pop.sector])
    spending = np.clip(rng.normal(0.62, 0.1, pop.n), 0.35, 0.95)
    months = np.arange(cal.n_months)
    alive = months[None, :] >= pop.first_month[:, None]
    debt = _debt_service(loans, pop.n, cal) * alive
    # people budget: everything, debt included, takes `margin` of a normal month's income; a margin near or
    # above 1 is a borrower living beyond its means
    margin = np.clip(rng.normal(0.86, 0.07, pop.n), 0.65, 1.02)
    debt_share = debt[:, : cal.n_history_months].mean(axis=1) / pop.base_monthly
    variable_share = np.where(pop.is_business, business_variable, spending)
    variable_share = np.clip(np.minimum(variable_share, margin - debt_share - 0.05), 0.2, None)
    fixed_share = np.maximum(margin - variable_share - debt_share, 0.05)
    trend = (1.0 + pop.growth[:, None]) ** (months[None, :] / 12.0)
    fixed = fixed_share[:, None] * pop.base_monthly[:, None] * trend * alive
    requested, term, installment = _request(rng, pop)
    b2b = np.array([B2B_SHARE[s] for s in SECTORS])[pop.sector] * np.where(pop.kind == 1, 0.6, 1.0)
    return _Plan(
        **_run_balances(rng, pop, cal, inflow, variable_share, fixed, debt, installment, requested, alive),
        requested_amount=requested, requested_term=term, b2b_share=np.where(pop.is_business, b2b, 0.0),
        known_partner_failure=lost_known,
    )  # fmt: skip


def _income(
    rng: np.random.Generator, pop: _Population, parties: _Parties, cal: _Calendar, prof: _Profiles
) -> tuple[FloatArray, FloatArray]:
    months = np.arange(cal.n_months, dtype=np.float64)
    trend = (1.0 + pop.growth[:, None]) ** (months[None, :] / 12.0)
    own = _shock_factor(pop, months)
    season = prof.month_level[pop.sector]
    salary_season = _bonus_month(cal)[None, :] * np.ones((pop.n, 1))
    season = np.where(pop.kind[:, None] == K.INDIVIDUAL, np.where(pop.gig[:, None], 1.0, salary_season), season)
    lost, lost_known = _partner_losses(pop, parties, own, cal)
    noise = np.exp(rng.normal(0.0, 1.0, (pop.n, cal.n_months)) * pop.sigma[:, None] - pop.sigma[:, None] ** 2 / 2)
    regional = _regional_downturn(rng, pop, cal)
    alive = months[None, :] >= pop.first_month[:, None]
    ramp = np.clip((months[None, :] - pop.first_month[:, None] + 1) / 3.0, 0.0, 1.0)  # a new shop builds up trade
    ramp = np.where(pop.ring[:, None] >= 0, 1.0, ramp)
    inflow = pop.base_monthly[:, None] * trend * season * own * (1.0 - lost) * regional * noise * alive * ramp
    return inflow, lost_known


def _shock_factor(pop: _Population, months: FloatArray) -> FloatArray:
    progress = np.clip((months[None, :] - pop.shock_month[:, None] + 1.0) / 3.0, 0.0, 1.0)  # over three months
    result: FloatArray = 1.0 - pop.shock_severity[:, None] * progress
    return result


def _bonus_month(cal: _Calendar) -> FloatArray:
    """Salaried income is flat but for the year-end bonus (年终奖), paid in the month before the festival."""
    factor = np.ones(cal.n_months)
    for festival in SPRING_FESTIVAL.values():
        bonus = festival - timedelta(days=20)
        index = (bonus.year * 12 + bonus.month) - (cal.first_day.year * 12 + cal.first_day.month)
        if 0 <= index < cal.n_months:
            factor[index] = 1.8
    return factor


def _partner_losses(
    pop: _Population, parties: _Parties, own: FloatArray, cal: _Calendar
) -> tuple[FloatArray, FloatArray]:
    """Sales lost because customers failed (external firms) or collapsed (other applicants); an employer's
    failure costs an individual most of the salary. Also: the part lost to failures known by as_of."""
    month_of_failure = np.where(
        parties.external_failed_day < cal.n_history_days,
        cal.day_month[np.minimum(parties.external_failed_day, len(cal.day_month) - 1)],
        cal.n_months + 1,
    )
    months = np.arange(cal.n_months)
    lost = np.zeros((pop.n, cal.n_months))
    for k in range(parties.customers.shape[1]):
        code, weight = parties.customers[:, k], parties.customer_weight[:, k]
        lost += weight[:, None] * _partner_state(code, parties, own, month_of_failure, months)
    employer = parties.employer
    employed = (employer >= 0) & (employer < parties.n_external + pop.n)
    lost += np.where(employed[:, None], 0.65 * _partner_state(employer, parties, own, month_of_failure, months), 0.0)
    known = lost[:, cal.n_history_months - 1]
    return np.clip(lost, 0.0, 0.9), known


def _partner_state(
    code: IntArray, parties: _Parties, own: FloatArray, month_of_failure: IntArray, months: IntArray
) -> FloatArray:
    """1 where the partner has failed (or the collapsed share of an applicant partner), per borrower and month."""
    external = (code >= 0) & (code < parties.n_external)
    failed = months[None, :] >= month_of_failure[np.where(external, code, 0)][:, None]
    applicant = (code >= parties.n_external) & (code < parties.n_external + len(own))
    collapse = 1.0 - own[np.clip(code - parties.n_external, 0, len(own) - 1)]
    result: FloatArray = np.where(external[:, None], failed, np.where(applicant[:, None], collapse, 0.0))
    return result


def _regional_downturn(rng: np.random.Generator, pop: _Population, cal: _Calendar) -> FloatArray:
    """One province's property-linked trades slow down over the last ten months (and after)."""
    region = int(rng.integers(0, len(REGIONS)))
    exposed = np.isin(pop.sector, [_S[Sector.CONSTRUCTION], _S[Sector.REAL_ESTATE], _S[Sector.WHOLESALE]])
    months = np.arange(cal.n_months)
    slope = np.clip((months - (cal.n_history_months - 10)) / 10.0, 0.0, 1.0)
    hit = (pop.region == region) & exposed
    result: FloatArray = 1.0 - 0.3 * hit[:, None] * slope[None, :]
    return result


def _request(rng: np.random.Generator, pop: _Population) -> tuple[FloatArray, IntArray, FloatArray]:
    multiple = np.select([pop.kind == 0, pop.kind == 1], [rng.uniform(0.5, 4.0, pop.n), rng.uniform(0.3, 2.0, pop.n)],
                         rng.uniform(0.2, 1.5, pop.n))  # fmt: skip
    multiple = np.where(pop.ring >= 0, multiple * 2.0, multiple)
    cap = np.select([pop.kind == 0, pop.kind == 1], [200_000.0, 500_000.0], 3_000_000.0)
    amount = np.clip(np.round(multiple * pop.base_monthly / 1000.0) * 1000.0, 3000.0, cap)
    term = rng.choice(np.array([3, 6, 12, 24, 36]), size=pop.n, p=[0.05, 0.15, 0.45, 0.25, 0.1]).astype(np.int64)
    monthly = 0.15 / 12.0
    installment = amount * monthly / (1.0 - (1.0 + monthly) ** (-term))
    return amount, term, installment


def _run_balances(
    rng: np.random.Generator,
    pop: _Population,
    cal: _Calendar,
    inflow: FloatArray,
    variable_share: FloatArray,
    fixed: FloatArray,
    debt: FloatArray,
    new_installment: FloatArray,
    requested_amount: FloatArray,
    alive: BoolArray,
) -> dict[str, Any]:
    """Month by month (vectorised over borrowers): costs follow smoothed income, surplus cash is drawn out."""
    buffer_months = np.exp(rng.normal(np.log(1.6), 0.6, pop.n))
    kept_of_loan = rng.uniform(0.0, 0.3, pop.n)  # the loan is spent (stock, a purchase) but for a cushion
    draw_rate = rng.uniform(0.5, 0.95, pop.n)
    smoothing = np.where(pop.is_business, 0.6, 0.25)  # households adjust their spending slowly
    variable, draws, balance_end = (np.zeros_like(inflow) for _ in range(3))
    smoothed = inflow[:, 0].copy()
    balance = np.zeros(pop.n)
    opening = np.zeros(pop.n)
    for m in range(cal.n_months):
        starting = alive[:, m] & (pop.first_month == m)
        target = buffer_months * (variable_share * pop.base_monthly + fixed[:, m])
        opening = np.where(starting, target * rng.uniform(0.5, 1.5, pop.n), opening)
        balance = np.where(starting, opening, balance)
        smoothed = np.where(starting, inflow[:, m], smoothing * inflow[:, m] + (1.0 - smoothing) * smoothed)
        # short of cash, households and shops cut what they can: spending and purchases, not rent or debt
        belt = np.where(balance < 0, 0.8, 1.0)
        variable[:, m] = variable_share * smoothed * alive[:, m] * belt
        due = debt[:, m] + (new_installment if m >= cal.n_history_months else 0.0)
        cushion = kept_of_loan * requested_amount if m == cal.n_history_months else 0.0
        before = balance + cushion + inflow[:, m] - variable[:, m] - fixed[:, m] - due
        draws[:, m] = np.maximum(before - target, 0.0) * draw_rate * alive[:, m]
        balance = before - draws[:, m]
        balance_end[:, m] = balance
    return {
        "inflow": inflow, "variable": variable, "fixed": fixed, "debt": debt, "draws": draws,
        "balance_end": balance_end, "opening": opening, "new_installment": new_installment,
    }  # fmt: skip


# ---- rows: helpers -----------------------------------------------------------------------------------------------


def _sigmoid(x: FloatArray) -> FloatArray:
    result: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return result


def _minor(amount: FloatArray) -> IntArray:
    """Yuan to fen, half away from zero (the simulator's one rounding rule)."""
    result: IntArray = (np.sign(amount) * np.floor(np.abs(amount) * 100.0 + 0.5)).astype(np.int64)
    return result


def _money(minor: IntArray) -> pl.Series:
    # float -> Decimal(14, 2) is exact for whole fen (checked against string formatting for 2 million values)
    return pl.Series(minor / 100.0, dtype=pl.Float64()).cast(MONEY)


def _money_text(amount: FloatArray) -> pl.Series:
    return _money(_minor(amount)).cast(pl.String())


def _days_in_months(cal: _Calendar) -> IntArray:
    result: IntArray = cal.month_last[: cal.n_history_months] - cal.month_first[: cal.n_history_months] + 1
    return result


def _spread(
    rng: np.random.Generator,
    rate_per_day: FloatArray,
    totals: FloatArray,
    profile: IntArray,
    prof: _Profiles,
    cal: _Calendar,
    sigma_row: float = 0.6,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Rows realising monthly totals: a Poisson number per borrower and history month, on days drawn from the
    borrower's activity profile, with lognormal sizes scaled so each month adds up to its total."""
    h = cal.n_history_months
    counts = rng.poisson(rate_per_day[:, None] * _days_in_months(cal)[None, :] * (totals[:, :h] > 0))
    segment = np.repeat(np.arange(counts.size), counts.ravel())
    borrower, month = np.divmod(segment, h)
    day = _sample_days(rng, month, profile[borrower], prof, cal)
    weight = rng.lognormal(0.0, sigma_row, len(segment))
    per_segment = np.bincount(segment, weights=weight, minlength=counts.size)
    amount = totals[:, :h].ravel()[segment] * weight / per_segment[segment]
    return borrower.astype(np.int64), day, amount


def _sample_days(
    rng: np.random.Generator, month: IntArray, profile: IntArray, prof: _Profiles, cal: _Calendar
) -> IntArray:
    """Inverse-CDF draw of a day inside each row's month, by the row's profile (one searchsorted per profile)."""
    day = np.zeros(len(month), dtype=np.int64)
    u = rng.random(len(month))
    for p in np.unique(profile):
        rows = np.flatnonzero(profile == p)
        cumulative = prof.cumulative[p]
        low = cumulative[cal.month_first[month[rows]]]
        high = cumulative[cal.month_last[month[rows]] + 1]
        day[rows] = np.searchsorted(cumulative, low + u[rows] * (high - low), side="right") - 1
    result: IntArray = np.clip(day, cal.month_first[month], cal.month_last[month])
    return result


def _monthly_rows(
    totals: FloatArray, day_of_month: IntArray, cal: _Calendar, who: BoolArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """One row a month on a fixed day (rent, payroll, salary), where the month's total is positive and the day
    is on or before as_of."""
    borrower, month = np.nonzero((totals[:, : cal.n_history_months] > 0.005) & who[:, None])
    day = cal.day_in_month(month, day_of_month[borrower])
    keep = (day >= 0) & (day < cal.n_history_days)
    return borrower[keep].astype(np.int64), day[keep].astype(np.int64), totals[borrower[keep], month[keep]]


def _pick_partner(rng: np.random.Generator, borrower: IntArray, codes: IntArray, weights: FloatArray) -> IntArray:
    """Each row's counterparty, drawn from its borrower's partners by weight (-1: the borrower has none)."""
    cumulative = np.cumsum(weights[borrower], axis=1)
    u = rng.random(len(borrower))[:, None]
    slot = np.minimum((u > cumulative).sum(axis=1), codes.shape[1] - 1)
    result: IntArray = codes[borrower, slot]
    return result


def _replace_failed(rng: np.random.Generator, code: IntArray, day: IntArray, parties: _Parties) -> IntArray:
    """A customer that has failed pays no more: later rows go to a new customer instead."""
    external = (code >= 0) & (code < parties.n_external)
    failed = external & (parties.external_failed_day[np.where(external, code, 0)] <= day)
    fresh = rng.choice(parties.n_external, size=int(failed.sum()), p=parties.popularity)
    code = code.copy()
    code[failed] = fresh
    return code


# ---- repayments at other lenders ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Installments:
    borrower: IntArray
    loan: IntArray
    due_day: IntArray
    paid_day: IntArray  # -1: not paid by as_of
    amount_due: IntArray  # fen
    amount_paid: IntArray
    days_late: IntArray  # as of as_of


def _installments(
    rng: np.random.Generator, pop: _Population, loans: _Loans, plan: _Plan, cal: _Calendar
) -> _Installments:
    loan = np.repeat(np.arange(len(loans.borrower)), loans.term_months)
    offsets = np.concatenate([[0], np.cumsum(loans.term_months)[:-1]]) if len(loans.borrower) else np.zeros(0)
    k = np.arange(len(loan)) - np.repeat(offsets, loans.term_months).astype(np.int64)
    month = loans.start_month[loan] + 1 + k
    in_window = (month >= 0) & (month < cal.n_history_months)
    loan, month = loan[in_window], month[in_window]
    due = cal.day_in_month(month, loans.due_day[loan])
    observed = (due >= 0) & (due < cal.n_history_days)
    loan, month, due = loan[observed], month[observed], due[observed]
    borrower = loans.borrower[loan]
    paid_day, late = _payment_days(rng, pop.discipline[borrower], plan.stress[borrower, month], due, cal, habit=1.5)
    amount_due = _minor(loans.installment[loan])
    partial = (late > 0) & (rng.random(len(loan)) < 0.05) & (paid_day >= 0)
    amount_paid = np.where(paid_day >= 0, np.where(partial, amount_due // 2, amount_due), 0)
    return _Installments(borrower, loan, due, paid_day, amount_due, amount_paid.astype(np.int64), late)


def _payment_days(
    rng: np.random.Generator, discipline: FloatArray, stress: BoolArray, due: IntArray, cal: _Calendar, habit: float
) -> tuple[IntArray, IntArray]:
    """When a bill or an installment is paid: mostly a few days early; late with a chance that grows with poor
    discipline and a cash-short month; sometimes not at all. Payments after as_of are not yet visible."""
    n = len(due)
    p_late = _sigmoid(-3.0 - habit * discipline + 1.8 * stress)
    late = rng.random(n) < p_late
    days_late = np.where(late, rng.geometric(1.0 / 8.0, n) + np.where(stress, rng.geometric(1.0 / 25.0, n), 0), 0)
    missed = rng.random(n) < _sigmoid(-5.5 - habit * discipline + 2.5 * stress)
    early = rng.integers(0, 6, n)
    paid = np.where(late, due + days_late, due - early)
    paid = np.where(missed | (paid >= cal.n_history_days), -1, np.maximum(paid, 0))
    still_open = np.maximum(cal.n_history_days - 1 - due, 0)
    late_as_of = np.where(paid >= 0, np.maximum(paid - due, 0), still_open)
    return paid.astype(np.int64), late_as_of.astype(np.int64)


def _repayment_frame(inst: _Installments, loans: _Loans, pop: _Population, cal: _Calendar) -> pl.DataFrame:
    lenders = pl.Series([f"LD{j + 1:02d}" for j in range(N_LENDERS)])
    width = max(6, len(str(len(loans.borrower))))
    paid = inst.paid_day >= 0
    frame = pl.DataFrame(
        {
            BORROWER_ID: pop.ids.gather(inst.borrower),
            "lender": lenders.gather(loans.lender[inst.loan]),
            "loan_ref": "LN" + pl.Series(inst.loan + 1).cast(pl.String()).str.zfill(width),
            "due_on": cal.date_of(inst.due_day),
            "amount_due": _money(inst.amount_due),
            "paid_on": pl.Series(cal.date_of(np.maximum(inst.paid_day, 0))).set(pl.Series(~paid), None),
            "amount_paid": _money(inst.amount_paid),
        }
    )
    return _ordered(frame.sort(BORROWER_ID, "due_on", "loan_ref"), Source.REPAYMENTS)


def _ordered(frame: pl.DataFrame, source: Source) -> pl.DataFrame:
    return frame.select(BORROWER_ID, *columns(source))


# ---- transactions ------------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Transaction rows under construction (parallel arrays)."""

    borrower: list[IntArray]
    day: list[IntArray]
    minor: list[IntArray]  # signed: + in, - out
    counterparty: list[IntArray]  # party code, -1 none; lenders are coded after the parties
    channel: list[IntArray]

    def add(self, borrower: IntArray, day: IntArray, amount: FloatArray, sign: int, cp: IntArray, ch: IntArray) -> None:
        minor = np.maximum(_minor(amount), 1)  # every movement is at least one fen
        self.borrower.append(borrower)
        self.day.append(day)
        self.minor.append(sign * minor)
        self.counterparty.append(cp)
        self.channel.append(ch)


CHANNELS = tuple(Channel)
_CH = {c: i for i, c in enumerate(CHANNELS)}


def _channels(rng: np.random.Generator, n: int, shares: dict[Channel, float]) -> IntArray:
    weights = [shares.get(c, 0.0) for c in CHANNELS]
    return _choice(rng, n, weights)


def _transactions(
    rng: np.random.Generator,
    pop: _Population,
    parties: _Parties,
    plan: _Plan,
    inst: _Installments,
    loans: _Loans,
    cal: _Calendar,
    prof: _Profiles,
) -> pl.DataFrame:
    rows = _Rows([], [], [], [], [])
    _sales_rows(rng, rows, pop, parties, plan, cal, prof)
    _income_rows(rng, rows, pop, parties, plan, cal, prof)
    _cost_rows(rng, rows, pop, parties, plan, cal, prof)
    paid = inst.paid_day >= 0
    lender_code = len(parties.names) + loans.lender[inst.loan[paid]]
    rows.add(inst.borrower[paid], inst.paid_day[paid], inst.amount_paid[paid] / 100.0, -1, lender_code,
             np.full(int(paid.sum()), _CH[Channel.BANK]))  # fmt: skip
    return _transaction_frame(rng, rows, pop, parties, plan, cal)


def _sales_rows(
    rng: np.random.Generator, rows: _Rows, pop: _Population, parties: _Parties, plan: _Plan, cal: _Calendar,
    prof: _Profiles,
) -> None:  # fmt: skip
    business = pop.is_business[:, None]
    consumer_total = plan.inflow * (1.0 - plan.b2b_share[:, None]) * business
    rate = np.where(pop.kind == K.INDIVIDUAL_BUSINESS, 2.0, 1.2)
    b, d, a = _spread(rng, rate * (1.0 - plan.b2b_share), consumer_total, pop.sector, prof, cal)
    shares = {Channel.POS: 0.3, Channel.ALIPAY: 0.32, Channel.WECHAT: 0.33, Channel.CASH: 0.05}
    rows.add(b, d, a, 1, np.full(len(b), -1), _channels(rng, len(b), shares))
    b2b_total = plan.inflow * plan.b2b_share[:, None] * business
    b2b_rate = np.where(pop.kind == K.INDIVIDUAL_BUSINESS, 0.5, 0.9) * plan.b2b_share
    b, d, a = _spread(rng, b2b_rate, b2b_total, np.full(pop.n, _Profiles.b2b()), prof, cal, sigma_row=0.8)
    cp = _replace_failed(rng, _pick_partner(rng, b, parties.customers, parties.customer_weight), d, parties)
    rows.add(b, d, a, 1, cp, _channels(rng, len(b), {Channel.BANK: 0.85, Channel.ALIPAY: 0.08, Channel.WECHAT: 0.07}))


def _income_rows(
    rng: np.random.Generator, rows: _Rows, pop: _Population, parties: _Parties, plan: _Plan, cal: _Calendar,
    prof: _Profiles,
) -> None:  # fmt: skip
    individual = pop.kind == K.INDIVIDUAL
    salaried = individual & ~pop.gig
    pay_day = rng.integers(5, 16, pop.n)
    b, d, a = _monthly_rows(plan.inflow * 0.9, pay_day, cal, salaried)
    rows.add(b, d, a, 1, parties.employer[b], np.full(len(b), _CH[Channel.BANK]))
    gig_total = plan.inflow * (pop.gig[:, None])
    b, d, a = _spread(rng, np.full(pop.n, 0.25), gig_total, np.full(pop.n, _Profiles.spending()), prof, cal, 0.3)
    rows.add(b, d, a, 1, parties.employer[b], _channels(rng, len(b), {Channel.BANK: 0.4, Channel.ALIPAY: 0.3,
                                                                       Channel.WECHAT: 0.3}))  # fmt: skip
    other_total = plan.inflow * 0.1 * salaried[:, None]  # transfers, red packets (红包) around the festival
    b, d, a = _spread(rng, np.full(pop.n, 0.06), other_total, np.full(pop.n, _Profiles.spending()), prof, cal, 0.9)
    rows.add(b, d, a, 1, np.full(len(b), -1), _channels(rng, len(b), {Channel.WECHAT: 0.6, Channel.ALIPAY: 0.3,
                                                                       Channel.BANK: 0.1}))  # fmt: skip


def _cost_rows(
    rng: np.random.Generator, rows: _Rows, pop: _Population, parties: _Parties, plan: _Plan, cal: _Calendar,
    prof: _Profiles,
) -> None:  # fmt: skip
    business = pop.is_business
    buy_rate = np.select([pop.kind == 1, pop.kind == 2], [0.45, 0.8], 0.0)
    b, d, a = _spread(rng, buy_rate, plan.variable * business[:, None], np.full(pop.n, _Profiles.b2b()), prof, cal, 0.8)
    cp = _pick_partner(rng, b, parties.suppliers, parties.supplier_weight)
    rows.add(b, d, a, -1, cp, _channels(rng, len(b), {Channel.BANK: 0.75, Channel.ALIPAY: 0.12, Channel.WECHAT: 0.13}))
    spend = plan.variable * (~business)[:, None]
    b, d, a = _spread(rng, np.full(pop.n, 0.9), spend, np.full(pop.n, _Profiles.spending()), prof, cal, 1.0)
    shares = {Channel.ALIPAY: 0.42, Channel.WECHAT: 0.4, Channel.POS: 0.13, Channel.BANK: 0.05}
    rows.add(b, d, a, -1, np.full(len(b), -1), _channels(rng, len(b), shares))
    payroll = business & (pop.staff >= 2)
    rent_share = np.where(payroll, 0.4, 1.0)
    bank = _CH[Channel.BANK]
    for totals, day, who in (
        (plan.fixed * rent_share[:, None], rng.integers(1, 6, pop.n), np.ones(pop.n, dtype=np.bool_)),
        (plan.fixed * (1.0 - rent_share[:, None]), np.full(pop.n, 10), payroll),
        (plan.draws, np.full(pop.n, 28), np.ones(pop.n, dtype=np.bool_)),
    ):
        b, d, a = _monthly_rows(totals, day, cal, who)
        rows.add(b, d, a, -1, np.full(len(b), -1), np.full(len(b), bank))


def _transaction_frame(
    rng: np.random.Generator, rows: _Rows, pop: _Population, parties: _Parties, plan: _Plan, cal: _Calendar
) -> pl.DataFrame:
    borrower, day = np.concatenate(rows.borrower), np.concatenate(rows.day)
    minor, cp = np.concatenate(rows.minor), np.concatenate(rows.counterparty)
    channel = np.concatenate(rows.channel)
    keep = pop.consent_transactions[borrower] & (day < cal.n_history_days) & (day >= 0)
    borrower, day, minor, cp, channel = (x[keep] for x in (borrower, day, minor, cp, channel))
    order = np.lexsort((rng.random(len(day)), day, borrower))  # within a day the order is arbitrary
    borrower, day, minor, cp, channel = (x[order] for x in (borrower, day, minor, cp, channel))
    balance = _balances(borrower, minor, _minor(plan.opening), pop.n)
    names = pl.concat([parties.names, pl.Series([f"LD{j + 1:02d}" for j in range(N_LENDERS)]), pl.Series([None])])
    width = max(8, len(str(len(day))))
    frame = pl.DataFrame(
        {
            BORROWER_ID: pop.ids.gather(borrower),
            "txn_id": "T" + pl.Series(np.arange(1, len(day) + 1)).cast(pl.String()).str.zfill(width),
            "occurred_on": cal.date_of(day),
            "direction": pl.Series(np.where(minor > 0, Direction.IN.value, Direction.OUT.value)),
            "amount": _money(np.abs(minor)),
            "counterparty_id": names.gather(np.where(cp >= 0, cp, len(names) - 1)),
            "channel": pl.Series([c.value for c in CHANNELS]).gather(channel),
            "balance_after": _money(balance).set(pl.Series(~pop.balance_provided[borrower]), None),
        }
    )
    return _ordered(frame, Source.TRANSACTIONS)


def _balances(borrower: IntArray, minor: IntArray, opening: IntArray, n: int) -> IntArray:
    """Running balance per borrower over rows sorted by borrower then time (exact, in fen)."""
    running = np.cumsum(minor)
    counts = np.bincount(borrower, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    before = np.where(starts > 0, running[np.maximum(starts - 1, 0)], 0)
    result: IntArray = opening[borrower] + running - before[borrower]
    return result


# ---- utility bills -----------------------------------------------------------------------------------------------

UTILITIES = tuple(Utility)
# (monthly amount for a household in yuan, per yuan of a business's sales), and who has the utility
_UTILITY_SIZE: dict[Utility, tuple[float, float]] = {
    Utility.ELECTRICITY: (120.0, 0.02),
    Utility.WATER: (45.0, 0.004),
    Utility.GAS: (60.0, 0.003),
    Utility.TELECOM: (90.0, 0.002),
}


def _utility_season(utility: Utility, month_of_year: IntArray) -> FloatArray:
    if utility is Utility.ELECTRICITY:  # air conditioning in summer, heating in winter
        return np.where(np.isin(month_of_year, [7, 8]), 1.6, np.where(np.isin(month_of_year, [12, 1]), 1.3, 1.0))
    if utility is Utility.GAS:
        return np.where(np.isin(month_of_year, [11, 12, 1, 2]), 2.0, 1.0)
    return np.ones(len(month_of_year))


def _utility_payments(rng: np.random.Generator, pop: _Population, plan: _Plan, cal: _Calendar) -> pl.DataFrame:
    """A bill per utility and month of use, due on the 15th of the next month (water every other month)."""
    covered = pop.consent_transactions & (rng.random(pop.n) < 0.8)  # not every utility shares its bills
    parts: list[dict[str, Any]] = []
    for utility in UTILITIES:
        has = covered & _has_utility(rng, utility, pop)
        borrower, month = np.nonzero(
            has[:, None] & (np.arange(cal.n_history_months)[None, :] >= pop.first_month[:, None])
        )
        if utility is Utility.WATER:
            keep = cal.month_of_year[month] % 2 == 0
            borrower, month = borrower[keep], month[keep]
        due = cal.day_in_month(month + 1, np.full(len(month), 15))
        keep = (due >= 0) & (due < cal.n_history_days)
        borrower, month, due = borrower[keep], month[keep], due[keep]
        household, per_sales = _UTILITY_SIZE[utility]
        size = np.where(pop.is_business[borrower], per_sales * pop.base_monthly[borrower], household)
        amount = size * _utility_season(utility, cal.month_of_year[month]) * rng.lognormal(0.0, 0.15, len(month))
        stress = plan.stress[borrower, np.minimum(month + 1, cal.n_history_months - 1)]
        paid, _ = _payment_days(rng, pop.discipline[borrower], stress, due, cal, habit=1.2)
        parts.append({"borrower": borrower, "utility": np.full(len(month), UTILITIES.index(utility)), "due": due,
                      "paid": paid, "amount": amount})  # fmt: skip
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cols["utility"], cols["due"], cols["borrower"]))
    cols = {k: v[order] for k, v in cols.items()}
    width = max(8, len(str(len(order))))
    frame = pl.DataFrame(
        {
            BORROWER_ID: pop.ids.gather(cols["borrower"]),
            "bill_id": "U" + pl.Series(np.arange(1, len(order) + 1)).cast(pl.String()).str.zfill(width),
            "utility": pl.Series([u.value for u in UTILITIES]).gather(cols["utility"]),
            "due_on": cal.date_of(cols["due"]),
            "paid_on": pl.Series(cal.date_of(np.maximum(cols["paid"], 0))).set(pl.Series(cols["paid"] < 0), None),
            "amount": _money(_minor(cols["amount"])),
        }
    )
    return _ordered(frame, Source.UTILITY_PAYMENTS)


def _has_utility(rng: np.random.Generator, utility: Utility, pop: _Population) -> BoolArray:
    if utility is Utility.GAS:
        result: BoolArray = rng.random(pop.n) < np.where(pop.is_business, 0.3, 0.6)
        return result
    return np.ones(pop.n, dtype=np.bool_)


# ---- e-invoices (fapiao) -----------------------------------------------------------------------------------------


def _tax_invoices(
    rng: np.random.Generator, pop: _Population, parties: _Parties, plan: _Plan, cal: _Calendar, prof: _Profiles
) -> pl.DataFrame:
    """Sales invoices for the business part of sales (and some consumers), purchase invoices from suppliers;
    a few are voided (作废) or reversed by red invoices (红冲), more so in cash-short months and in rings."""
    issuing = pop.is_business & pop.consent_invoices
    small_scale = (pop.kind == K.INDIVIDUAL_BUSINESS) | (pop.base_monthly * 12.0 < 5_000_000.0)
    rate = np.where(small_scale, 0.01, np.array([VAT_RATE[s] for s in SECTORS])[pop.sector])
    invoiced = (plan.b2b_share + (1.0 - plan.b2b_share) * 0.15) * issuing
    b2b = np.full(pop.n, _Profiles.b2b())
    count_rate = (0.1 + 0.5 * plan.b2b_share) * np.where(pop.kind == K.ENTERPRISE, 1.0, 0.3)
    sb, sd, sa = _spread(rng, count_rate, plan.inflow * invoiced[:, None] / (1.0 + rate[:, None]), b2b, prof, cal)
    to_firms = plan.b2b_share / np.maximum(plan.b2b_share + (1.0 - plan.b2b_share) * 0.15, 1e-9)
    named = rng.random(len(sb)) < to_firms[sb]
    scp = np.where(named, _pick_partner(rng, sb, parties.customers, parties.customer_weight), -1)
    purchase_share = rng.uniform(0.6, 0.95, pop.n) * issuing
    pb, pd_, pa = _spread(rng, count_rate * 0.7, plan.variable * purchase_share[:, None] / 1.13, b2b, prof, cal)
    pcp = _pick_partner(rng, pb, parties.suppliers, parties.supplier_weight)
    borrower = np.concatenate([sb, pb])
    day, amount, cp = np.concatenate([sd, pd_]), np.concatenate([sa, pa]), np.concatenate([scp, pcp])
    direction = np.concatenate([np.zeros(len(sb), dtype=np.int64), np.ones(len(pb), dtype=np.int64)])
    tax_rate = np.concatenate([rate[sb], np.where(small_scale[pb], 0.13, rate[pb])])
    status = _invoice_status(rng, pop, plan, borrower, cal.day_month[day], direction)
    order = np.lexsort((direction, day, borrower))
    return _invoice_frame(pop, parties, cal, borrower[order], day[order], amount[order], tax_rate[order], cp[order],
                          direction[order], status[order])  # fmt: skip


def _invoice_status(
    rng: np.random.Generator, pop: _Population, plan: _Plan, borrower: IntArray, month: IntArray, direction: IntArray
) -> IntArray:
    """0 valid, 1 void, 2 red."""
    pressure = np.where(plan.stress[borrower, month], 3.0, 1.0) * np.where(pop.ring[borrower] >= 0, 8.0, 1.0)
    pressure = np.where(direction == 0, pressure, 1.0)
    u = rng.random(len(borrower))
    result: IntArray = np.where(u < 0.015 * pressure, 1, np.where(u < 0.025 * pressure, 2, 0)).astype(np.int64)
    return result


def _invoice_frame(
    pop: _Population, parties: _Parties, cal: _Calendar, borrower: IntArray, day: IntArray, amount: FloatArray,
    tax_rate: FloatArray, cp: IntArray, direction: IntArray, status: IntArray,
) -> pl.DataFrame:  # fmt: skip
    net = np.maximum(_minor(amount), 100)
    names = pl.concat([parties.names, pl.Series([None], dtype=pl.String())])
    width = max(8, len(str(len(day))))
    frame = pl.DataFrame(
        {
            BORROWER_ID: pop.ids.gather(borrower),
            "invoice_id": "I" + pl.Series(np.arange(1, len(day) + 1)).cast(pl.String()).str.zfill(width),
            "issued_on": cal.date_of(day),
            "direction": pl.Series([InvoiceDirection.SALES.value, InvoiceDirection.PURCHASE.value]).gather(direction),
            "amount": _money(net),
            "tax_amount": _money(_minor(net / 100.0 * tax_rate)),
            "counterparty_id": names.gather(np.where(cp >= 0, cp, len(names) - 1)),
            "status": pl.Series([s.value for s in (InvoiceStatus.VALID, InvoiceStatus.VOID, InvoiceStatus.RED)]).gather(
                status
            ),
        }
    )
    return _ordered(frame, Source.TAX_INVOICES)


# ---- relations, devices, fraud rings -----------------------------------------------------------------------------

RELATION_KINDS = tuple(RelationKind)
_RK = {k: i for i, k in enumerate(RELATION_KINDS)}


@dataclass
class _Links:
    """Relation rows under construction: borrower, kind, other party, since (day index, -1 unknown).

    The other party is a party code (>= 0: a firm, an applicant, a platform) or an outside person (-1 - number:
    a family member, a guarantor, an earlier applicant), named by `person` and possibly known to have defaulted.
    """

    borrower: list[IntArray] = field(default_factory=list)
    kind: list[IntArray] = field(default_factory=list)
    other: list[IntArray] = field(default_factory=list)
    since_day: list[IntArray] = field(default_factory=list)
    person_names: list[str] = field(default_factory=list)
    person_defaulted_day: list[IntArray] = field(default_factory=list)  # per person, -1: never

    def add(self, borrower: IntArray, kind: RelationKind, other: IntArray, since_day: IntArray) -> None:
        self.borrower.append(borrower.astype(np.int64))
        self.kind.append(np.full(len(borrower), _RK[kind], dtype=np.int64))
        self.other.append(other.astype(np.int64))
        self.since_day.append(since_day.astype(np.int64))

    def both_ways(self, a: IntArray, b: IntArray, kind: RelationKind, since_day: IntArray, n_external: int) -> None:
        self.add(a, kind, n_external + b, since_day)
        self.add(b, kind, n_external + a, since_day)

    def persons(self, prefix: str, defaulted_day: IntArray) -> IntArray:
        """Codes of new outside persons, one per entry of `defaulted_day` (the day each defaulted, -1 never)."""
        start = len(self.person_names)
        self.person_names.extend(f"{prefix}{start + i + 1:08d}" for i in range(len(defaulted_day)))
        self.person_defaulted_day.append(defaulted_day.astype(np.int64))
        result: IntArray = -(1 + start + np.arange(len(defaulted_day), dtype=np.int64))
        return result


@dataclass(frozen=True, slots=True)
class _Network:
    relations: pl.DataFrame
    devices: pl.DataFrame
    defaulted_parties: pl.DataFrame
    guarantor_defaulted: BoolArray  # an outside guarantor of the borrower defaulted before as_of
    neighbours: tuple[IntArray, IntArray]  # borrower pairs (guarantee, supply, employment) contagion runs along


def _network(rng: np.random.Generator, pop: _Population, parties: _Parties, cal: _Calendar) -> _Network:
    links = _Links()
    old = np.full(pop.n, -1, dtype=np.int64)  # since before the history: unknown, left empty
    _trading_links(links, pop, parties, cal)
    family_pairs = _family_links(rng, links, pop, parties, old)
    _market_links(rng, links, pop, parties, old)
    guaranteed_by, guarantor_defaulted = _guarantor_links(rng, links, pop, parties, cal)
    _ring_links(rng, links, pop, parties, cal)
    _prior_defaulters(rng, links, pop, cal)
    relations = _relation_frame(links, pop, parties, cal)
    devices = _devices(rng, pop, cal, family_pairs)
    defaulted = _defaulted_parties(parties, cal, links)
    return _Network(relations, devices, defaulted, guarantor_defaulted, _neighbours(pop, parties, guaranteed_by))


def _trading_links(links: _Links, pop: _Population, parties: _Parties, cal: _Calendar) -> None:
    """A business names its three largest customers and two largest suppliers as trading partners."""
    since = pop.first_month
    for codes, weights, top in ((parties.customers, parties.customer_weight, 3),
                                (parties.suppliers, parties.supplier_weight, 2)):  # fmt: skip
        rank = np.argsort(-weights, axis=1, kind="stable")[:, :top]
        chosen = np.take_along_axis(codes, rank, axis=1)
        borrower, slot = np.nonzero(chosen >= 0)
        links.add(borrower, RelationKind.TRADING_PARTNER, chosen[borrower, slot], cal.month_first[since[borrower]])


def _family_links(
    rng: np.random.Generator, links: _Links, pop: _Population, parties: _Parties, old: IntArray
) -> tuple[IntArray, IntArray]:
    """Family members outside the applicants, and a few families with two applicants: they live together and
    sometimes share a phone or a device (legitimately: not every shared identity is a ring)."""
    count = rng.poisson(1.2, pop.n)
    borrower = np.repeat(np.arange(pop.n), count)
    links.add(borrower, RelationKind.FAMILY, links.persons("F", np.full(len(borrower), -1)), old[borrower])
    pairs = int(0.03 * pop.n)
    candidates = rng.permutation(np.flatnonzero(pop.ring < 0))[: 2 * pairs]
    a, b = candidates[: len(candidates) // 2], candidates[len(candidates) // 2 :]
    a, b = a[: len(b)], b[: len(a)]
    links.both_ways(a, b, RelationKind.FAMILY, old[a], parties.n_external)
    links.both_ways(a, b, RelationKind.SHARED_ADDRESS, old[a], parties.n_external)
    phone = rng.random(len(a)) < 0.05
    links.both_ways(a[phone], b[phone], RelationKind.SHARED_PHONE, old[a[phone]], parties.n_external)
    device = rng.random(len(a)) < 0.3
    links.both_ways(a[device], b[device], RelationKind.SHARED_DEVICE, old[a[device]], parties.n_external)
    return a[device], b[device]


def _market_links(rng: np.random.Generator, links: _Links, pop: _Population, parties: _Parties, old: IntArray) -> None:
    """Shops in one market building share its address: a legitimate cluster a ring detector must live with."""
    shops = np.isin(pop.sector, [_S[Sector.RETAIL], _S[Sector.WHOLESALE], _S[Sector.CATERING]]) & pop.is_business
    members = np.flatnonzero(shops & (pop.ring < 0) & (rng.random(pop.n) < 0.3))
    if len(members) < 2:
        return
    n_markets = max(1, len(members) // 8)
    market = rng.integers(0, n_markets, len(members)) + pop.region[members] * n_markets
    order = np.argsort(market, kind="stable")
    members, market = members[order], market[order]
    same_next = market[1:] == market[:-1]  # link each shop to the next in its building: one component per building
    a, b = members[:-1][same_next], members[1:][same_next]
    links.both_ways(a, b, RelationKind.SHARED_ADDRESS, old[a], parties.n_external)


def _guarantor_links(
    rng: np.random.Generator, links: _Links, pop: _Population, parties: _Parties, cal: _Calendar
) -> tuple[IntArray, BoolArray]:
    """A quarter of businesses have a guarantor: another applicant (guarantee circles, 互保) or an outside
    person or firm, some of whom are known to have defaulted. Returns the applicant pairs and who has a
    defaulted outside guarantor."""
    guaranteed = np.flatnonzero(pop.is_business & (rng.random(pop.n) < 0.25))
    businesses = np.flatnonzero(pop.is_business)
    by_applicant = rng.random(len(guaranteed)) < 0.3
    inside = guaranteed[by_applicant]
    guarantor = rng.choice(businesses, size=len(inside)) if len(businesses) else inside
    ok = guarantor != inside
    inside, guarantor = inside[ok], guarantor[ok]
    since = rng.integers(0, cal.n_history_days, len(inside))
    links.add(inside, RelationKind.GUARANTOR, parties.n_external + guarantor, since)
    mutual = rng.random(len(inside)) < 0.5
    links.add(guarantor[mutual], RelationKind.GUARANTOR, parties.n_external + inside[mutual], since[mutual])
    outside = guaranteed[~by_applicant]
    defaulted = rng.random(len(outside)) < 0.08
    day = np.where(defaulted, rng.integers(0, cal.n_history_days, len(outside)), -1)
    links.add(
        outside, RelationKind.GUARANTOR, links.persons("G", day), rng.integers(0, cal.n_history_days, len(outside))
    )
    has_defaulted = np.zeros(pop.n, dtype=np.bool_)
    has_defaulted[outside[defaulted]] = True
    return np.stack([inside, guarantor]).astype(np.int64), has_defaulted


def _ring_links(rng: np.random.Generator, links: _Links, pop: _Population, parties: _Parties, cal: _Calendar) -> None:
    """Ring members share devices, often a contact phone and an address; all links are recent."""
    for r in range(int(pop.ring.max()) + 1):
        members = np.flatnonzero(pop.ring == r)
        recent = np.full(len(members) - 1, cal.n_history_days - int(rng.integers(10, 90)))
        kinds = [RelationKind.SHARED_DEVICE]
        kinds += [RelationKind.SHARED_PHONE] if rng.random() < 0.6 else []
        kinds += [RelationKind.SHARED_ADDRESS] if rng.random() < 0.5 else []
        for kind in kinds:
            links.both_ways(members[1:], members[:-1], kind, recent, parties.n_external)
        extra = rng.permutation(members)
        links.both_ways(extra[1:], extra[:-1], RelationKind.SHARED_DEVICE, recent, parties.n_external)


def _prior_defaulters(rng: np.random.Generator, links: _Links, pop: _Population, cal: _Calendar) -> None:
    """Earlier applicants who defaulted: many rings recycle their phones and devices; a few honest borrowers
    live where one of them once lived (an old address is weak evidence)."""
    n_rings = int(pop.ring.max()) + 1
    recycled = np.flatnonzero(rng.random(n_rings) < 0.4)
    if len(recycled):
        member = np.array([rng.choice(np.flatnonzero(pop.ring == r)) for r in recycled], dtype=np.int64)
        earlier = links.persons("K", rng.integers(0, cal.n_history_days, len(recycled)))
        kind = RelationKind.SHARED_PHONE if rng.random() < 0.5 else RelationKind.SHARED_DEVICE
        links.add(member, kind, earlier, np.full(len(member), -1))
    tenants = np.flatnonzero((pop.ring < 0) & (rng.random(pop.n) < 0.015))
    earlier = links.persons("K", rng.integers(0, cal.n_history_days, len(tenants)))
    links.add(tenants, RelationKind.SHARED_ADDRESS, earlier, np.full(len(tenants), -1))


def _relation_frame(links: _Links, pop: _Population, parties: _Parties, cal: _Calendar) -> pl.DataFrame:
    borrower, kind = np.concatenate(links.borrower), np.concatenate(links.kind)
    other, since = np.concatenate(links.other), np.concatenate(links.since_day)
    keep = pop.consent_relations[borrower] & (since < cal.n_history_days)
    borrower, kind, other, since = borrower[keep], kind[keep], other[keep], since[keep]
    # parties first, then the outside persons: one look-up for both kinds of code
    names = pl.concat([parties.names, pl.Series(links.person_names, dtype=pl.String())])
    name = names.gather(np.where(other >= 0, other, len(parties.names) - 1 - other))
    frame = pl.DataFrame(
        {
            BORROWER_ID: pop.ids.gather(borrower),
            "kind": pl.Series([k.value for k in RELATION_KINDS]).gather(kind),
            "other_party_id": name,
            "since": pl.Series(cal.date_of(np.maximum(since, 0))).set(pl.Series(since < 0), None),
        }
    )
    frame = frame.unique([BORROWER_ID, "kind", "other_party_id"], keep="first", maintain_order=True)
    return _ordered(frame.sort(BORROWER_ID, "kind", "other_party_id"), Source.RELATIONS)


def _devices(
    rng: np.random.Generator, pop: _Population, cal: _Calendar, family_pairs: tuple[IntArray, IntArray]
) -> pl.DataFrame:
    """Devices seen at sign-in and application in the last 60 days; rings use a few shared phones or emulators
    from one IP range, within days of each other."""
    device = np.arange(pop.n, dtype=np.int64)  # each borrower's own phone
    a, b = family_pairs
    device[b] = device[a]
    n_rings = int(pop.ring.max()) + 1
    ring_devices = pop.n + np.arange(3 * n_rings).reshape(n_rings, 3) if n_rings else np.zeros((0, 3), np.int64)
    count = 1 + rng.poisson(1.0, pop.n)
    borrower = np.repeat(np.arange(pop.n), count)
    seen = device[borrower]
    in_ring = pop.ring[borrower] >= 0
    shared = in_ring & (rng.random(len(borrower)) < 0.75)
    seen[shared] = ring_devices[pop.ring[borrower[shared]], rng.integers(0, 3, int(shared.sum()))]
    window = np.where(in_ring, 7, 60)
    day = cal.n_history_days - 1 - (rng.random(len(borrower)) * window).astype(np.int64)
    risky = seen >= pop.n
    emulator = rng.random(pop.n + 3 * n_rings) < np.where(np.arange(pop.n + 3 * n_rings) >= pop.n, 0.3, 0.003)
    rooted = rng.random(pop.n + 3 * n_rings) < np.where(np.arange(pop.n + 3 * n_rings) >= pop.n, 0.25, 0.025)
    ip = _ip_prefixes(rng, pop, borrower, risky)
    os_name = pl.Series(OS_NAMES).gather(rng.integers(0, len(OS_NAMES), pop.n + 3 * n_rings)[seen])
    frame = pl.DataFrame(
        {
            BORROWER_ID: pop.ids.gather(borrower),
            "device_id": pl.Series([f"DV{(int(d) * 2654435761) % 2**32:08x}" for d in seen], dtype=pl.String()),
            "observed_on": cal.date_of(day),
            "ip_prefix": ip,
            "os": os_name,
            "emulator": emulator[seen],
            "rooted": rooted[seen],
        }
    )
    return _ordered(frame.sort(BORROWER_ID, "observed_on", "device_id"), Source.DEVICES)


def _ip_prefixes(rng: np.random.Generator, pop: _Population, borrower: IntArray, risky: BoolArray) -> pl.Series:
    """A /24 per borrower in the province's range; a ring's shared devices sit behind one range."""
    third = rng.integers(0, 256, pop.n)[borrower]
    second = rng.integers(0, 256, pop.n)[borrower]
    ring = pop.ring[borrower]
    second = np.where(risky, 250, second)
    third = np.where(risky, ring % 256, third)
    first = 100 + pop.region[borrower]
    text = pl.concat_str(
        [pl.lit(pl.Series(first)).cast(pl.String()), pl.lit("."), pl.lit(pl.Series(second)).cast(pl.String()),
         pl.lit("."), pl.lit(pl.Series(third)).cast(pl.String()), pl.lit(".0/24")]
    )  # fmt: skip
    return pl.select(text).to_series()


def _defaulted_parties(parties: _Parties, cal: _Calendar, links: _Links) -> pl.DataFrame:
    """The lender's list of parties known to have defaulted by as_of: failed firms, outside guarantors, earlier
    applicants."""
    firm = np.flatnonzero(parties.external_failed_day < cal.n_history_days)
    person_day = np.concatenate(links.person_defaulted_day) if links.person_defaulted_day else np.zeros(0, np.int64)
    person = np.flatnonzero(person_day >= 0)
    frame = pl.DataFrame(
        {
            "party_id": pl.concat(
                [parties.names.gather(firm), pl.Series(links.person_names, dtype=pl.String()).gather(person)]
            ),
            "defaulted_on": cal.date_of(np.concatenate([parties.external_failed_day[firm], person_day[person]])),
        }
    )
    return frame.sort("party_id")


def _neighbours(pop: _Population, parties: _Parties, guaranteed_by: IntArray) -> tuple[IntArray, IntArray]:
    """Borrower pairs along which a default spreads: guarantor and guaranteed, customer and supplier, employer and
    employee (both directions)."""
    pairs = [guaranteed_by]
    for codes in (parties.customers, parties.suppliers):
        borrower, slot = np.nonzero(codes >= parties.n_external)
        other = codes[borrower, slot] - parties.n_external
        inside = other < pop.n
        pairs.append(np.stack([borrower[inside], other[inside]]))
    employed = (parties.employer >= parties.n_external) & (parties.employer < parties.n_external + pop.n)
    employee = np.flatnonzero(employed)
    pairs.append(np.stack([employee, parties.employer[employee] - parties.n_external]))
    both = np.concatenate(pairs, axis=1)
    return both[0].astype(np.int64), both[1].astype(np.int64)


# ---- the application and bureau fields ---------------------------------------------------------------------------


def _applications(
    rng: np.random.Generator, pop: _Population, plan: _Plan, inst: _Installments, loans: _Loans, cal: _Calendar
) -> tuple[pl.DataFrame, IntArray]:
    h = cal.n_history_months
    last_year = plan.inflow[:, max(h - 12, 0) : h]
    active = np.maximum((np.arange(max(h - 12, 0), h)[None, :] >= pop.first_month[:, None]).sum(axis=1), 1)
    annual = last_year.sum(axis=1) / active * 12.0
    # applicants round up: rings inflate a lot, a business past its best quotes the good year
    boast = np.where(pop.ring >= 0, 2.0, 1.0) * np.where(plan.inflow[:, h - 1] < 0.75 * annual / 12.0, 1.2, 1.0)
    declared = np.maximum(np.round(annual * boast * rng.lognormal(0.0, 0.4, pop.n), -2), 10_000.0)
    hunger = _sigmoid(-0.5 * pop.discipline + 1.5 * plan.stress[:, max(h - 6, 0) : h].mean(axis=1) - 0.5)
    inquiries = rng.poisson(0.8 + 0.8 * hunger + np.where(pop.ring >= 0, 2.0, 0.0))
    open_loans, worst_dpd = _bureau(inst, loans, pop.n, cal)
    individual = pop.kind == K.INDIVIDUAL
    purpose = np.where(
        individual & (rng.random(pop.n) < 0.8), LoanPurpose.CONSUMPTION.value, LoanPurpose.BUSINESS.value
    )
    frame = pl.DataFrame(
        {
            BORROWER_ID: pop.ids,
            "kind": pl.Series([k.value for k in KINDS]).gather(pop.kind),
            "region": pl.Series(REGIONS).gather(pop.region),
            "industry": pl.Series([s.value for s in SECTORS]).gather(pop.sector),
            "age": pop.age,
            "years_in_business": pl.Series(pop.years_in_business).fill_nan(None),
            "staff_count": pl.Series(pop.staff).set(pl.Series(individual), None),
            "declared_annual_revenue": _money_text(declared),
            "requested_amount": _money_text(plan.requested_amount),
            "requested_term_months": plan.requested_term,
            "loan_purpose": pl.Series(purpose),
            "bureau_inquiries_6m": inquiries.astype(np.int64),
            "bureau_open_loans": open_loans,
            "bureau_max_dpd_24m": worst_dpd,
            "has_mortgage": pop.has_mortgage.astype(np.int64),
        }
    )
    return frame, inquiries.astype(np.int64)


def _bureau(inst: _Installments, loans: _Loans, n: int, cal: _Calendar) -> tuple[IntArray, IntArray]:
    """What the credit report shows: only lenders that report, days past due in 30-day steps (M1, M2, ...)."""
    reporting = loans.lender < BUREAU_LENDERS
    running = (loans.start_month < cal.n_history_months) & (
        loans.start_month + loans.term_months >= cal.n_history_months
    )
    open_loans = np.bincount(loans.borrower[reporting & running], minlength=n).astype(np.int64)
    reported = reporting[inst.loan]
    worst = np.zeros(n, dtype=np.int64)
    np.maximum.at(worst, inst.borrower[reported], inst.days_late[reported])
    bucket: IntArray = (np.ceil(worst / 30.0) * 30).astype(np.int64)
    return open_loans, np.minimum(bucket, 180)


# ---- who defaults ------------------------------------------------------------------------------------------------

TARGET_DEFAULT_RATE = 0.05  # before rings and contagion, which bring the total to about 8 %


def _labels(
    rng: np.random.Generator, pop: _Population, plan: _Plan, net: _Network, inquiries: IntArray, cal: _Calendar
) -> IntArray:
    score = _risk_score(rng, pop, plan, net, inquiries, cal)
    intercept = _calibrate(score, TARGET_DEFAULT_RATE)
    p = _sigmoid(intercept + score)
    # rings take the money and never pay: first-payment default
    p = np.where(pop.ring >= 0, 0.85, p)
    first = rng.random(pop.n) < p
    # contagion: a defaulting guarantor, customer, supplier or employer drags its neighbours
    a, b = net.neighbours
    hits = np.bincount(np.concatenate([a[first[b]], b[first[a]]]), minlength=pop.n)
    second = rng.random(pop.n) < 1.0 - 0.8**hits
    result: IntArray = (first | second).astype(np.int64)
    return result


def _risk_score(
    rng: np.random.Generator, pop: _Population, plan: _Plan, net: _Network, inquiries: IntArray, cal: _Calendar
) -> FloatArray:
    """The latent drivers, several of them only partly visible at as_of (the future of a shock, the cash gap)."""
    h = cal.n_history_months
    past = plan.inflow[:, max(h - 12, 0) : h].mean(axis=1)
    # the next six months against the same six a year earlier: a fall that is not the season
    future = plan.inflow[:, h : h + 6].mean(axis=1)
    year_before = plan.inflow[:, max(h - 12, 0) : max(h - 6, 1)].mean(axis=1)
    comparable = pop.first_month <= h - 12  # a business younger than a year has no year before to fall from
    decline = np.where(comparable, np.clip(1.0 - future / np.maximum(year_before, 1.0), -0.5, 1.0), 0.0)
    spend = (plan.variable + plan.fixed + plan.debt)[:, max(h - 12, 0) : h].mean(axis=1)
    gap = np.clip(-plan.balance_end[:, h : h + FUTURE_MONTHS].min(axis=1) / np.maximum(spend, 1.0), 0.0, 4.0)
    debt_next_year = plan.debt[:, h : h + FUTURE_MONTHS].mean(axis=1) + plan.new_installment
    leverage = np.clip(debt_next_year / np.maximum(past, 1.0), 0.0, 3.0)
    short_months = plan.stress[:, max(h - 6, 0) : h].mean(axis=1)  # months that ended overdrawn, lately
    score: FloatArray = (
        1.2 * gap
        + 2.0 * decline
        + 1.5 * pop.sigma  # volatile income
        + 0.8 * short_months
        + 1.1 * leverage
        - 0.8 * pop.discipline
        + 2.0 * plan.known_partner_failure
        + 0.9 * net.guarantor_defaulted
        + 0.3 * (pop.age < 25)
        + 0.1 * inquiries
        + rng.normal(0.0, 0.5, pop.n)
    )
    return score


def _calibrate(score: FloatArray, rate: float) -> float:
    """The intercept that gives the wanted mean default probability (bisection; the mean is monotone in it)."""
    low, high = -20.0, 10.0
    for _ in range(60):
        mid = (low + high) / 2.0
        if float(_sigmoid(mid + score).mean()) > rate:
            high = mid
        else:
            low = mid
    return (low + high) / 2.0


# ---- the whole simulation ----------------------------------------------------------------------------------------


def simulate(config: SimulationConfig, on_step: Callable[[Step], None] | None = None) -> Simulation:
    """Borrowers, their alternative data as observed at `config.as_of`, and their defaults in the next 12 months."""
    done = on_step or (lambda _step: None)
    rngs = _streams(config.seed, 12)
    cal = _calendar(config)
    prof = _profiles(cal)
    pop = _population(rngs[0], config, cal)
    parties = _parties(rngs[1], pop, cal)
    done(Step.POPULATION)
    loans = _loans(rngs[2], pop, cal)
    plan = _cash_plan(rngs[3], pop, parties, loans, cal, prof)
    done(Step.CASH_PLAN)
    inst = _installments(rngs[4], pop, loans, plan, cal)
    repayments = _repayment_frame(inst, loans, pop, cal)
    done(Step.REPAYMENTS)
    transactions = _transactions(rngs[5], pop, parties, plan, inst, loans, cal, prof)
    done(Step.TRANSACTIONS)
    utilities = _utility_payments(rngs[6], pop, plan, cal)
    invoices = _tax_invoices(rngs[7], pop, parties, plan, cal, prof)
    done(Step.BILLS)
    net = _network(rngs[8], pop, parties, cal)
    done(Step.LINKS)
    applications, inquiries = _applications(rngs[9], pop, plan, inst, loans, cal)
    labels = _labels(rngs[10], pop, plan, net, inquiries, cal)
    done(Step.LABELS)
    data = AltData(
        borrowers=applications.select(BORROWER_ID),
        transactions=transactions,
        utility_payments=utilities,
        tax_invoices=invoices,
        repayments=repayments,
        relations=net.relations,
        devices=net.devices,
    )
    label_frame = pl.DataFrame({BORROWER_ID: pop.ids, TARGET: labels})
    return Simulation(config, applications, data, net.defaulted_parties, label_frame)


@dataclass(frozen=True, slots=True)
class TrainingTables:
    full: pl.DataFrame  # application fields + every feature + target
    application_only: pl.DataFrame  # application fields + target

    @property
    def labels(self) -> dict[str, dict[str, str]]:
        return feature_labels(self.full.columns)


def training_tables(sim: Simulation) -> TrainingTables:
    """The model's tables, the features computed by `build_features` exactly as at decision time."""
    features = build_features(sim.data, sim.config.as_of, sim.defaulted_parties)
    full = sim.applications.join(features, on=BORROWER_ID, how="left", maintain_order="left")
    full = full.join(sim.labels, on=BORROWER_ID, how="left", maintain_order="left")
    application_only = sim.applications.join(sim.labels, on=BORROWER_ID, how="left", maintain_order="left")
    return TrainingTables(full, application_only)


# ---- files -------------------------------------------------------------------------------------------------------

APPLICATIONS_FILE = "borrowers.csv"
LABELS_FILE = "labels.csv"
DEFAULTED_FILE = "defaulted_parties.csv"
TRAINING_FILE = "training.csv"
APPLICATION_ONLY_FILE = "training_application_only.csv"
LABELS_JSON = "feature_labels.json"
MANIFEST = "manifest.json"


OUTPUT_FILES = len(Source) + 7  # what write_simulation writes, for progress bars


def source_file(source: Source, fmt: OutputFormat) -> str:
    return f"{source.value}.{fmt.value}"


def row_counts(sim: Simulation, tables: TrainingTables) -> dict[str, int]:
    """Rows per written file name (both formats), for summaries."""
    counts = {
        APPLICATIONS_FILE: sim.applications.height,
        DEFAULTED_FILE: sim.defaulted_parties.height,
        LABELS_FILE: sim.labels.height,
        TRAINING_FILE: tables.full.height,
        APPLICATION_ONLY_FILE: tables.application_only.height,
    }
    for source in Source:
        frame = sim.data.frame(source)
        for fmt in OutputFormat:
            counts[source_file(source, fmt)] = 0 if frame is None else frame.height
    return counts


def write_simulation(
    sim: Simulation, tables: TrainingTables, out: Path, fmt: OutputFormat, on_file: Callable[[str], None] | None = None
) -> list[Path]:
    """Every output file (the same bytes for the same seed); returns their paths in writing order."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def record(name: str) -> None:
        written.append(out / name)
        if on_file:
            on_file(name)

    def csv(frame: pl.DataFrame, name: str) -> None:
        # six decimals are plenty for a feature and keep the file (and its bytes) short and stable
        frame.with_columns(pl.col(pl.Float64).round(6)).write_csv(out / name)
        record(name)

    csv(sim.applications, APPLICATIONS_FILE)
    for source in Source:
        frame = sim.data.frame(source)
        assert frame is not None
        name = source_file(source, fmt)
        if fmt is OutputFormat.PARQUET:
            frame.write_parquet(out / name, compression="zstd", statistics=True)
            record(name)
        else:
            csv(frame, name)
    csv(sim.defaulted_parties, DEFAULTED_FILE)
    csv(sim.labels, LABELS_FILE)
    csv(tables.full, TRAINING_FILE)
    csv(tables.application_only, APPLICATION_ONLY_FILE)
    for name, body in ((LABELS_JSON, tables.labels), (MANIFEST, manifest(sim, fmt))):
        (out / name).write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        record(name)
    return written


def default_rate(sim: Simulation) -> float:
    return float(sim.labels[TARGET].to_numpy().mean()) if sim.labels.height else 0.0


def manifest(sim: Simulation, fmt: OutputFormat) -> dict[str, Any]:
    cfg = sim.config
    rows = {s.value: 0 if (f := sim.data.frame(s)) is None else f.height for s in Source}
    return {
        "seed": cfg.seed,
        "as_of": cfg.as_of.isoformat(),
        "months": cfg.months,
        "borrowers": cfg.borrowers,
        "format": fmt.value,
        "default_rate": round(default_rate(sim), 4),
        "rows": rows,
        "target": TARGET,
        "id_column": BORROWER_ID,
    }


def read_simulation(directory: Path) -> tuple[AltData, pl.DataFrame]:
    """The alternative data and the known defaulted parties back from a `write_simulation` directory (parquet or
    CSV; CSV columns come back as text, which `build_features` accepts)."""
    borrowers = pl.read_csv(directory / APPLICATIONS_FILE, columns=[BORROWER_ID])
    frames: dict[Source, pl.DataFrame] = {}
    for source in Source:
        parquet, text = (
            directory / source_file(source, OutputFormat.PARQUET),
            directory / source_file(source, OutputFormat.CSV),
        )
        if parquet.exists():
            frames[source] = pl.read_parquet(parquet)
        elif text.exists():
            frames[source] = pl.read_csv(text, infer_schema=False)
    defaulted = pl.read_csv(directory / DEFAULTED_FILE, infer_schema=False)
    return AltData.of(borrowers, frames), defaulted
