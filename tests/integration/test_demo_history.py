"""`puhui demo` history: borrowers of every kind, loans in several states, every figure posted."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from puhui.adapters.db.database import Database
from puhui.adapters.db.tables import borrowers, eod_runs, loan_servicing, repayments
from puhui.bootstrap import Container, prepare, seed_demo_capital
from puhui.clock import FixedClock
from puhui.config import load_settings
from puhui.services.accounting import get_trial_balance, unreconciled_accounts
from puhui.services.demo_history import has_history, seed_history


def test_demo_history_has_loans_in_several_states_and_balanced_books(db: Database) -> None:
    clock = FixedClock(datetime(2026, 11, 22, 2, tzinfo=UTC))
    container = Container(load_settings(database_url=db.url, env="demo"), db, clock)
    prepare(container)
    seed_demo_capital(container)
    assert not has_history(container)
    summary = seed_history(container, borrowers=40, days=200, seed=3)
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
    assert summary.loans >= 35 and counts["repayments"] > summary.loans
    assert counts["late"] > 0
    assert len(summary.statuses) >= 2, summary.statuses  # active and closed at least
    assert get_trial_balance(db).balanced
    assert unreconciled_accounts(db) == {}
