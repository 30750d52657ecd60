"""`puhui demo` history: borrowers of every kind, loans in several states, every figure posted,
and a book a lender would believe (issue 5): a realistic approval rate, declines for several
reasons, reviews decided by maker and checker, payouts spread over the months, arrears."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import (
    application_reviews,
    applications,
    borrowers,
    eod_runs,
    installments,
    loan_servicing,
    loans,
    repayments,
    risk_class_changes,
    schedule_changes,
)
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.clock import CHINA_TZ, FixedClock, as_utc
from puhui.config import load_settings
from puhui.domain.accrual import CURE_OBSERVATION_PERIODS, CURE_REASON, RiskClass, cure_observed_from
from puhui.services import reports
from puhui.services.accounting import get_trial_balance, unreconciled_accounts
from puhui.services.demo_history import has_history, seed_history
from puhui.services.reports import DpdBucket


def _container(db: Database, now: datetime = datetime(2026, 11, 22, 2, tzinfo=UTC)) -> Container:
    clock = FixedClock(now)
    container = Container(load_settings(database_url=db.url, env="demo"), db, clock)
    prepare(container)
    seed_demo_capital(container)
    return container


def test_demo_history_has_loans_in_several_states_and_balanced_books(db: Database) -> None:
    container = _container(db)
    assert not has_history(container)
    summary = seed_history(container, borrowers=60, days=200, seed=3)
    assert has_history(container)
    counts = db.read(
        lambda c: {
            "kinds": c.execute(select(func.count(func.distinct(borrowers.c.kind)))).scalar_one(),
            "days": c.execute(select(func.count()).select_from(eod_runs)).scalar_one(),
            "late": c.execute(select(func.count()).where(loan_servicing.c.max_dpd > 0)).scalar_one(),
            "repayments": c.execute(select(func.count()).select_from(repayments)).scalar_one(),
            "last": c.execute(select(func.max(eod_runs.c.business_date))).scalar_one(),
        }
    )
    assert counts["kinds"] == 3 and counts["days"] == 200
    assert str(counts["last"]) == "2026-11-21"  # closed through yesterday: the console is current
    assert summary.loans >= 25 and counts["repayments"] > summary.loans
    assert counts["late"] > 0
    assert len(summary.statuses) >= 2, summary.statuses  # active and closed at least
    assert get_trial_balance(db).balanced
    assert unreconciled_accounts(db) == {}


def _first_policy_reason(decision_json: str) -> str:
    """The policy's reason for a decline (the model's factors, R-..., follow the policy's)."""
    codes = [r["code"] for r in json.loads(decision_json)["reasons"] if not r["code"].startswith("R-")]
    return codes[0]


def test_demo_history_reads_like_a_real_small_lender(sqlite_db: Database) -> None:
    """SQLite only: what `make run` builds, at a size that runs in well under a minute."""
    container = _container(sqlite_db)
    seed_demo_staff(container)  # as `puhui demo` does: the reviews are made by the demo's officer and risk manager
    seed_history(container, borrowers=220, days=270, seed=5)  # from 25 February 2026
    d = reports.dashboard(container)

    assert d.approval_rate is not None and Decimal("0.40") <= d.approval_rate <= Decimal("0.72"), d.outcomes
    declined = sqlite_db.read(
        lambda c: [
            row.decision_json
            for row in c.execute(select(applications.c.decision_json).where(applications.c.status == "declined"))
        ]
    )
    reasons = Counter(_first_policy_reason(j) for j in declined)
    assert len(reasons) >= 5, reasons  # affordability, knock-outs, bureau, PD, manual review ...
    assert max(reasons.values()) <= 0.6 * len(declined), reasons  # no one reason explains every decline

    actions = sqlite_db.read(lambda c: list(c.execute(select(application_reviews))))
    by_app: dict[str, dict[str, str]] = {}
    for a in actions:
        by_app.setdefault(a.application_id, {})[a.action] = a.actor
    approved = [acts for acts in by_app.values() if "approve" in acts]
    assert approved and any("decline" in acts for acts in by_app.values())
    assert all(acts["propose_terms"] != acts["approve"] for acts in approved)  # maker-checker

    full_months = d.disbursed_by_month[-9:-1]  # March to October: the history's complete months
    payouts = [m.loans for m in full_months]
    assert min(payouts) > 0 and max(payouts) <= 1.6 * statistics.median(payouts), payouts

    assert sum(a.loans for b, a in d.dpd.items() if b is not DpdBucket.CURRENT) > 0, d.dpd
    assert d.npl_ratio is not None and d.npl_ratio > 0, d.classes
    assert d.classes[RiskClass.NORMAL].loans > d.npl.loans  # mostly a performing book
    _special_mention_is_only_what_the_rules_keep_there(sqlite_db, d)
    assert get_trial_balance(sqlite_db).balanced


def _special_mention_is_only_what_the_rules_keep_there(db: Database, d: reports.Dashboard) -> None:
    """Late payers are cured and upgraded (rule 9, domain/accrual.cure_upgrade): a loan is 关注 only
    while overdue, restructured, or within its observation after being brought current; so far
    fewer loans are 关注 than were ever late, and the share of the book is a few per cent."""
    as_of = db.read(lambda c: c.execute(select(func.max(eod_runs.c.business_date))).scalar_one())
    as_of = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
    rows = db.read(lambda c: list(c.execute(select(loan_servicing).where(loan_servicing.c.status == "active"))))
    restructured = db.read(
        lambda c: {r.loan_id for r in c.execute(select(schedule_changes).where(schedule_changes.c.kind.like("restr%")))}
    )
    upgrades = db.read(lambda c: list(c.execute(select(risk_class_changes))))
    assert upgrades and all(u.reason == CURE_REASON and u.to_class == RiskClass.NORMAL for u in upgrades)
    ever_late = [r for r in rows if int(r.max_dpd) > 0]
    special = [r for r in rows if int(r.risk_class) == RiskClass.SPECIAL_MENTION]
    assert len(special) < len(ever_late), (len(special), len(ever_late))
    for r in special:  # overdue now, restructured, or not yet through its observation
        if int(r.dpd) > 0 or r.loan_id in restructured:
            continue
        assert r.current_since is not None, r  # brought current by a payment
        paid_since = db.read(
            lambda c, r=r: c.execute(
                select(func.count()).where(
                    installments.c.loan_id == r.loan_id,
                    installments.c.status == "paid",
                    installments.c.due_date > r.current_since,
                )
            ).scalar_one()
        )
        assert r.current_since > cure_observed_from(as_of) or paid_since < CURE_OBSERVATION_PERIODS, r
    share = d.classes[RiskClass.SPECIAL_MENTION].minor / d.portfolio.minor
    assert 0 < share <= 0.08, (share, d.classes)


def test_demo_history_includes_todays_business_so_far(sqlite_db: Database) -> None:
    """The dashboard's "paid out today" is not nought: the history closes yesterday and then runs
    today's business up to the clock's time (the morning's payments, the officer's queue, a day's
    share of applications and their payouts), every event before now, today left open."""
    now = datetime(2026, 11, 22, 6, 30, tzinfo=UTC)  # 14:30 in China
    container = _container(sqlite_db, now)
    seed_history(container, borrowers=120, days=30, seed=3)
    d = reports.dashboard(container)
    assert d.as_of == date(2026, 11, 22)
    assert d.disbursed_today.loans > 0 and d.disbursed_today.minor > 0, d.disbursed_today
    busiest = max(m.loans for m in d.disbursed_by_month)
    assert d.disbursed_today.loans < busiest  # one day's share, not a month's
    closed = sqlite_db.read(lambda c: c.execute(select(func.max(eod_runs.c.business_date))).scalar_one())
    assert str(closed) == "2026-11-21"  # today is not closed: the lender's end of day does that
    moments = sqlite_db.read(
        lambda c: [
            as_utc(m)
            for table in (applications, loans, repayments)
            for m in c.execute(select(table.c.created_at)).scalars()
        ]
    )
    assert max(moments) <= now and any(m.astimezone(CHINA_TZ).date() == now.date() for m in moments)
