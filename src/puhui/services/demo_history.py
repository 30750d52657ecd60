"""A year of believable history for the demo lender, made through the real use cases.

Borrowers of every kind apply, sign and are paid out on days spread over the year; each loan gets
a behaviour (on time, late then cured, prepaid, paid off early, restructured, defaulted and
written off) and the end-of-day run closes every business day in between, so the console and the
reports show loans in every state with ledger postings behind every figure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Connection, func, select

from puhui.adapters.db.tables import eod_runs, loan_servicing
from puhui.bootstrap import Container
from puhui.clock import FixedClock
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.domain.identity import id_number_check_char, uscc_check_char
from puhui.domain.servicing import PrepaymentChoice
from puhui.money import to_minor
from puhui.services import seeding, servicing
from puhui.services.eod import run_eod

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "华",
    "平",
]
SHOPS = [
    "便利店",
    "小吃店",
    "五金店",
    "服装店",
    "水果店",
    "快递驿站",
    "美发店",
    "汽修店",
    "农资店",
    "茶叶店",
    "早餐店",
    "文具店",
]
FIRMS = [
    "商贸有限公司",
    "科技有限公司",
    "食品有限公司",
    "物流有限公司",
    "农业发展有限公司",
    "服饰有限公司",
    "建材有限公司",
]
CITIES = {"330106": "杭州", "310101": "上海", "440305": "深圳", "510104": "成都", "420102": "武汉", "350203": "厦门"}
SECTORS = [Sector.RETAIL, Sector.WHOLESALE, Sector.AGRICULTURE, Sector.INDUSTRY, Sector.TRANSPORT]
FINANCE = Principal(SubjectKind.STAFF, "demo-finance", Role.FINANCE)
OFFICER = Principal(SubjectKind.STAFF, "demo-officer", Role.OFFICER)


class Behaviour(StrEnum):
    ON_TIME = "on_time"
    LATE_CURED = "late_cured"
    PREPAY = "prepay"
    PAYOFF = "payoff"
    RESTRUCTURED = "restructured"
    DEFAULTED = "defaulted"


BEHAVIOURS = [
    (Behaviour.ON_TIME, 62),
    (Behaviour.LATE_CURED, 14),
    (Behaviour.PREPAY, 7),
    (Behaviour.PAYOFF, 7),
    (Behaviour.RESTRUCTURED, 3),
    (Behaviour.DEFAULTED, 7),
]


@dataclass
class Plan:
    loan_id: str
    who: seeding.Onboarded
    behaviour: Behaviour
    lag_days: int  # how late a late payer pays
    product: str
    paid_installments: int = 0
    stop_after: int = 99  # a defaulter stops paying after this many installments
    event_day: date | None = None  # prepayment / payoff day
    shorter_term: bool = True  # a prepayer's choice: shorter term or smaller installments
    done: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class HistorySummary:
    borrowers: int
    loans: int
    days: int
    statuses: dict[str, int]


def has_history(container: Container) -> bool:
    return bool(container.db.read(lambda c: c.execute(select(func.count()).select_from(eod_runs)).scalar_one()))


def _amount(rng: random.Random, low: int, high: int, step: int = 1000) -> Decimal:
    return Decimal(rng.randrange(low // step, high // step + 1) * step)


def _product_for(rng: random.Random, kind: BorrowerKind) -> tuple[str, Decimal, int]:
    if kind is BorrowerKind.INDIVIDUAL:
        if rng.random() < 0.6:
            return "PH-FLAT", _amount(rng, 5_000, 50_000), rng.choice([6, 12])
        return "PH-AGRI", _amount(rng, 5_000, 100_000), rng.choice([6, 12, 24])
    if kind is BorrowerKind.INDIVIDUAL_BUSINESS:
        pick = rng.random()
        if pick < 0.6:
            return "PH-EI", _amount(rng, 20_000, 300_000), rng.choice([6, 12, 24])
        if pick < 0.8:
            return "PH-IO", _amount(rng, 20_000, 300_000), rng.choice([6, 12])
        return "PH-AGRI", _amount(rng, 10_000, 100_000), rng.choice([12, 24])
    pick = rng.random()
    if pick < 0.5:
        return "PH-EI", _amount(rng, 100_000, 500_000, 10_000), rng.choice([12, 24, 36])
    if pick < 0.8:
        return "PH-EP", _amount(rng, 100_000, 500_000, 10_000), rng.choice([12, 24])
    return "PH-IO", _amount(rng, 100_000, 500_000, 10_000), rng.choice([6, 12])


def _onboard(container: Container, rng: random.Random, serial: int) -> tuple[seeding.Onboarded, BorrowerKind]:
    kind = rng.choices(
        [BorrowerKind.INDIVIDUAL_BUSINESS, BorrowerKind.INDIVIDUAL, BorrowerKind.ENTERPRISE], [50, 30, 20]
    )[0]
    region = rng.choice(list(CITIES))
    person = rng.choice(SURNAMES) + rng.choice(GIVEN)
    phone = f"15{serial:09d}"
    if kind is BorrowerKind.ENTERPRISE:
        first17 = f"91{region}MA{serial % 10**7:07d}"[:17]
        name = f"{CITIES[region]}{person}{rng.choice(FIRMS)}"
        id_number = first17 + uscc_check_char(first17)
    else:
        born = date(1965, 1, 1) + timedelta(days=rng.randrange(0, 12_000))
        first17 = f"{region}{born:%Y%m%d}{serial % 1000:03d}"
        id_number = first17 + id_number_check_char(first17)
        name = f"{person}{rng.choice(SHOPS)}" if kind is BorrowerKind.INDIVIDUAL_BUSINESS else person
    firm = kind is not BorrowerKind.INDIVIDUAL
    who = seeding.onboard(
        container,
        kind,
        name,
        id_number,
        phone,
        region,
        rng.choice(SECTORS) if firm else None,
        rng.randint(1, 60) if firm else None,
        Decimal(rng.randrange(300, 15_000) * 1000) if firm else None,
    )
    return who, kind


def seed_history(
    container: Container,
    borrowers: int = 2500,
    days: int = 365,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> HistorySummary:
    """`borrowers` borrowers and `days` closed business days ending yesterday (by the container's
    clock). The container's clock is left on today."""
    rng = random.Random(seed)
    today = container.clock.business_date()
    first = today - timedelta(days=days)
    clock = FixedClock(datetime(first.year, first.month, first.day, 2, tzinfo=UTC))
    work = Container(container.settings, container.db, clock)
    opening: dict[date, list[int]] = {}
    for serial in range(1, borrowers + 1):
        # more loans recently, as a growing lender would have
        offset = int(days * (1 - rng.random() ** 1.6))
        opening.setdefault(first + timedelta(days=min(offset, days - 1)), []).append(serial)
    plans: dict[str, Plan] = {}
    for n in range(days):
        day = first + timedelta(days=n)
        clock.set_date(day)
        for serial in opening.get(day, []):
            _open_loan(work, rng, serial, day, plans)
        _act(work, day, plans)
        run_eod(work, day)
        if progress:
            progress(n + 1, days)
    statuses = work.db.read(
        lambda c: {
            str(s): int(k)
            for s, k in c.execute(select(loan_servicing.c.status, func.count()).group_by(loan_servicing.c.status))
        }
    )
    return HistorySummary(borrowers, len(plans), days, statuses)


def _open_loan(container: Container, rng: random.Random, serial: int, day: date, plans: dict[str, Plan]) -> None:
    who, kind = _onboard(container, rng, serial)
    product, amount, term = _product_for(rng, kind)
    loan_id = seeding.originate(container, who, product, amount, term, "经营周转 working capital")
    if loan_id is None:
        return
    seeding.pay_out(container, loan_id)
    behaviour = rng.choices([b for b, _ in BEHAVIOURS], [w for _, w in BEHAVIOURS])[0]
    plan = Plan(loan_id, who, behaviour, lag_days=rng.randint(3, 45), product=product)
    if behaviour is Behaviour.DEFAULTED:
        plan.stop_after = rng.randint(0, 3)
    if behaviour in (Behaviour.PREPAY, Behaviour.PAYOFF):
        plan.event_day = day + timedelta(days=rng.randint(70, 200))
        plan.shorter_term = rng.random() < 0.5
    plans[loan_id] = plan


def _act(container: Container, day: date, plans: dict[str, Plan]) -> None:
    """Today's payments and staff actions, by each loan's behaviour."""
    rows = container.db.read(
        lambda c: c.execute(
            select(loan_servicing.c.loan_id, loan_servicing.c.next_due_date, loan_servicing.c.dpd).where(
                loan_servicing.c.status == "active"
            )
        ).all()
    )
    for loan_id, next_due, dpd in rows:
        plan = plans.get(loan_id)
        if plan is None:
            continue
        due_today = next_due == day
        _follow(container, plan, day, due_today, int(dpd))


def _follow(container: Container, plan: Plan, day: date, due_today: bool, dpd: int) -> None:
    b = plan.behaviour
    if plan.event_day == day and b in (Behaviour.PREPAY, Behaviour.PAYOFF):
        quote = servicing.payoff_quote(container, plan.loan_id, None, plan.who.principal)
        if b is Behaviour.PAYOFF:
            _pay(container, plan, Decimal(quote["payoff"]), day, PrepaymentChoice.PAYOFF)
        else:
            part = (Decimal(quote["principal_not_due"]) * Decimal("0.4")).quantize(Decimal("1"))
            extra = Decimal(quote["due_now"]) + Decimal(quote["accrued_interest"]) + part
            shorter = plan.shorter_term and plan.product in ("PH-EI", "PH-EP")
            choice = PrepaymentChoice.SHORTER_TERM if shorter else PrepaymentChoice.SMALLER_INSTALLMENTS
            _pay(container, plan, extra, day, choice)
        return
    if b is Behaviour.DEFAULTED and plan.paid_installments >= plan.stop_after:
        if dpd >= 150 and "written_off" not in plan.done:
            servicing.write_off(container, plan.loan_id, "逾期超过150天，催收无果 / collection failed", FINANCE)
            plan.done.add("written_off")
        return
    if b is Behaviour.RESTRUCTURED and dpd >= 35 and "restructured" not in plan.done:
        servicing.restructure(container, plan.loan_id, 12, "经营困难，展期重组 / cash-flow difficulty", OFFICER)
        plan.done.add("restructured")
        plan.behaviour = Behaviour.ON_TIME
        return
    if _pays_today(b, due_today, dpd, plan.lag_days):
        _pay_due(container, plan, day)


def _pays_today(b: Behaviour, due_today: bool, dpd: int, lag_days: int) -> bool:
    """Late payers pay what is due once `lag_days` overdue; everyone else on the due date (and at
    once if something is still overdue, e.g. after a restructuring)."""
    if b in (Behaviour.LATE_CURED, Behaviour.RESTRUCTURED):
        return dpd >= lag_days
    return due_today or dpd > 0


def _pay_due(container: Container, plan: Plan, day: date) -> None:
    quote = servicing.payoff_quote(container, plan.loan_id, None, plan.who.principal)
    owed = Decimal(quote["due_now"])
    if owed > 0:
        _pay(container, plan, owed, day, None)
        plan.paid_installments += 1


def _pay(container: Container, plan: Plan, amount: Decimal, day: date, choice: PrepaymentChoice | None) -> None:
    command = servicing.RepaymentCommand(plan.loan_id, to_minor(amount), choice)
    servicing.repay(container, command, plan.who.principal, f"demo-{plan.loan_id}-{day}")


def latest_business_date(conn: Connection) -> date | None:
    value = conn.execute(select(func.max(eod_runs.c.business_date))).scalar()
    return date.fromisoformat(value) if isinstance(value, str) else value
