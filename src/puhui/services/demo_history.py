"""A year of believable history for the demo lender, made through the real use cases.

Applicants of every kind, with the spread a digital small lender sees (`Profile`: steady accounts,
thin files, strained cash flow, blemishes at other lenders, falling takings, knock-outs, large
tickets), apply on days spread evenly over the year with gentle growth and the Spring Festival
lull. The real decision answers; referred applications are decided by the demo's credit officer
and risk manager (maker–checker); approved borrowers sign and are paid out. Each loan gets a
behaviour (on time, late on a stretch of installments then cured, more than 90 days late then
paid up and on time since — non-performing until a credit officer upgrades it in the console —,
prepaid, paid off early, restructured, defaulted and written off) and the end-of-day run closes every business day in
between (upgrading a cured loan's class once it has kept current, domain/accrual.cure_upgrade);
then today's business runs up to the clock's time and is left open, so the console and the reports
show loans in every state, and today's payouts, with ledger postings behind every figure.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, event, func, select

from puhui.adapters.db import product_repository
from puhui.adapters.db.database import Database
from puhui.adapters.db.engine import make_engine
from puhui.adapters.db.tables import eod_runs, loan_servicing, staff_users
from puhui.bootstrap import Container
from puhui.clock import CHINA_TZ, FixedClock
from puhui.domain.access import Principal, Role, SubjectKind
from puhui.domain.borrowers import Sector
from puhui.domain.enums import BorrowerKind
from puhui.domain.identity import id_number_check_char, uscc_check_char
from puhui.domain.servicing import PrepaymentChoice
from puhui.money import to_minor
from puhui.risk.policy import Outcome
from puhui.services import reviews, seeding, servicing
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


class Profile(StrEnum):
    """Who applies: the spread of applicants a digital small lender sees. Each is only a story told
    in the borrower's data and request; the real decision path says what becomes of it."""

    STEADY = "steady"  # a steady, growing account and a request it can carry
    ASKS_TOO_MUCH = "asks_too_much"  # a modest income asking for the usual ticket
    STRAINED = "strained"  # spends nearly all that comes in, or owes much elsewhere
    THIN_FILE = "thin_file"  # a few months of account data, or none shared
    LATE_ELSEWHERE = "late_elsewhere"  # one installment 31-90 days late at another lender
    DEFAULTED_ELSEWHERE = "defaulted_elsewhere"  # one more than 90 days late
    OVERDUE_NOW = "overdue_now"  # an installment at another lender unpaid now
    DISTRESSED = "distressed"  # takings falling, bills paid late or not at all
    OUTSIDE_POLICY = "outside_policy"  # over 65, or a business open for a few months
    LARGE_TICKET = "large_ticket"  # an enterprise asking above 500,000 yuan


PROFILES = [
    (Profile.STEADY, 40),
    (Profile.ASKS_TOO_MUCH, 8),
    (Profile.STRAINED, 12),
    (Profile.THIN_FILE, 8),
    (Profile.LATE_ELSEWHERE, 5),
    (Profile.DEFAULTED_ELSEWHERE, 3),
    (Profile.OVERDUE_NOW, 3),
    (Profile.DISTRESSED, 12),
    (Profile.OUTSIDE_POLICY, 4),
    (Profile.LARGE_TICKET, 5),
]
RISKIER = {Profile.STRAINED, Profile.THIN_FILE, Profile.LATE_ELSEWHERE, Profile.DISTRESSED}

# Spring Festival (春节, the first day of the lunar year): applications thin out around it
SPRING_FESTIVAL = {
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
}
GROWTH_OVER_PERIOD = 0.2  # applications a day grow by a fifth from the first day to the last
MONTH_FACTOR = {3: 1.1, 4: 1.1, 7: 0.95, 8: 0.95, 9: 1.05, 10: 1.05, 11: 1.1}  # spring restocking, autumn trade


@dataclass(frozen=True, slots=True)
class Staff:
    officer: Principal  # the maker: proposes terms, declines
    checker: Principal  # the checker: approves what the officer proposed
    finance: Principal


def _staff(container: Container) -> Staff:
    """The demo's staff users when `puhui demo` created them (the console shows their names),
    else stand-ins of the same roles."""
    wanted = ("officer", "risk", "finance")
    query = select(staff_users.c.username, staff_users.c.id).where(staff_users.c.username.in_(wanted))
    ids = container.db.read(lambda c: {str(name): str(i) for name, i in c.execute(query)})
    return Staff(
        Principal(SubjectKind.STAFF, ids.get("officer", "demo-officer"), Role.OFFICER),
        Principal(SubjectKind.STAFF, ids.get("risk", "demo-risk"), Role.RISK),
        Principal(SubjectKind.STAFF, ids.get("finance", "demo-finance"), Role.FINANCE),
    )


class Behaviour(StrEnum):
    ON_TIME = "on_time"
    LATE_CURED = "late_cured"
    PREPAY = "prepay"
    PAYOFF = "payoff"
    RESTRUCTURED = "restructured"
    DEFAULTED = "defaulted"
    NPL_CURED = "npl_cured"  # pays nothing until 次级 (> 90 days late), then everything and on time since


BEHAVIOURS = [
    (Behaviour.ON_TIME, 76),
    (Behaviour.LATE_CURED, 6),
    (Behaviour.PREPAY, 7),
    (Behaviour.PAYOFF, 6),
    (Behaviour.RESTRUCTURED, 1),
    (Behaviour.DEFAULTED, 4),
    (Behaviour.NPL_CURED, 1),
]
RISKIER_BEHAVIOURS = [
    (Behaviour.ON_TIME, 62),
    (Behaviour.LATE_CURED, 12),
    (Behaviour.PREPAY, 5),
    (Behaviour.PAYOFF, 5),
    (Behaviour.RESTRUCTURED, 4),
    (Behaviour.DEFAULTED, 12),
    (Behaviour.NPL_CURED, 3),
]


class Quota:
    """Behaviours dealt by their shares rather than rolled: each loan adds every behaviour's share
    to its credit and takes the one with the most (smooth weighted round-robin), from credits that
    start at random. A behaviour of share p comes once in about every 1/p loans, so a small
    history has its defaulters and late payers too and a large one has exactly its shares."""

    def __init__(self, rng: random.Random, weights: list[tuple[Behaviour, int]]) -> None:
        total = sum(w for _, w in weights)
        self.shares = {b: Decimal(w) / total for b, w in weights}
        self.credit = {b: Decimal(rng.randrange(100)) / 100 for b, _ in weights}

    def deal(self) -> Behaviour:
        for b, share in self.shares.items():
            self.credit[b] += share
        picked = max(self.credit, key=lambda b: self.credit[b])
        self.credit[picked] -= 1
        return picked


def _late_stretch(rng: random.Random) -> tuple[int, int]:
    """When a late payer is late: from which installment (most trip up early) and for how many in
    a row (mostly one or two), after which they are cured and pay on time."""
    return rng.choices([1, 2, 3, 4, 6], [35, 25, 15, 15, 10])[0], rng.choices([1, 2, 3], [75, 20, 5])[0]


def _lag_days(rng: random.Random) -> int:
    """How late a late payer pays: mostly days, sometimes weeks, rarely more than a month."""
    band = rng.choices([(2, 10), (11, 29), (31, 50)], [70, 24, 6])[0]
    return rng.randint(*band)


@dataclass
class Plan:
    loan_id: str
    who: seeding.Onboarded
    behaviour: Behaviour
    lag_days: int  # how late a late payer pays
    product: str
    paid_installments: int = 0
    late_from: int = 1  # a late payer's first late installment (1 = the first) ...
    late_count: int = 0  # ... and how many in a row are late before they are cured
    stop_after: int = 99  # a defaulter stops paying after this many installments
    event_day: date | None = None  # prepayment / payoff day
    shorter_term: bool = True  # a prepayer's choice: shorter term or smaller installments
    done: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Applicant:
    who: seeding.Onboarded
    profile: Profile
    product: str
    amount: Decimal
    term_months: int


@dataclass(frozen=True, slots=True)
class InReview:
    application_id: str
    applicant: Applicant
    decision: dict[str, Any]  # as the application recorded it
    on: date  # when the officer takes it up


@dataclass
class Book:
    """What the history has made so far."""

    rng: random.Random
    staff: Staff
    steady: Quota
    riskier: Quota
    lates: random.Random  # a stream of its own: when late payers are late changes no one's application
    plans: dict[str, Plan] = field(default_factory=dict)
    queue: list[InReview] = field(default_factory=list)
    identities: set[str] = field(default_factory=set)  # the resident ID numbers given out (first 17 characters)


@dataclass(frozen=True, slots=True)
class HistorySummary:
    borrowers: int
    loans: int
    days: int
    statuses: dict[str, int]


def has_history(container: Container) -> bool:
    return bool(container.db.read(lambda c: c.execute(select(func.count()).select_from(eod_runs)).scalar_one()))


# --- when and who applies -----------------------------------------------------------------------


def demand(day: date, share_of_period: float) -> float:
    """Applications expected on `day` relative to an ordinary weekday at the start: gentle growth
    over the period, busier spring and autumn months, quieter weekends, Golden Week and above all
    the weeks around Spring Festival."""
    weight = (1 + GROWTH_OVER_PERIOD * share_of_period) * MONTH_FACTOR.get(day.month, 1.0)
    if day.weekday() >= 5:
        weight *= 0.7
    if day.month == 10 and day.day <= 7:  # National Day holiday
        weight *= 0.5
    festival = SPRING_FESTIVAL.get(day.year) or SPRING_FESTIVAL.get(day.year + 1)
    if festival is not None:
        since = (day - festival).days
        if -10 <= since < 0:  # going home for the holiday
            weight *= 0.6
        elif 0 <= since < 8:  # the holiday itself
            weight *= 0.25
        elif 8 <= since < 16:  # shops reopening
            weight *= 0.7
    return weight


def application_days(first: date, days: int, applicants: int) -> list[date]:
    """The day of each applicant's application, in order: the k-th applicant applies where the
    running total of `demand` passes (k + 1/2) / applicants of the whole, so every stretch of the
    period gets its share (no month piles up)."""
    weights = [demand(first + timedelta(days=n), n / max(days - 1, 1)) for n in range(days)]
    total = sum(weights)
    out: list[date] = []
    running, n = weights[0], 0
    for k in range(applicants):
        target = (k + 0.5) / applicants * total
        while running < target and n < days - 1:
            n += 1
            running += weights[n]
        out.append(first + timedelta(days=n))
    return out


def applicant_mix(rng: random.Random, applicants: int) -> list[Profile]:
    """Exactly the shares of PROFILES (largest remainders), in a shuffled order."""
    total = sum(w for _, w in PROFILES)
    exact = [(p, applicants * w / total) for p, w in PROFILES]
    counts = {p: int(x) for p, x in exact}
    by_remainder = sorted(exact, key=lambda item: item[1] - int(item[1]), reverse=True)
    for p, _ in by_remainder[: applicants - sum(counts.values())]:
        counts[p] += 1
    mix = [p for p, _ in PROFILES for _ in range(counts[p])]
    rng.shuffle(mix)
    return mix


def _amount(rng: random.Random, low: int, high: int, step: int = 1000) -> Decimal:
    return Decimal(rng.randrange(low // step, high // step + 1) * step)


def _product_for(rng: random.Random, kind: BorrowerKind, profile: Profile) -> tuple[str, Decimal, int]:
    if profile is Profile.LARGE_TICKET:
        if rng.random() < 0.6:
            return "PH-EP", _amount(rng, 600_000, 1_500_000, 50_000), rng.choice([24, 36])
        return "PH-EI", _amount(rng, 550_000, 1_000_000, 50_000), rng.choice([12, 24, 36])
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


def _kind_for(rng: random.Random, profile: Profile) -> BorrowerKind:
    if profile is Profile.LARGE_TICKET:
        return BorrowerKind.ENTERPRISE
    kinds = [BorrowerKind.INDIVIDUAL_BUSINESS, BorrowerKind.INDIVIDUAL, BorrowerKind.ENTERPRISE]
    return rng.choices(kinds, [50, 30, 20])[0]


def _percent(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)) / 100


@dataclass(frozen=True, slots=True)
class _Story:
    """What the applicant's data says, by profile (passed to seeding.onboard)."""

    income: Decimal
    flow: seeding.CashFlow = seeding.STEADY
    bureau: list[dict[str, str]] = field(default_factory=list)
    bills: list[dict[str, str]] = field(default_factory=list)
    age_years: int | None = None  # the individual's or the owner's age, when the profile sets it
    years_open: float | None = None  # a business's time in operation, when the profile sets it


def _story(rng: random.Random, profile: Profile, kind: BorrowerKind, key: str, today: date) -> _Story:
    typical = seeding.TYPICAL_MONTHLY_INCOME[kind]
    income = (typical * _percent(rng, 60, 160)).quantize(Decimal(100))
    if profile is Profile.ASKS_TOO_MUCH:
        return _Story((typical * _percent(rng, 20, 45)).quantize(Decimal(100)))
    if profile is Profile.STRAINED:
        if kind is BorrowerKind.INDIVIDUAL:  # a car loan or a mortgage elsewhere takes most of the salary
            installment = income * _percent(rng, 40, 60)
            return _Story(income, bureau=seeding.bureau_history(f"{key[:8]}-m", installment, today, months=24))
        flow = seeding.CashFlow(spend_factor=_percent(rng, 145, 175), opening_months=_percent(rng, 5, 30))
        return _Story(income, flow)
    if profile is Profile.THIN_FILE:
        if rng.random() < 0.4:
            return _Story(Decimal(0))  # shares no account data at all
        return _Story(income, seeding.CashFlow(history_days=rng.randint(45, 150)))
    if profile in (Profile.LATE_ELSEWHERE, Profile.DEFAULTED_ELSEWHERE, Profile.OVERDUE_NOW):
        installment = income * _percent(rng, 5, 15)
        late = {Profile.LATE_ELSEWHERE: rng.randint(35, 80), Profile.DEFAULTED_ELSEWHERE: rng.randint(95, 160)}
        unpaid = rng.randint(1, 2) if profile is Profile.OVERDUE_NOW else 0
        rows = seeding.bureau_history(
            f"{key[:8]}-c", installment, today, late_days=late.get(profile, 0), unpaid_last=unpaid
        )
        return _Story(income, bureau=rows)
    if profile is Profile.DISTRESSED:
        flow = seeding.CashFlow(
            history_days=rng.randint(180, 460),
            drop=_percent(rng, 50, 80),
            swing_percent=rng.randint(40, 80),
            opening_months=_percent(rng, 0, 20),
        )
        bills = seeding.utility_bills(key, today, late_every=rng.randint(1, 2), unpaid_last=rng.randint(1, 3))
        young = rng.randint(21, 26) if rng.random() < 0.5 else None
        return _Story(income, flow, bills=bills, age_years=young)
    if profile is Profile.OUTSIDE_POLICY:
        if kind is BorrowerKind.INDIVIDUAL or rng.random() < 0.4:
            return _Story(income, age_years=rng.randint(66, 72))
        return _Story(income, years_open=rng.randint(60, 170) / 365)
    if rng.random() < 0.3:  # a steady borrower with a loan elsewhere, paid on time
        rows = seeding.bureau_history(f"{key[:8]}-s", income * _percent(rng, 5, 20), today)
        return _Story(income, bureau=rows)
    return _Story(income)


def _onboard(container: Container, rng: random.Random, serial: int, profile: Profile, taken: set[str]) -> Applicant:
    kind = _kind_for(rng, profile)
    region = rng.choice(list(CITIES))
    person = rng.choice(SURNAMES) + rng.choice(GIVEN)
    phone = f"15{serial:09d}"
    today = container.clock.business_date()
    story = _story(rng, profile, kind, f"{serial:08d}{phone}", today)
    if kind is BorrowerKind.ENTERPRISE:
        first17 = f"91{region}MA{serial % 10**7:07d}"[:17]
        name = f"{CITIES[region]}{person}{rng.choice(FIRMS)}"
        id_number = first17 + uscc_check_char(first17)
    else:
        age_days = (story.age_years or rng.randint(26, 60)) * 365 + rng.randrange(0, 300)
        born = f"{region}{today - timedelta(days=age_days):%Y%m%d}"
        sequence = serial % 1000
        while f"{born}{sequence:03d}" in taken:  # two applicants born the same day in the same district
            sequence = (sequence + 1) % 1000
        first17 = f"{born}{sequence:03d}"
        taken.add(first17)
        id_number = first17 + id_number_check_char(first17)
        name = f"{person}{rng.choice(SHOPS)}" if kind is BorrowerKind.INDIVIDUAL_BUSINESS else person
    firm = kind is not BorrowerKind.INDIVIDUAL
    years_open = story.years_open if story.years_open is not None else rng.randint(1, 12)
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
        monthly_income=story.income,
        established_on=today - timedelta(days=round(years_open * 365)) if firm else None,
        flow=story.flow,
        bureau=story.bureau,
        utilities=story.bills,
    )
    product, amount, term = _product_for(rng, kind, profile)
    return Applicant(who, profile, product, amount, term)


# --- the history ----------------------------------------------------------------------------------


def seed_history(
    container: Container,
    borrowers: int = 2000,
    days: int = 365,
    seed: int = 7,
    progress: Callable[[int, int], None] | None = None,
) -> HistorySummary:
    """`borrowers` applicants over `days` closed business days ending yesterday (by the container's
    clock) and today's business up to the clock's time (payments, reviews, applications, payouts;
    not closed: the lender's end of day closes today). The container's clock is left on today."""
    rng = random.Random(seed)
    hours = random.Random(f"{seed}-hours")  # a stream of its own: the times of day change nothing else
    today = container.clock.business_date()
    first = today - timedelta(days=days)
    clock = FixedClock(datetime(first.year, first.month, first.day, 2, tzinfo=UTC))
    db = _building(container.db)
    work = Container(container.settings, db, clock)
    opening: dict[date, list[tuple[int, Profile]]] = {}
    mix = applicant_mix(rng, borrowers)
    for serial, day in enumerate(application_days(first, days + 1, borrowers), start=1):
        opening.setdefault(day, []).append((serial, mix[serial - 1]))
    book = Book(
        rng, _staff(container), Quota(rng, BEHAVIOURS), Quota(rng, RISKIER_BEHAVIOURS), random.Random(f"{seed}-lates")
    )
    for n in range(days + 1):  # the closed days, then today's business so far
        day = first + timedelta(days=n)
        at, arriving = (_at, _at) if day < today else _so_far(container.clock.now(), day)
        clock.current = at(day, 7 * 60)  # repayments by the morning's debit run
        _act(work, day, book)
        clock.current = at(day, 9 * 60 + 30)  # the officer works the queue
        _take_up_reviews(work, day, book)
        arrivals = opening.get(day, [])
        minutes = sorted(hours.randrange(8 * 60, 22 * 60) for _ in arrivals)  # applications through the day
        for (serial, profile), minute in zip(arrivals, minutes, strict=True):
            clock.current = arriving(day, minute)
            _apply(work, _onboard(work, rng, serial, profile, book.identities), day, book)
        if day == today:
            break  # today is not over: the lender's own end of day closes it
        clock.current = _at(day, 23 * 60 + 30)
        run_eod(work, day)
        if progress:
            progress(n + 1, days)
    if db is not container.db:
        db.dispose()
    statuses = container.db.read(
        lambda c: {
            str(s): int(k)
            for s, k in c.execute(select(loan_servicing.c.status, func.count()).group_by(loan_servicing.c.status))
        }
    )
    return HistorySummary(borrowers, len(book.plans), days, statuses)


def _at(day: date, minute: int) -> datetime:
    """`minute` minutes after midnight of `day` in China (the business day's own clock), in UTC as
    every clock answers (SQLite keeps a time without its zone: a China time would read 8 hours late)."""
    return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=CHINA_TZ).astimezone(UTC)


Clocking = Callable[[date, int], datetime]  # (day, minutes after midnight) -> the moment


def _so_far(now: datetime, day: date) -> tuple[Clocking, Clocking]:
    """Today's clocks, for its steps and for its applications: the day's business (a morning's
    payments, the officer's queue, a day's share of applications) happens in the part of today that
    is over by `now`, never after it. A step keeps its hour, or a minute ago if that is earlier; the
    applications of 08:00-22:00 are spread over 08:00 to a minute ago (from midnight when it is not
    yet 09:00)."""
    start_of_day = _at(day, 0)
    latest = max(int((now - start_of_day).total_seconds() // 60) - 1, 0)
    opening = 8 * 60 if latest >= 9 * 60 else 0

    def at(_day: date, minute: int) -> datetime:
        return start_of_day + timedelta(minutes=min(minute, latest))

    def arriving(_day: date, minute: int) -> datetime:
        return at(_day, opening + (minute - 8 * 60) * (latest - opening) // (14 * 60))

    return at, arriving


def _building(db: Database) -> Database:
    """The connections the history is built on. On an SQLite file they commit without waiting for
    the disk (synchronous=NORMAL; WAL keeps the file consistent, a power cut may only lose the last
    transactions of a database that is rebuilt anyway): the build is some 25,000 transactions, and
    at a few ms of fsync each on a busy machine the disk was most of it. The server keeps FULL."""
    if not db.is_sqlite or db.url.endswith(":memory:") or db.url in ("sqlite://", "sqlite:///"):
        return db
    engine = make_engine(db.url)
    event.listen(engine, "connect", _commit_without_fsync)
    return Database(db.url, engine)


def _commit_without_fsync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _apply(container: Container, applicant: Applicant, day: date, book: Book) -> None:
    """The application and what the borrower does with its answer: take an offer (fewer take one
    much smaller than they asked for), or wait for a credit officer."""
    a = applicant
    view = seeding.apply(container, a.who, a.product, a.amount, a.term_months, "经营周转 working capital")
    if view.offer is not None:
        offered = Decimal(view.offer["amount"])
        if offered >= a.amount / 2 or book.rng.random() < 0.6:
            _book_loan(container, a, seeding.take_offer(container, a.who, view.id), day, book)
    elif view.status == Outcome.REVIEW.value:
        book.queue.append(InReview(view.id, a, view.decision, day + timedelta(days=book.rng.randint(1, 3))))


def _book_loan(container: Container, a: Applicant, loan_id: str, day: date, book: Book) -> None:
    seeding.pay_out(container, loan_id)
    rng = book.rng
    behaviour = (book.riskier if a.profile in RISKIER else book.steady).deal()
    plan = Plan(loan_id, a.who, behaviour, lag_days=_lag_days(rng), product=a.product)
    if behaviour is Behaviour.LATE_CURED:
        plan.late_from, plan.late_count = _late_stretch(book.lates)
    if behaviour is Behaviour.NPL_CURED:
        plan.lag_days = book.lates.randint(95, 130)  # past the 次级 line, then paid up
    if behaviour is Behaviour.DEFAULTED:
        plan.stop_after = rng.choices([0, 1, 2, 3], [35, 30, 20, 15])[0]  # most defaults come early
    if behaviour in (Behaviour.PREPAY, Behaviour.PAYOFF):
        plan.event_day = day + timedelta(days=rng.randint(70, 200))
        plan.shorter_term = rng.random() < 0.5
    book.plans[loan_id] = plan


# --- the credit officer ---------------------------------------------------------------------------


def officer_share(decision: dict[str, Any]) -> Decimal | None:
    """The demo officer's rule of thumb for a referred application: the share of the policy's
    limit they would lend, or None to decline. Large tickets and bureau blemishes pass when the
    model is comfortable; the grey zone gets a smaller line when the PD is in its lower part."""
    codes = {str(r["code"]) for r in decision["reasons"]}
    pd = float(decision["pd"] or 1)
    if any(code.startswith("FRAUD_") or code.endswith("_NOT_VERIFIED") for code in codes):
        return None
    share = Decimal(1)
    if "PD_GREY_ZONE" in codes:
        if pd >= 0.16:
            return None
        share = min(share, Decimal("0.5"))
    if "BUREAU_DPD_31_90" in codes:
        if pd >= 0.03:
            return None
        share = min(share, Decimal("0.8"))
    if "LARGE_TICKET" in codes and pd >= 0.028:
        return None
    return share


DECLINE_NOTES = {
    "PD_GREY_ZONE": "经营流水下滑、账单逾期，违约风险偏高 / takings falling and bills late: too risky",
    "BUREAU_DPD_31_90": "他行逾期记录且评分一般 / a serious delinquency elsewhere and a middling score",
    "LARGE_TICKET": "现金流不足以支撑大额授信 / cash flow does not support a ticket this large",
}


def _take_up_reviews(container: Container, day: date, book: Book) -> None:
    """The officer works the queue: applications referred a day or three ago are decided today,
    approvals by maker (officer proposes the terms) and checker (the risk manager approves)."""
    due, book.queue = [r for r in book.queue if r.on <= day], [r for r in book.queue if r.on > day]
    for item in due:
        a, decision = item.applicant, item.decision
        share = officer_share(decision)
        limit = Decimal(decision["credit_limit"])
        amount = (min(a.amount, limit * share) // 1000 * 1000) if share is not None else Decimal(0)
        if share is None or amount < _minimum(container, a.product):
            codes = [str(r["code"]) for r in decision["reasons"]]
            note = next((DECLINE_NOTES[c] for c in codes if c in DECLINE_NOTES), "不符合审批要求 / does not qualify")
            reviews.decline(container, item.application_id, note, book.staff.officer)
            continue
        rate = Decimal(decision["annual_rate"])
        terms = reviews.ProposedTerms(
            amount, a.term_months, rate, "按评分与现金流核定额度 / line set by score and cash flow"
        )
        reviews.propose_terms(container, item.application_id, terms, book.staff.officer)
        reviews.approve(container, item.application_id, "复核同意 / checked and agreed", book.staff.checker)
        _book_loan(container, a, seeding.take_offer(container, a.who, item.application_id), day, book)


def _minimum(container: Container, product_code: str) -> Decimal:
    product = container.db.read(lambda c: product_repository.get(c, product_code))
    return product.amount_min if product is not None else Decimal(0)


def _act(container: Container, day: date, book: Book) -> None:
    """Today's payments and staff actions, by each loan's behaviour."""
    rows = container.db.read(
        lambda c: c.execute(
            select(loan_servicing.c.loan_id, loan_servicing.c.next_due_date, loan_servicing.c.dpd).where(
                loan_servicing.c.status == "active"
            )
        ).all()
    )
    for loan_id, next_due, dpd in rows:
        plan = book.plans.get(loan_id)
        if plan is None:
            continue
        due_today = next_due == day
        _follow(container, book.staff, plan, day, due_today, int(dpd))


def _follow(container: Container, staff: Staff, plan: Plan, day: date, due_today: bool, dpd: int) -> None:
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
            servicing.write_off(container, plan.loan_id, "逾期超过150天，催收无果 / collection failed", staff.finance)
            plan.done.add("written_off")
        return
    if b is Behaviour.RESTRUCTURED and dpd >= 35 and "restructured" not in plan.done:
        servicing.restructure(container, plan.loan_id, 12, "经营困难，展期重组 / cash-flow difficulty", staff.officer)
        plan.done.add("restructured")
        plan.behaviour = Behaviour.ON_TIME
        return
    if _pays_today(plan, due_today, dpd):
        _pay_due(container, plan, day)


def _pays_today(plan: Plan, due_today: bool, dpd: int) -> bool:
    """Late payers pay what is due once `lag_days` overdue, for their stretch of late installments,
    then they are cured and pay on time; everyone else pays on the due date (and at once if
    something is still overdue, e.g. after a restructuring)."""
    if plan.behaviour is Behaviour.LATE_CURED:
        installment = plan.paid_installments + 1
        if installment >= plan.late_from + plan.late_count:
            plan.behaviour = Behaviour.ON_TIME  # cured
        elif installment >= plan.late_from:
            return dpd >= plan.lag_days
    if plan.behaviour is Behaviour.RESTRUCTURED:
        return dpd >= plan.lag_days
    if plan.behaviour is Behaviour.NPL_CURED:
        if dpd < plan.lag_days:
            return False
        plan.behaviour = Behaviour.ON_TIME  # everything overdue paid today; on time from now on
    return due_today or dpd > 0


def _pay_due(container: Container, plan: Plan, day: date) -> None:
    quote = servicing.payoff_quote(container, plan.loan_id, None, plan.who.principal)
    owed = Decimal(quote["due_now"])
    if owed > 0:
        _pay(container, plan, owed, day, None)
        plan.paid_installments += 1


def _pay(container: Container, plan: Plan, amount: Decimal, day: date, choice: PrepaymentChoice | None) -> None:
    # the payment's own reference makes it once-only; an Idempotency-Key is for HTTP retries
    reference = f"demo-{plan.loan_id}-{day}"
    command = servicing.RepaymentCommand(plan.loan_id, to_minor(amount), choice, channel_reference=reference)
    servicing.repay(container, command, plan.who.principal, None)


def latest_business_date(conn: Connection) -> date | None:
    value = conn.execute(select(func.max(eod_runs.c.business_date))).scalar()
    return date.fromisoformat(value) if isinstance(value, str) else value
