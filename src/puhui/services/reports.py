"""Read-only figures for the operations console: the dashboard's aggregates and the few lists the
other services do not read (a loan's ledger entries and history, open outbox items, the demo SMS
outbox, staff names).

Every figure comes from the database as one set-based SQLAlchemy Core statement over the tables in
`adapters/db/tables.py` (no per-loan Python loop), so the numbers are as current as the last
posting and scale with the book. Amounts come back in fen and as `Decimal` yuan, never floats.
Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Integer,
    Numeric,
    String,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from puhui.adapters.db.tables import (
    application_reviews,
    applications,
    borrowers,
    contracts,
    disbursements,
    installments,
    ledger_accounts,
    ledger_entries,
    ledger_transfers,
    loan_servicing,
    loans,
    offers,
    outbox,
    risk_alerts,
    risk_class_changes,
    schedule_changes,
    sms_outbox,
    staff_users,
)
from puhui.bootstrap import Container
from puhui.domain.accrual import RiskClass
from puhui.domain.ledger import AccountCode
from puhui.domain.servicing import InstallmentStatus, LoanStatus
from puhui.money import from_minor
from puhui.risk.policy import Outcome
from puhui.services import servicing
from puhui.services.borrowers import NotFound
from puhui.services.eod import last_completed
from puhui.services.reviews import ReviewAction

# A vintage's "bad" event: more than 30 days past due (the 31-90 bucket and worse), as IFRS 9 stage 2.
BAD_DPD = 30
DAYS_PER_MONTH_ON_BOOK = 30  # months on book are counted in 30-day months: the same on every dialect
VINTAGE_MONTHS = 12  # vintages (disbursement months) shown, newest last
APR_EDGES_PERCENT = (6, 8, 10, 12, 15, 18, 24)  # band i holds edges[i-1] <= APR < edges[i]
LOAN_ACCOUNTS = (
    AccountCode.PRINCIPAL_RECEIVABLE,
    AccountCode.INTEREST_RECEIVABLE,
    AccountCode.PENALTY_RECEIVABLE,
    AccountCode.FEE_RECEIVABLE,
)
ACCEPTED = "accepted"  # an approved application whose offer the borrower accepted (services/contracts.py)


class DpdBucket(StrEnum):
    CURRENT = "0"
    DPD_1_30 = "1-30"
    DPD_31_90 = "31-90"
    DPD_90_PLUS = "90+"


@dataclass(frozen=True, slots=True)
class Amount:
    """A count of loans and their principal outstanding."""

    loans: int
    minor: int

    @property
    def yuan(self) -> Decimal:
        return from_minor(self.minor)


@dataclass(frozen=True, slots=True)
class Vintage:
    month: date  # the first day of the disbursement month
    loans: int
    bad_share: tuple[float, ...]  # cumulative share 30+ DPD at 0, 1, 2 ... months on book (to date)


@dataclass(frozen=True, slots=True)
class AprBand:
    low_percent: int | None  # None: below the first edge
    high_percent: int | None  # None: at or above the last edge
    offers: int
    loans: int


@dataclass(frozen=True, slots=True)
class MonthFlow:
    month: date
    loans: int
    minor: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    as_of: date  # the business date the figures are for
    portfolio: Amount
    disbursed_today: Amount
    outcomes: dict[Outcome, int]
    dpd: dict[DpdBucket, Amount]
    classes: dict[RiskClass, Amount]
    inclusive: Amount
    vintages: list[Vintage]
    apr_bands: list[AprBand]
    disbursed_by_month: list[MonthFlow]
    in_review: int
    open_alerts: int

    @property
    def npl(self) -> Amount:
        """次级 + 可疑 + 损失."""
        bad = [a for c, a in self.classes.items() if c.is_npl]
        return Amount(sum(a.loans for a in bad), sum(a.minor for a in bad))

    @property
    def npl_ratio(self) -> Decimal | None:
        return _ratio(self.npl.minor, self.portfolio.minor)

    @property
    def inclusive_share(self) -> Decimal | None:
        return _ratio(self.inclusive.minor, self.portfolio.minor)

    @property
    def decided(self) -> int:
        return self.outcomes[Outcome.APPROVED] + self.outcomes[Outcome.DECLINED]

    @property
    def approval_rate(self) -> Decimal | None:
        """Approved over decided (approved or declined); applications still in review are not decided."""
        return _ratio(self.outcomes[Outcome.APPROVED], self.decided)


def _ratio(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None


# --- the few expressions that differ between PostgreSQL and SQLite ----------------------------


def _days(conn: Connection, later: Any, earlier: Any) -> ColumnElement[int]:
    """Whole days from `earlier` to `later` (dates)."""
    if conn.dialect.name == "postgresql":
        return cast(later - earlier, Integer)  # date - date is an integer number of days
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def _day(conn: Connection, moment: Any) -> ColumnElement[str]:
    """The date of a timestamp, typed as text so that a UNION of dates and timestamps reads back
    the same on both dialects (SQLite's CAST(... AS DATE) is a number: 2026-01-15 -> 2026)."""
    if conn.dialect.name == "postgresql":
        return type_coerce(cast(moment, Date), String)
    return type_coerce(func.date(moment), String)


def _on(day: date) -> ColumnElement[Any]:
    return literal(day, Date)


# --- the dashboard -------------------------------------------------------------------------------

_ACTIVE = loan_servicing.c.status == LoanStatus.ACTIVE.value
_PRINCIPAL = loan_servicing.c.due_principal_minor + loan_servicing.c.not_due_principal_minor


def _amount(row: Any) -> Amount:
    return Amount(int(row[0] or 0), int(row[1] or 0))


def portfolio(conn: Connection) -> Amount:
    """Principal outstanding (due and not yet due) of the active loans: the book."""
    return _amount(conn.execute(select(func.count(), func.coalesce(func.sum(_PRINCIPAL), 0)).where(_ACTIVE)).one())


def disbursed_on(conn: Connection, day: date) -> Amount:
    """Loans paid out on `day` (their servicing opens the day the payout settles) and their principal."""
    joined = loan_servicing.join(loans, loans.c.id == loan_servicing.c.loan_id)
    query = select(func.count(), func.coalesce(func.sum(loans.c.principal_minor), 0)).select_from(joined)
    return _amount(conn.execute(query.where(loan_servicing.c.opened_on == day)).one())


def application_outcomes(conn: Connection) -> dict[Outcome, int]:
    """Applications by their outcome; an accepted offer was an approval."""
    status = applications.c.status
    outcome = case((status == ACCEPTED, Outcome.APPROVED.value), else_=status)
    rows = conn.execute(select(outcome, func.count()).group_by(outcome))
    found = {Outcome(o): int(n) for o, n in rows if o in Outcome._value2member_map_}
    return {o: found.get(o, 0) for o in Outcome}


def dpd_buckets(conn: Connection) -> dict[DpdBucket, Amount]:
    dpd = loan_servicing.c.dpd
    bucket = case(
        (dpd <= 0, DpdBucket.CURRENT.value),
        (dpd <= 30, DpdBucket.DPD_1_30.value),
        (dpd <= 90, DpdBucket.DPD_31_90.value),
        else_=DpdBucket.DPD_90_PLUS.value,
    )
    rows = conn.execute(select(bucket, func.count(), func.sum(_PRINCIPAL)).where(_ACTIVE).group_by(bucket))
    found = {DpdBucket(b): Amount(int(n), int(m or 0)) for b, n, m in rows}
    return {b: found.get(b, Amount(0, 0)) for b in DpdBucket}


def risk_classes(conn: Connection) -> dict[RiskClass, Amount]:
    """The five-category mix (五级分类) of the active book."""
    cls = loan_servicing.c.risk_class
    rows = conn.execute(select(cls, func.count(), func.sum(_PRINCIPAL)).where(_ACTIVE).group_by(cls))
    found = {RiskClass(int(c)): Amount(int(n), int(m or 0)) for c, n, m in rows}
    return {c: found.get(c, Amount(0, 0)) for c in RiskClass}


def inclusive_balance(conn: Connection) -> Amount:
    """普惠型小微: principal outstanding to borrowers classified inclusive (micro/small firms,
    individual businesses), and how many such borrowers owe it."""
    joined = loan_servicing.join(borrowers, borrowers.c.id == loan_servicing.c.borrower_id)
    query = select(func.count(func.distinct(borrowers.c.id)), func.coalesce(func.sum(_PRINCIPAL), 0))
    return _amount(conn.execute(query.select_from(joined).where(and_(_ACTIVE, borrowers.c.inclusive.is_(True)))).one())


def _month(year: Any, month: Any) -> date:
    return date(int(year), int(month), 1)


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def vintages(conn: Connection, as_of: date, months: int = VINTAGE_MONTHS) -> list[Vintage]:
    """Per disbursement month: the cumulative share of its loans that have been more than 30 days
    past due, by months on book. A loan's bad event is the 31st day late of its first installment
    paid (or still unpaid) more than 30 days after its due date, so a loan that later cured or was
    written off still counts from the month it went bad: a vintage curve never falls.

    One statement: per loan the earliest month on book of that event, then loans by (vintage, month)."""
    due, paid = installments.c.due_date, installments.c.paid_on
    late_days = case((paid.is_(None), _days(conn, _on(as_of), due)), else_=_days(conn, paid, due))
    # replaced installments never fell due; the others count whether paid, due or rolled into a restructuring
    went_bad = and_(installments.c.status != InstallmentStatus.CANCELLED.value, late_days > BAD_DPD)
    bad_mob = cast((_days(conn, due, loan_servicing.c.opened_on) + BAD_DPD + 1) / DAYS_PER_MONTH_ON_BOOK, Integer)
    per_loan = (
        select(
            extract("year", loan_servicing.c.opened_on).label("y"),
            extract("month", loan_servicing.c.opened_on).label("m"),
            func.min(case((went_bad, bad_mob))).label("bad_mob"),
        )
        .select_from(loan_servicing.outerjoin(installments, installments.c.loan_id == loan_servicing.c.loan_id))
        .group_by(loan_servicing.c.loan_id, loan_servicing.c.opened_on)
        .subquery()
    )
    rows = conn.execute(
        select(per_loan.c.y, per_loan.c.m, per_loan.c.bad_mob, func.count()).group_by(
            per_loan.c.y, per_loan.c.m, per_loan.c.bad_mob
        )
    ).all()
    by_month: dict[date, dict[int | None, int]] = {}
    for y, m, mob, n in rows:  # one row per (vintage, month of going bad): a few hundred at most
        by_month.setdefault(_month(y, m), {})[None if mob is None else int(mob)] = int(n)
    recent = sorted(by_month)[-months:]
    return [_curve(month, by_month[month], as_of) for month in recent]


def _curve(month: date, bad_at: dict[int | None, int], as_of: date) -> Vintage:
    total = sum(bad_at.values())
    on_book = max(0, _months_between(month, as_of))
    shares, cumulative = [], 0
    for mob in range(on_book + 1):
        cumulative += bad_at.get(mob, 0)
        shares.append(cumulative / total if total else 0.0)
    return Vintage(month, total, tuple(shares))


def apr_bands(conn: Connection) -> list[AprBand]:
    """Offers made and the loans signed from them, by APR band (the APR by the IRR method, in %)."""
    apr = cast(offers.c.apr_percent, Numeric(12, 4))
    band = case(*((apr < edge, i) for i, edge in enumerate(APR_EDGES_PERCENT)), else_=len(APR_EDGES_PERCENT))
    joined = offers.outerjoin(contracts, contracts.c.offer_id == offers.c.id).outerjoin(
        loans, loans.c.contract_id == contracts.c.id
    )
    rows = conn.execute(
        select(band, func.count(offers.c.id), func.count(loans.c.id)).select_from(joined).group_by(band)
    )
    found = {int(b): (int(o), int(n)) for b, o, n in rows}
    edges: list[int | None] = [None, *APR_EDGES_PERCENT, None]
    return [AprBand(edges[i], edges[i + 1], *found.get(i, (0, 0))) for i in range(len(APR_EDGES_PERCENT) + 1)]


def disbursed_by_month(conn: Connection, as_of: date, months: int = 12) -> list[MonthFlow]:
    """Principal paid out per calendar month over the last `months` months (months without payouts included)."""
    opened = loan_servicing.c.opened_on
    y, m = extract("year", opened), extract("month", opened)
    first = _shift(date(as_of.year, as_of.month, 1), -(months - 1))
    joined = loan_servicing.join(loans, loans.c.id == loan_servicing.c.loan_id)
    rows = conn.execute(
        select(y, m, func.count(), func.sum(loans.c.principal_minor))
        .select_from(joined)
        .where(opened >= first)
        .group_by(y, m)
    )
    found = {_month(a, b): (int(n), int(s or 0)) for a, b, n, s in rows}
    series = [_shift(first, k) for k in range(months)]
    return [MonthFlow(d, *found.get(d, (0, 0))) for d in series]


def _shift(month: date, by: int) -> date:
    index = month.year * 12 + month.month - 1 + by
    return date(index // 12, index % 12 + 1, 1)


def waiting_work(conn: Connection) -> tuple[int, int]:
    """Applications waiting for a reviewer and open risk alerts, in one statement."""
    in_review = select(func.count()).select_from(applications).where(applications.c.status == Outcome.REVIEW.value)
    open_alerts = select(func.count()).select_from(risk_alerts).where(risk_alerts.c.status == "open")
    row = conn.execute(select(in_review.scalar_subquery(), open_alerts.scalar_subquery())).one()
    return int(row[0]), int(row[1])


def dashboard(container: Container) -> Dashboard:
    """Every dashboard figure, read in one transaction (one snapshot), one statement per figure."""
    today = container.clock.business_date()

    def work(conn: Connection) -> Dashboard:
        as_of = last_completed(conn) or today  # DPD and classes are as of the last end of day
        in_review, open_alerts = waiting_work(conn)
        return Dashboard(
            as_of=today,
            portfolio=portfolio(conn),
            disbursed_today=disbursed_on(conn, today),
            outcomes=application_outcomes(conn),
            dpd=dpd_buckets(conn),
            classes=risk_classes(conn),
            inclusive=inclusive_balance(conn),
            vintages=vintages(conn, as_of),
            apr_bands=apr_bands(conn),
            disbursed_by_month=disbursed_by_month(conn, today),
            in_review=in_review,
            open_alerts=open_alerts,
        )

    return container.db.read(work)


# --- lists for the console pages -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoanRow:
    id: str
    borrower_id: str
    borrower_name: str
    product_code: str
    principal: Decimal
    rate_annual: str
    term_months: int
    status: str
    outstanding: Decimal | None  # principal; None before the payout
    dpd: int | None
    risk_class: RiskClass | None
    opened_on: date | None
    created_at: datetime


def _loan_rows() -> Any:
    joined = loans.join(borrowers, borrowers.c.id == loans.c.borrower_id).outerjoin(
        loan_servicing, loan_servicing.c.loan_id == loans.c.id
    )
    return select(
        loans.c.id,
        loans.c.borrower_id,
        borrowers.c.name.label("borrower_name"),
        loans.c.product_code,
        loans.c.principal_minor,
        loans.c.rate_annual,
        loans.c.term_months,
        loans.c.status,
        _PRINCIPAL.label("outstanding_minor"),
        loan_servicing.c.dpd,
        loan_servicing.c.risk_class,
        loan_servicing.c.opened_on,
        loans.c.created_at,
    ).select_from(joined)


def _loan_row(r: Any) -> LoanRow:
    return LoanRow(
        id=r.id,
        borrower_id=r.borrower_id,
        borrower_name=r.borrower_name,
        product_code=r.product_code,
        principal=from_minor(int(r.principal_minor)),
        rate_annual=r.rate_annual,
        term_months=int(r.term_months),
        status=r.status,
        outstanding=from_minor(int(r.outstanding_minor)) if r.outstanding_minor is not None else None,
        dpd=int(r.dpd) if r.dpd is not None else None,
        risk_class=RiskClass(int(r.risk_class)) if r.risk_class is not None else None,
        opened_on=r.opened_on,
        created_at=r.created_at,
    )


def loan_list(
    container: Container, status: LoanStatus | None, limit: int, offset: int, borrower_id: str | None = None
) -> tuple[list[LoanRow], int]:
    """Loans newest first with their borrower and servicing position, and how many match."""
    where = []
    if status is not None:
        where.append(loans.c.status == status.value)
    if borrower_id is not None:
        where.append(loans.c.borrower_id == borrower_id)

    def work(conn: Connection) -> tuple[list[LoanRow], int]:
        query = _loan_rows().where(*where).order_by(loans.c.created_at.desc(), loans.c.id)
        rows = [_loan_row(r) for r in conn.execute(query.limit(limit).offset(offset))]
        total = conn.execute(select(func.count()).select_from(loans).where(*where)).scalar_one()
        return rows, int(total)

    return container.db.read(work)


@dataclass(frozen=True, slots=True)
class ApplicationRow:
    id: str
    product_code: str
    amount: Decimal
    term_months: int
    status: str
    created_at: datetime


def borrower_applications(container: Container, borrower_id: str) -> list[ApplicationRow]:
    query = (
        select(applications)
        .where(applications.c.borrower_id == borrower_id)
        .order_by(applications.c.created_at.desc(), applications.c.id)
    )
    return container.db.read(
        lambda conn: [
            ApplicationRow(
                r.id, r.product_code, from_minor(int(r.amount_minor)), int(r.term_months), r.status, r.created_at
            )
            for r in conn.execute(query)
        ]
    )


def staff_names(container: Container, ids: Iterable[str]) -> dict[str, str]:
    """Staff user id -> username (reviews and alerts record the id; people read the name)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = select(staff_users.c.id, staff_users.c.username).where(staff_users.c.id.in_(wanted))
    return container.db.read(lambda conn: {r.id: r.username for r in conn.execute(query)})


@dataclass(frozen=True, slots=True)
class PayoutRow:
    id: str
    status: str
    net: Decimal
    fee: Decimal
    account_masked: str
    failure_reason: str | None
    created_at: datetime
    resolved_at: datetime | None


def loan_payouts(conn: Connection, loan_id: str) -> list[PayoutRow]:
    query = select(disbursements).where(disbursements.c.loan_id == loan_id).order_by(disbursements.c.created_at)
    return [
        PayoutRow(
            r.id,
            r.status,
            from_minor(int(r.net_minor)),
            from_minor(int(r.fee_minor)),
            r.account_masked,
            r.failure_reason,
            r.created_at,
            r.resolved_at,
        )
        for r in conn.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class LedgerLine:
    transfer_id: str
    code: str  # TransferCode value
    business_date: date
    description: str
    account: AccountCode
    side: str  # Side value
    amount: Decimal


def loan_ledger(conn: Connection, loan_id: str) -> list[LedgerLine]:
    """The entries on the loan's own accounts (principal, interest, penalty and fee receivable),
    oldest first. The end of day posts one transfer for the whole book whose counter-entry is the
    book's total, so only the loan's own side of each transfer is shown."""
    joined = ledger_entries.join(ledger_accounts, ledger_accounts.c.id == ledger_entries.c.account_id).join(
        ledger_transfers, ledger_transfers.c.id == ledger_entries.c.transfer_id
    )
    query = (
        select(
            ledger_transfers.c.id,
            ledger_transfers.c.code,
            ledger_transfers.c.business_date,
            ledger_transfers.c.description,
            ledger_accounts.c.code.label("account_code"),
            ledger_entries.c.side,
            ledger_entries.c.amount_minor,
        )
        .select_from(joined)
        .where(
            and_(
                ledger_accounts.c.code.in_([c.value for c in LOAN_ACCOUNTS]),  # the (code, owner) index
                ledger_accounts.c.owner == f"loan:{loan_id}",
            )
        )
        .order_by(
            ledger_transfers.c.business_date,
            ledger_transfers.c.created_at,
            ledger_entries.c.transfer_id,
            ledger_entries.c.seq,
        )
    )
    return [
        LedgerLine(
            r.id,
            r.code,
            r.business_date,
            r.description,
            AccountCode(r.account_code),
            r.side,
            from_minor(int(r.amount_minor)),
        )
        for r in conn.execute(query)
    ]


class LoanEventKind(StrEnum):
    SIGNED = "signed"
    PAYOUT_REQUESTED = "payout_requested"
    PAYOUT_RESOLVED = "payout_resolved"  # detail: the disbursement's status (posted or failed)
    SCHEDULE_CHANGED = "schedule_changed"  # detail: the change's kind
    CLASS_UPGRADED = "class_upgraded"  # detail: the new five-category class (an int); with its reason
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LoanEvent:
    on: date
    kind: LoanEventKind
    detail: str
    reason: str
    actor: str


def loan_events(conn: Connection, loan_id: str) -> list[LoanEvent]:
    """The loan's status changes in date order, from where each is recorded: the signed contract,
    the payouts requested and resolved, the schedule changes (prepayments, restructurings,
    write-off), the upgrades of its five-category class and the closing date. One UNION ALL
    statement."""
    blank = literal("")
    parts = [
        select(
            _day(conn, contracts.c.signed_at).label("on"),
            literal(LoanEventKind.SIGNED.value).label("kind"),
            blank.label("detail"),
            blank.label("reason"),
            blank.label("actor"),
        )
        .select_from(contracts.join(loans, loans.c.contract_id == contracts.c.id))
        .where(and_(loans.c.id == loan_id, contracts.c.signed_at.is_not(None))),
        select(
            _day(conn, disbursements.c.created_at),
            literal(LoanEventKind.PAYOUT_REQUESTED.value),
            disbursements.c.account_masked,
            blank,
            blank,
        ).where(disbursements.c.loan_id == loan_id),
        select(
            _day(conn, disbursements.c.resolved_at),
            literal(LoanEventKind.PAYOUT_RESOLVED.value),
            disbursements.c.status,
            func.coalesce(disbursements.c.failure_reason, ""),
            blank,
        ).where(and_(disbursements.c.loan_id == loan_id, disbursements.c.resolved_at.is_not(None))),
        select(
            type_coerce(schedule_changes.c.effective_on, String),
            literal(LoanEventKind.SCHEDULE_CHANGED.value),
            schedule_changes.c.kind,
            schedule_changes.c.reason,
            schedule_changes.c.actor,
        ).where(schedule_changes.c.loan_id == loan_id),
        select(
            type_coerce(risk_class_changes.c.business_date, String),
            literal(LoanEventKind.CLASS_UPGRADED.value),
            cast(risk_class_changes.c.to_class, String),
            risk_class_changes.c.reason,
            risk_class_changes.c.actor,
        ).where(risk_class_changes.c.loan_id == loan_id),
        select(
            type_coerce(loan_servicing.c.closed_on, String),
            literal(LoanEventKind.CLOSED.value),
            loan_servicing.c.status,
            blank,
            blank,
        ).where(and_(loan_servicing.c.loan_id == loan_id, loan_servicing.c.closed_on.is_not(None))),
    ]
    everything = union_all(*parts).subquery()
    query = select(everything).order_by(everything.c.on)
    return [LoanEvent(_as_date(r.on), LoanEventKind(r.kind), r.detail, r.reason, r.actor) for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class LoanDetail:
    loan: dict[str, Any]  # servicing.loan_view
    schedule: list[dict[str, Any]]  # servicing.schedule_view: every version
    repayments: list[dict[str, Any]]  # servicing.repayments_view
    payouts: list[PayoutRow]
    events: list[LoanEvent]
    ledger: list[LedgerLine]


def loan_detail(container: Container, loan_id: str) -> LoanDetail:
    """Everything the loan page shows, read in one snapshot (the servicing views and the lists above)."""

    def work(conn: Connection) -> LoanDetail:
        if conn.execute(select(loans.c.id).where(loans.c.id == loan_id)).first() is None:
            raise NotFound(f"loan {loan_id} was not found")
        return LoanDetail(
            loan=servicing.loan_view(conn, loan_id),
            schedule=servicing.schedule_view(conn, loan_id),
            repayments=servicing.repayments_view(conn, loan_id),
            payouts=loan_payouts(conn, loan_id),
            events=loan_events(conn, loan_id),
            ledger=loan_ledger(conn, loan_id),
        )

    return container.db.read(work)


def loan_status(container: Container, loan_id: str) -> str | None:
    query = select(loans.c.status).where(loans.c.id == loan_id)
    return container.db.read_one(lambda conn: conn.execute(query).scalar())


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):  # SQLite hands CAST(... AS DATE) back as text
        return date.fromisoformat(value[:10])
    return value  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: str
    kind: str
    ref_id: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime


def open_outbox(container: Container, limit: int = 100) -> list[OutboxRow]:
    """Outbox items not yet done (payouts not confirmed by the bank): what reconciliation finishes."""
    query = select(outbox).where(outbox.c.status != "done").order_by(outbox.c.created_at).limit(limit)
    return container.db.read(
        lambda conn: [
            OutboxRow(r.id, r.kind, r.ref_id, r.status, int(r.attempts), r.last_error, r.created_at, r.updated_at)
            for r in conn.execute(query)
        ]
    )


@dataclass(frozen=True, slots=True)
class SmsRow:
    phone_masked: str
    message: str
    created_at: datetime


def sms_messages(container: Container, limit: int = 100) -> list[SmsRow]:
    """The demo SMS gateway's outbox, newest first, with the phone masked as stored."""
    query = select(sms_outbox).order_by(sms_outbox.c.created_at.desc(), sms_outbox.c.id).limit(limit)
    return container.db.read(
        lambda conn: [SmsRow(r.phone_masked, r.message, r.created_at) for r in conn.execute(query)]
    )


@dataclass(frozen=True, slots=True)
class ReviewedRow:
    application_id: str
    borrower_name: str
    status: str
    amount: Decimal
    actor: str
    decided_at: datetime


def decided_on_review(container: Container, limit: int = 20) -> list[ReviewedRow]:
    """The latest applications a reviewer approved or declined, newest first."""
    concluded = application_reviews.c.action.in_([ReviewAction.APPROVE.value, ReviewAction.DECLINE.value])
    joined = application_reviews.join(applications, applications.c.id == application_reviews.c.application_id).join(
        borrowers, borrowers.c.id == applications.c.borrower_id
    )
    query = (
        select(
            applications.c.id,
            borrowers.c.name,
            applications.c.status,
            applications.c.amount_minor,
            application_reviews.c.actor,
            application_reviews.c.created_at,
        )
        .select_from(joined)
        .where(concluded)
        .order_by(application_reviews.c.created_at.desc(), application_reviews.c.id)
        .limit(limit)
    )
    return container.db.read(
        lambda conn: [
            ReviewedRow(r.id, r.name, r.status, from_minor(int(r.amount_minor)), r.actor, r.created_at)
            for r in conn.execute(query)
        ]
    )
