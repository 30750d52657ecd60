"""`puhui demo` history: borrowers of every kind, loans in several states, every figure posted,
and a book a lender would believe (issue 5): a realistic approval rate, declines for several
reasons, reviews decided by maker and checker, payouts spread over the months, arrears."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import application_reviews, applications, borrowers, eod_runs, loan_servicing, repayments
from puhui.bootstrap import Container, prepare, seed_demo_capital, seed_demo_staff
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.domain.accrual import RiskClass
from puhui.services import reports
from puhui.services.accounting import get_trial_balance, unreconciled_accounts
from puhui.services.demo_history import has_history, seed_history
from puhui.services.reports import DpdBucket


def _container(db: Database) -> Container:
    clock = FixedClock(datetime(2026, 11, 22, 2, tzinfo=UTC))
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
    assert get_trial_balance(sqlite_db).balanced
