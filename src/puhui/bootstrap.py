"""Wiring: settings -> database -> clock. Nothing heavy happens at import time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from puhui.adapters.crypto import PiiCipher
from puhui.adapters.db.database import Database
from puhui.clock import Clock, SystemClock
from puhui.config import Settings, load_settings
from puhui.services import accounting, catalogue


@dataclass
class Container:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    _cipher: PiiCipher | None = field(default=None, repr=False)

    @property
    def cipher(self) -> PiiCipher:
        if self._cipher is None:
            self._cipher = PiiCipher(*self.settings.resolved_pii_keys())
        return self._cipher


def build(database_url: str | None = None, clock: Clock | None = None) -> Container:
    settings = load_settings(**({"database_url": database_url} if database_url else {}))
    db = Database(settings.database_url)
    if clock is None and settings.business_date_source == "eod":
        from puhui.services.eod import EodCalendarClock

        clock = EodCalendarClock(db, SystemClock())
    return Container(settings, db, clock or SystemClock())


def prepare(container: Container, products_dir: Path | None = None) -> list[catalogue.LoadedProduct]:
    """Migrate, open the chart of accounts and load the shipped products (idempotent)."""
    container.db.migrate()
    accounting.open_chart_of_accounts(container.db)
    files = catalogue.product_files(products_dir or catalogue.DEMO_PRODUCTS_DIR)
    return catalogue.load_products(container.db, files, container.clock.business_date())


DEMO_CAPITAL_MINOR = 100_000_000_00  # RMB 100 M of lending capital for the demo lender
DEMO_OPENING_DATE = date(2025, 1, 1)  # fixed, so re-running the demo posts nothing new


def seed_demo_capital(container: Container) -> accounting.PostResult:
    """The demo lender's paid-in capital in its bank account (idempotent by transfer id)."""
    from puhui.domain.ledger import AccountCode, AccountKey, TransferCode, credit, debit, make_transfer

    transfer = make_transfer(
        "demo-capital",
        TransferCode.CAPITAL,
        [
            debit(AccountKey(AccountCode.BANK_CASH), DEMO_CAPITAL_MINOR),
            credit(AccountKey(AccountCode.EQUITY), DEMO_CAPITAL_MINOR),
        ],
        DEMO_OPENING_DATE,
        description="paid-in capital of the demo lender",
    )
    return accounting.post_transfer(container.db, transfer)


DEMO_STAFF = ("officer", "risk", "ops", "finance", "admin")


def seed_demo_staff(container: Container) -> list[str]:
    """Staff users officer, risk, ops, finance and admin with password "demo" (never in production)."""
    from puhui.config import Environment
    from puhui.domain.access import Role
    from puhui.services.auth import create_staff_user

    if container.settings.env is Environment.PRODUCTION:
        raise RuntimeError("demo staff users are never created in production")
    return [name for name in DEMO_STAFF if create_staff_user(container, name, "demo", Role(name))]
