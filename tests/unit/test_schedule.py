"""Repayment schedules against an independent reference (integer fen, exact rationals), plus the CLI.

The reference below re-implements the conventions of DESIGN.md / rules.md §2 from scratch and
imports nothing from puhui's schedule code:
- periodic rate r = annual / 12 (or, for actual-days interest, annual x days / basis);
- every component rounded half-up to the fen;
- equal_installment: M = round(P r (1+r)^n / ((1+r)^n - 1)) (P / n when r = 0),
  interest_k = round(balance r), principal_k = M - interest_k;
- equal_principal: principal = round(P / n), interest on the opening balance;
- interest_only: interest round(P r) every period, P at the end;
- flat_rate: interest round(P r) on the ORIGINAL principal, principal as equal_principal;
- the last installment takes the whole remaining balance as principal;
- the per-period fee is added to the payment.
"""

from __future__ import annotations

import calendar
import itertools
import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from puhui.cli import app, schedule_json
from puhui.domain.apr import apr_of_schedule
from puhui.domain.enums import DayCount, PeriodInterest, RepaymentMethod
from puhui.domain.schedule import LoanTerms, RevolvingError, RevolvingLine, Schedule, ScheduleError, generate
from tests.unit.test_apr import reference_apr_percent

D = Decimal
FIXED_METHODS = [m for m in RepaymentMethod if m.is_fixed_term]

# --- the independent reference -------------------------------------------------------------


def half_up(numerator: int, denominator: int) -> int:
    """round(numerator / denominator) half-up, for a non-negative ratio of integers."""
    assert numerator >= 0 and denominator > 0
    return (2 * numerator + denominator) // (2 * denominator)


def ref_due_date(start: date, k: int) -> date:
    year, month0 = divmod(start.year * 12 + start.month - 1 + k, 12)
    return date(year, month0 + 1, min(start.day, calendar.monthrange(year, month0 + 1)[1]))


@dataclass(frozen=True)
class RefRow:
    n: int
    due_date: date
    principal: int  # all amounts in fen
    interest: int
    fee: int
    payment: int
    balance: int


@dataclass(frozen=True)
class RefSchedule:
    rows: list[RefRow]
    upfront_fee: int

    @property
    def total_interest(self) -> int:
        return sum(r.interest for r in self.rows)

    @property
    def total_fees(self) -> int:
        return self.upfront_fee + sum(r.fee for r in self.rows)

    @property
    def total_repayment(self) -> int:
        return sum(r.payment for r in self.rows)


def reference_schedule(
    principal: int,
    annual: Fraction,
    n: int,
    method: str,
    start: date,
    *,
    fee: int = 0,
    upfront: int = 0,
    basis: int | None = None,  # None: monthly rate; 360 or 365: actual days in the period
) -> RefSchedule:
    a, b = annual.numerator, annual.denominator
    dates = [ref_due_date(start, k) for k in range(1, n + 1)]
    days = [(end - begin).days for begin, end in zip([start, *dates[:-1]], dates, strict=True)]

    def interest(k: int, balance: int) -> int:
        if basis is None:
            return half_up(balance * a, b * 12)
        return half_up(balance * a * days[k], b * basis)

    rows: list[RefRow] = []
    balance = principal
    if method == "equal_installment":
        if a == 0:
            payment = half_up(principal, n)
        else:
            q = 12 * b  # r = a / q
            grown, base = (q + a) ** n, q**n  # (1 + r)^n = grown / base
            payment = half_up(principal * a * grown, q * (grown - base))
    part = half_up(principal, n)
    for k in range(n):
        last = k == n - 1
        if method == "equal_installment":
            i = interest(k, balance)
            p = balance if last else payment - i
        elif method == "equal_principal":
            i = interest(k, balance)
            p = balance if last else part
        elif method == "flat_rate":
            i = interest(k, principal)
            p = balance if last else part
        elif method == "interest_only":
            i = interest(k, principal)
            p = principal if last else 0
        else:
            raise AssertionError(method)
        balance -= p
        rows.append(RefRow(k + 1, dates[k], p, i, fee, p + i + fee, balance))
    return RefSchedule(rows, upfront)


def fen(amount: Decimal) -> int:
    value = amount * 100
    assert value == value.to_integral_value(), f"{amount} is not whole fen"
    return int(value)


def text(fen_amount: int) -> str:
    """The JSON form of an amount, built independently: "12000.00"."""
    sign = "-" if fen_amount < 0 else ""
    whole, cents = divmod(abs(fen_amount), 100)
    return f"{sign}{whole}.{cents:02d}"


def expected_json(ref: RefSchedule) -> dict[str, Any]:
    return {
        "installments": [
            {
                "n": r.n,
                "due_date": r.due_date.isoformat(),
                "principal": text(r.principal),
                "interest": text(r.interest),
                "fee": text(r.fee),
                "payment": text(r.payment),
                "balance": text(r.balance),
            }
            for r in ref.rows
        ],
        "upfront_fee": text(ref.upfront_fee),
        "total_interest": text(ref.total_interest),
        "total_fees": text(ref.total_fees),
    }


def as_rows(schedule: Schedule) -> list[RefRow]:
    return [
        RefRow(i.n, i.due_date, fen(i.principal), fen(i.interest), fen(i.fee), fen(i.payment), fen(i.balance))
        for i in schedule.installments
    ]


def make_terms(
    principal: int,
    rate: str,
    n: int,
    method: str,
    start: date,
    fee: int = 0,
    upfront: int = 0,
    basis: int | None = None,
) -> LoanTerms:
    return LoanTerms(
        principal=D(principal).scaleb(-2),
        rate_annual=D(rate),
        term_months=n,
        method=RepaymentMethod(method),
        start_date=start,
        upfront_fee=D(upfront).scaleb(-2),
        fee_per_period=D(fee).scaleb(-2),
        day_count=DayCount.ACT_360 if basis == 360 else DayCount.ACT_365,
        period_interest=PeriodInterest.MONTHLY_RATE if basis is None else PeriodInterest.ACTUAL_DAYS,
    )


def test_the_reference_itself_reproduces_the_rules_md_formulas() -> None:
    # Guard the guard: rules.md §2 worked numbers straight from the reference.
    ei = reference_schedule(1_000_000, Fraction(12, 100), 12, "equal_installment", date(2026, 1, 15))
    assert ei.rows[0].payment == 88849 and ei.rows[-1].payment == 88847
    ep = reference_schedule(1_000_000, Fraction(12, 100), 12, "equal_principal", date(2026, 1, 15))
    assert ep.rows[0].payment == 93333 and ep.total_interest == 65000
    assert half_up(5, 1000) == 0 and half_up(1, 2) == 1 and half_up(3, 2) == 2 and half_up(149, 100) == 1


# --- known values ---------------------------------------------------------------------------


def _generate(principal: str, rate: str, n: int, method: RepaymentMethod, **kw: Any) -> Schedule:
    return generate(LoanTerms(D(principal), D(rate), n, method, kw.pop("start", date(2026, 1, 31)), **kw))


def test_equal_installment_10000_12_months_12_percent() -> None:
    s = _generate("10000.00", "0.12", 12, RepaymentMethod.EQUAL_INSTALLMENT)
    payments = [i.payment for i in s.installments]
    assert payments[:-1] == [D("888.49")] * 11
    assert payments[-1] == D("888.47")  # the last settles the remainder of the rounded payment
    assert s.installments[0].interest == D("100.00") and s.installments[0].principal == D("788.49")
    assert s.total_principal == D("10000.00")
    assert s.installments[-1].balance == D("0.00")


def test_equal_principal_10000_12_months_12_percent() -> None:
    s = _generate("10000.00", "0.12", 12, RepaymentMethod.EQUAL_PRINCIPAL)
    assert s.installments[0].payment == D("933.33")
    assert s.total_interest == D("650.00")
    # rules.md's 841.67 is the unrounded formula (833.33.. + 8.33..); here the last installment
    # settles the remaining 833.37 of principal so principal sums exactly to 10,000.
    assert s.installments[-1].principal == D("833.37")
    assert s.installments[-1].interest == D("8.33")
    assert s.installments[-1].payment == D("841.70")
    assert s.total_principal == D("10000.00")


def test_flat_rate_12000_12_months_12_percent() -> None:
    s = _generate("12000.00", "0.12", 12, RepaymentMethod.FLAT_RATE)
    assert [i.payment for i in s.installments] == [D("1120.00")] * 12
    assert s.total_interest == D("1440.00")  # 1 % a month on the ORIGINAL 12,000, all year


def test_interest_only_pays_the_principal_at_the_end() -> None:
    s = _generate("10000.00", "0.12", 6, RepaymentMethod.INTEREST_ONLY)
    assert [i.payment for i in s.installments] == [D("100.00")] * 5 + [D("10100.00")]
    assert [i.balance for i in s.installments] == [D("10000.00")] * 5 + [D("0.00")]


def test_fees_per_period_are_added_to_every_payment_and_counted_in_total_fees() -> None:
    s = _generate("10000.00", "0", 12, RepaymentMethod.EQUAL_PRINCIPAL, fee_per_period=D("60.00"), upfront_fee=D("300"))
    assert [i.payment for i in s.installments] == [D("893.33")] * 11 + [D("893.37")]
    assert s.total_fees == D("300") + 12 * D("60.00")
    assert s.total_interest == 0


def test_half_a_fen_of_interest_rounds_up() -> None:
    # 3,300,492.00 x 2.5 % / 12 = 6,876.025 exactly: half-up gives 6,876.03, never 6,876.02.
    s = _generate("3300492.00", "0.025", 2, RepaymentMethod.INTEREST_ONLY)
    assert s.installments[0].interest == D("6876.03")
    # 10,000.20 x 10 % / 12 = 83.335 exactly.
    s = _generate("10000.20", "0.10", 2, RepaymentMethod.INTEREST_ONLY)
    assert s.installments[0].interest == D("83.34")


def test_actual_days_interest_act_360_and_act_365_by_hand() -> None:
    # 10,000 at 12 %, start Jan 31: the first period has 28 days (to Feb 28), the second 31.
    #   ACT/360: 10,000 x 0.12 x 28 / 360 = 93.333..  -> 93.33;  x 31 / 360 = 103.333.. -> 103.33
    #   ACT/365: 10,000 x 0.12 x 28 / 365 = 92.054..  -> 92.05;  x 31 / 365 = 101.917.. -> 101.92
    kw: dict[str, Any] = {"period_interest": PeriodInterest.ACTUAL_DAYS}
    act360 = _generate("10000.00", "0.12", 2, RepaymentMethod.INTEREST_ONLY, day_count=DayCount.ACT_360, **kw)
    act365 = _generate("10000.00", "0.12", 2, RepaymentMethod.INTEREST_ONLY, day_count=DayCount.ACT_365, **kw)
    assert [i.interest for i in act360.installments] == [D("93.33"), D("103.33")]
    assert [i.interest for i in act365.installments] == [D("92.05"), D("101.92")]
    monthly = _generate("10000.00", "0.12", 2, RepaymentMethod.INTEREST_ONLY)
    assert [i.interest for i in monthly.installments] == [D("100.00"), D("100.00")]


def test_actual_days_interest_on_the_opening_balance_and_an_exact_half() -> None:
    # Equal principal, ACT/365, 10 %: Jan 15 -> Feb 15 is 31 days on 1,295.75:
    # 1,295.75 x 0.10 x 31 / 365 = 11.005 exactly -> 11.01.
    s = _generate(
        "1295.75",
        "0.10",
        2,
        RepaymentMethod.EQUAL_PRINCIPAL,
        start=date(2026, 1, 15),
        day_count=DayCount.ACT_365,
        period_interest=PeriodInterest.ACTUAL_DAYS,
    )
    assert s.installments[0].interest == D("11.01")
    # second period Feb 15 -> Mar 15 is 28 days on the 647.87 left: 647.87 x 0.1 x 28 / 365 = 4.9699.. -> 4.97
    assert s.installments[0].principal == D("647.88")
    assert s.installments[1].interest == D("4.97")


# --- everything against the reference ---------------------------------------------------------

AMOUNTS = [10_000, 123_457, 1_000_000, 9_999_999, 330_049_200, 77_777_777, 1_000_000_000]  # fen: 100 .. 10 M
RATES = ["0", "0.0999", "0.12", "0.1825", "0.2416", "0.36", "0.025", "0.0735", "0.10", "0.0435"]
STARTS = [date(2026, 1, 29), date(2026, 1, 30), date(2026, 1, 31), date(2027, 12, 31), date(2027, 8, 30)]
FEES = [0, 0, 6_000, 1, 0]


@pytest.mark.parametrize("basis", [None, 360, 365], ids=["monthly", "act360", "act365"])
@pytest.mark.parametrize("method", [m.value for m in FIXED_METHODS])
def test_schedule_json_matches_the_reference_for_terms_1_to_60(method: str, basis: int | None) -> None:
    for n in range(1, 61):
        for j in range(3):
            principal = AMOUNTS[(n + j) % len(AMOUNTS)]
            rate = RATES[(3 * n + j) % len(RATES)]
            start = STARTS[(n + 2 * j) % len(STARTS)]
            fee = FEES[(n + j) % len(FEES)]
            upfront = principal // 100 if j == 1 else 0
            schedule = generate(make_terms(principal, rate, n, method, start, fee, upfront, basis))
            got = schedule_json(schedule, apr_of_schedule(schedule))
            ref = reference_schedule(principal, Fraction(rate), n, method, start, fee=fee, upfront=upfront, basis=basis)
            want = expected_json(ref)
            assert {k: got[k] for k in want} == want, (method, basis, n, principal, rate, start)
            assert got["total_repayment"] == text(ref.total_repayment)


# --- the real command line --------------------------------------------------------------------

CLI_CASES = [
    ("10000", "0.12", 12, "equal_installment", "2026-01-31", "0", "0"),
    ("10000.00", "0.12", 12, "equal_principal", "2026-01-30", "0", "0"),
    ("12000", "0.12", 12, "flat_rate", "2026-01-29", "0", "0"),
    ("10000", "0.12", 12, "equal_installment", "2027-12-31", "300", "0"),
    ("10000", "0", 12, "equal_principal", "2026-03-31", "0", "60"),
    ("2500000.55", "0.1825", 60, "interest_only", "2028-01-31", "1000.00", "12.34"),
    ("100", "0.36", 7, "equal_installment", "2026-05-31", "0", "0.01"),
]


def _cli_args(principal: str, rate: str, n: int, method: str, start: str, upfront: str, fee: str) -> list[str]:
    return [
        "schedule",
        "--principal",
        principal,
        "--annual-rate",
        rate,
        "--term",
        str(n),
        "--method",
        method,
        "--start",
        start,
        "--upfront-fee",
        upfront,
        "--period-fee",
        fee,
        "--json",
    ]


def _expected_cli(principal: str, rate: str, n: int, method: str, start: str, upfront: str, fee: str) -> dict[str, Any]:
    ref = reference_schedule(
        fen(D(principal)),
        Fraction(rate),
        n,
        method,
        date.fromisoformat(start),
        fee=fen(D(fee)),
        upfront=fen(D(upfront)),
    )
    net = D(fen(D(principal)) - fen(D(upfront))).scaleb(-2)
    apr_percent = reference_apr_percent(net, [D(r.payment).scaleb(-2) for r in ref.rows])
    want = expected_json(ref)
    want["apr"] = str((apr_percent / 100).quantize(D("0.0001")))
    want["apr_percent"] = str(apr_percent)
    return want


@pytest.mark.parametrize("case", CLI_CASES, ids=[f"{c[3]}-{c[0]}-{c[2]}m" for c in CLI_CASES])
def test_cli_schedule_json_matches_the_reference(case: tuple[str, str, int, str, str, str, str]) -> None:
    result = CliRunner().invoke(app, _cli_args(*case))
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    want = _expected_cli(*case)
    assert {k: got[k] for k in want} == want


def test_cli_known_values_by_eye() -> None:
    result = CliRunner().invoke(app, _cli_args("10000", "0.12", 12, "equal_installment", "2026-01-31", "300", "0"))
    got = json.loads(result.stdout)
    assert [i["payment"] for i in got["installments"]] == ["888.49"] * 11 + ["888.47"]
    assert got["installments"][0]["due_date"] == "2026-02-28"
    assert got["installments"][1]["due_date"] == "2026-03-31"
    assert got["upfront_fee"] == "300.00"
    assert got["total_fees"] == "300.00"
    assert got["total_interest"] == "661.86"  # 12 x 888.49 - 2 - 10,000
    assert got["apr"] == "0.1783"


def test_installed_puhui_command_prints_the_schedule_json() -> None:
    exe = Path(sys.executable).with_name("puhui")
    if not exe.exists():
        pytest.skip("the puhui console script is not installed in this environment")
    case = ("10000", "0.12", 12, "equal_principal", "2026-01-31", "0", "0")
    proc = subprocess.run([str(exe), *_cli_args(*case)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    want = _expected_cli(*case)
    assert {k: got[k] for k in want} == want
    assert got["installments"][-1]["payment"] == "841.70"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--principal", "10000", "--annual-rate", "0.12", "--term", "12", "--method", "revolving_daily"], "revolving"),
        (["--principal", "10000.001", "--annual-rate", "0.12", "--term", "12"], "two decimals"),
        (["--principal", "10000", "--annual-rate", "12", "--term", "12"], "fraction"),
        (["--principal", "10000", "--annual-rate", "0.12", "--term", "0"], "term"),
        (["--principal", "10000", "--annual-rate", "0.12", "--term", "12", "--upfront-fee", "10000"], "upfront_fee"),
    ],
)
def test_cli_refuses_bad_terms_with_exit_code_2(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(app, ["schedule", *args, "--start", "2026-01-31", "--json"])
    assert result.exit_code == 2
    assert needle in result.output.replace("\n", " ")


# --- properties -----------------------------------------------------------------------------


FIRST_START = date(2024, 1, 1)


# Integers only: every draw costs Hypothesis time, and 10,000 examples must stay quick.
@settings(max_examples=10_000, deadline=None, derandomize=True, database=None)
@given(
    principal=st.integers(min_value=10_000, max_value=1_000_000_000),  # ¥100 .. ¥10,000,000 in fen
    rate_micro=st.integers(min_value=0, max_value=360_000),  # 0 .. 36 % in millionths
    n=st.integers(min_value=1, max_value=60),
    method_index=st.integers(min_value=0, max_value=3),
    start_offset=st.integers(min_value=0, max_value=7 * 366),  # start dates 2024 .. 2030
    fee=st.integers(min_value=-100_000, max_value=100_000),  # negative: no fee (half the time)
    basis_index=st.integers(min_value=0, max_value=3),  # 0, 1: monthly rate; 2: ACT/360; 3: ACT/365
)
def test_schedule_invariants_and_reference(
    principal: int, rate_micro: int, n: int, method_index: int, start_offset: int, fee: int, basis_index: int
) -> None:
    method = FIXED_METHODS[method_index].value
    start = FIRST_START + timedelta(days=start_offset)
    fee = max(fee, 0)
    basis = (None, None, 360, 365)[basis_index]
    rate = str(D(rate_micro).scaleb(-6))
    schedule = generate(make_terms(principal, rate, n, method, start, fee, 0, basis))
    rows = as_rows(schedule)

    assert [r.n for r in rows] == list(range(1, n + 1))
    assert sum(r.principal for r in rows) == principal  # principal sums exactly to the amount
    assert all(min(r.principal, r.interest, r.fee, r.payment, r.balance) >= 0 for r in rows)
    assert all(r.payment == r.principal + r.interest + r.fee for r in rows)
    assert all(r.fee == fee for r in rows)
    balances = [principal, *(r.balance for r in rows)]
    assert all(later <= earlier for earlier, later in itertools.pairwise(balances))  # never increases
    assert [r.balance for r in rows] == [principal - paid for paid in itertools.accumulate(r.principal for r in rows)]
    assert rows[-1].balance == 0
    assert all(a.due_date < b.due_date for a, b in itertools.pairwise(rows))
    assert rows == reference_schedule(principal, Fraction(rate), n, method, start, fee=fee, basis=basis).rows


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"principal": D("0")}, "principal"),
        ({"principal": D("-100")}, "principal"),
        ({"principal": D("100.001")}, "principal"),
        ({"term_months": 0}, "term_months"),
        ({"term_months": 601}, "term_months"),
        ({"rate_annual": D("-0.01")}, "rate_annual"),
        ({"rate_annual": D("1.5")}, "rate_annual"),
        ({"upfront_fee": D("10000.00")}, "upfront_fee"),  # the fee would swallow the principal
        ({"upfront_fee": D("12000.00")}, "upfront_fee"),
        ({"upfront_fee": D("-1")}, "upfront_fee"),
        ({"fee_per_period": D("0.001")}, "fee_per_period"),
        ({"method": RepaymentMethod.REVOLVING_DAILY}, "method"),
    ],
)
def test_schedule_error_names_the_bad_field(changes: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {
        "principal": D("10000.00"),
        "rate_annual": D("0.12"),
        "term_months": 12,
        "method": RepaymentMethod.EQUAL_INSTALLMENT,
        "start_date": date(2026, 1, 31),
    }
    with pytest.raises(ScheduleError) as info:
        generate(LoanTerms(**(base | changes)))
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_an_upfront_fee_just_below_the_principal_is_accepted() -> None:
    s = _generate("10000.00", "0.12", 12, RepaymentMethod.EQUAL_INSTALLMENT, upfront_fee=D("9999.99"))
    assert s.total_principal == D("10000.00")


# --- revolving line (随借随还) ----------------------------------------------------------------

DAY0 = date(2026, 3, 1)


def _line(limit: str = "50000.00", rate: str = "0.1825", basis: DayCount = DayCount.ACT_365) -> RevolvingLine:
    return RevolvingLine(limit=D(limit), rate_annual=D(rate), day_count=basis, as_of=DAY0)


def test_draws_within_the_limit_and_refuses_over_limit() -> None:
    line = _line("10000.00").draw(DAY0, D("6000.00")).draw(DAY0, D("4000.00"))
    assert line.principal == D("10000.00") and line.available == D("0.00")
    with pytest.raises(RevolvingError, match="exceeds the available"):
        line.draw(DAY0, D("0.01"))
    with pytest.raises(RevolvingError, match="exceeds the available"):
        _line("10000.00").draw(DAY0, D("10000.01"))


@pytest.mark.parametrize("amount", ["0", "-1.00", "1.001"])
def test_draws_and_repayments_must_be_positive_whole_fen(amount: str) -> None:
    with pytest.raises(RevolvingError):
        _line().draw(DAY0, D(amount))
    with pytest.raises(RevolvingError):
        _line().draw(DAY0, D("100.00")).repay(DAY0, D(amount))


def test_interest_is_the_sum_of_daily_balances_times_the_rate() -> None:
    # 10,000 for 30 days at 0.05 % a day (18.25 % / 365): 10,000 x 0.0005 x 30 = 150.00
    line = _line().draw(DAY0, D("10000.00"))
    assert line.accrued_interest(DAY0) == D("0.00")
    assert line.accrued_interest(DAY0 + timedelta(days=1)) == D("5.00")
    assert line.accrued_interest(DAY0 + timedelta(days=30)) == D("150.00")
    # the same annual rate on ACT/360 is dearer by the day: 10,000 x 0.1825 x 30 / 360 = 152.083..
    act360 = _line(basis=DayCount.ACT_360).draw(DAY0, D("10000.00"))
    assert act360.accrued_interest(DAY0 + timedelta(days=30)) == D("152.08")


def test_interest_follows_the_balance_through_draws() -> None:
    # 1,000 for 10 days, then 3,000 for 5 days at 0.05 %/day: (10,000 + 15,000) x 0.0005 = 12.50
    line = _line().draw(DAY0, D("1000.00")).draw(DAY0 + timedelta(days=10), D("2000.00"))
    assert line.accrued_interest(DAY0 + timedelta(days=15)) == D("12.50")


def test_repayment_settles_interest_first_then_principal_and_reports_excess() -> None:
    line = _line().draw(DAY0, D("10000.00"))
    day30 = DAY0 + timedelta(days=30)
    line, split = line.repay(day30, D("100.00"))  # less than the 150.00 interest owed
    assert split == (D("100.00"), D("0.00"), D("0.00"))
    assert line.principal == D("10000.00")
    assert line.accrued_interest(day30) == D("50.00")
    line, split = line.repay(day30, D("1050.00"))
    assert split == (D("50.00"), D("1000.00"), D("0.00"))
    assert line.principal == D("9000.00") and line.available == D("41000.00")
    # 9,000 for 10 more days: 45.00 of interest; pay 10,000 -> 45 + 9,000 + 955 excess
    line, split = line.repay(day30 + timedelta(days=10), D("10000.00"))
    assert split == (D("45.00"), D("9000.00"), D("955.00"))
    assert line.principal == 0
    assert line.accrued_interest(day30 + timedelta(days=400)) == 0


def test_repaying_a_clear_line_is_all_excess() -> None:
    _, split = _line().repay(DAY0, D("10.00"))
    assert split == (D("0.00"), D("0.00"), D("10.00"))


def test_events_before_the_last_one_are_refused() -> None:
    line = _line().draw(DAY0 + timedelta(days=5), D("100.00"))
    earlier = DAY0 + timedelta(days=4)
    with pytest.raises(RevolvingError, match="before"):
        line.draw(earlier, D("1.00"))
    with pytest.raises(RevolvingError, match="before"):
        line.repay(earlier, D("1.00"))
    with pytest.raises(RevolvingError, match="before"):
        line.accrued_interest(earlier)
    assert line.draw(DAY0 + timedelta(days=5), D("1.00")).principal == D("101.00")  # same day is fine


def test_daily_repayments_do_not_round_the_interest_up_every_day() -> None:
    # 10.00 borrowed for one night at 0.05 %/day is 0.005 of interest. Borrowed and repaid 100
    # times, that is 0.50 in all; rounding each half fen up on its own would charge 1.00.
    line, paid, day = _line(), D(0), DAY0
    for _ in range(100):
        line = line.draw(day, D("10.00"))
        day += timedelta(days=1)
        line, split = line.repay(day, D("10.01"))
        paid += split.interest
        assert split.interest + split.principal + split.excess == D("10.01")
    assert paid == D("0.50")
    assert line.principal == 0 and line.accrued_interest(day) == 0


@st.composite
def _events(draw: st.DrawFn) -> list[tuple[int, str, int]]:
    count = draw(st.integers(min_value=1, max_value=60))
    return [
        (
            draw(st.integers(min_value=0, max_value=20)),
            draw(st.sampled_from(["draw", "repay"])),
            draw(st.integers(min_value=1, max_value=3_000_000)),
        )
        for _ in range(count)
    ]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    events=_events(),
    rate_micro=st.integers(min_value=0, max_value=360_000),
    basis=st.sampled_from([DayCount.ACT_360, DayCount.ACT_365]),
)
def test_revolving_interest_never_drifts_from_the_exact_total(
    events: list[tuple[int, str, int]], rate_micro: int, basis: DayCount
) -> None:
    annual = Fraction(rate_micro, 1_000_000)
    days_in_year = 360 if basis is DayCount.ACT_360 else 365
    line = RevolvingLine(D("20000.00"), D(rate_micro).scaleb(-6), basis, DAY0)
    day, principal, exact, paid = DAY0, 0, Fraction(0), 0  # fen; exact interest in fen
    for gap, kind, amount in events:
        exact += principal * gap * annual / days_in_year
        day += timedelta(days=gap)
        owed = half_up(exact.numerator, exact.denominator) - paid
        assert fen(line.accrued_interest(day)) == owed  # rounded once, from the exact total
        if kind == "draw":
            if amount > 2_000_000 - principal:
                with pytest.raises(RevolvingError):
                    line.draw(day, D(amount).scaleb(-2))
                continue
            line = line.draw(day, D(amount).scaleb(-2))
            principal += amount
        else:
            line, split = line.repay(day, D(amount).scaleb(-2))
            interest = min(amount, owed)
            to_principal = min(amount - interest, principal)
            assert (fen(split.interest), fen(split.principal), fen(split.excess)) == (
                interest,
                to_principal,
                amount - interest - to_principal,
            )
            paid += interest
            principal -= to_principal
        assert fen(line.principal) == principal
