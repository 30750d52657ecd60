"""Lending core: products and the double-entry ledger, with balance and immutability triggers.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("code", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("repayment_method", sa.String(32), nullable=False),
        sa.Column("lender_type", sa.String(40), nullable=False),
        sa.Column("definition_json", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ledger_accounts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("code", sa.String(8), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False, server_default=""),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("debits_posted_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("credits_posted_minor", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("code", "owner", name="uq_ledger_accounts_code_owner"),
        sa.CheckConstraint(
            "debits_posted_minor >= 0 AND credits_posted_minor >= 0",
            name=op.f("ck_ledger_accounts_posted_nonnegative"),
        ),
    )
    op.create_table(
        "ledger_transfers",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("reverses_id", sa.String(100), sa.ForeignKey("ledger_transfers.id"), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("total_minor", sa.BigInteger, nullable=False),
        sa.Column("entry_count", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("reverses_id", name="uq_ledger_transfers_reverses_id"),
        sa.CheckConstraint("total_minor > 0 AND entry_count >= 2", name=op.f("ck_ledger_transfers_nonempty")),
    )
    op.create_index("ix_ledger_transfers_business_date", "ledger_transfers", ["business_date"])
    op.create_table(
        "ledger_entries",
        sa.Column("transfer_id", sa.String(100), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("account_id", sa.BigInteger, sa.ForeignKey("ledger_accounts.id"), nullable=False),
        sa.Column("side", sa.String(1), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", "seq", name="pk_ledger_entries"),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["ledger_transfers.id"],
            name="fk_ledger_entries_transfer",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.CheckConstraint("side IN ('D', 'C')", name=op.f("ck_ledger_entries_side")),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_ledger_entries_positive")),
    )
    op.create_index("ix_ledger_entries_account_id", "ledger_entries", ["account_id"])
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


# The transfer row is inserted after its entries and seals them: it may only be inserted when
# its entries balance, and no entry may be added to a sealed transfer. Nothing is ever updated
# or deleted: corrections are reversing transfers.

_SQLITE = [
    """CREATE TRIGGER ledger_transfer_balanced BEFORE INSERT ON ledger_transfers
    BEGIN
      SELECT RAISE(ABORT, 'ledger: unbalanced transfer')
      WHERE (SELECT COUNT(*) FROM ledger_entries WHERE transfer_id = NEW.id) <> NEW.entry_count
         OR NEW.entry_count < 2
         OR (SELECT COALESCE(SUM(CASE side WHEN 'D' THEN amount_minor ELSE -amount_minor END), 0)
             FROM ledger_entries WHERE transfer_id = NEW.id) <> 0
         OR (SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries
             WHERE transfer_id = NEW.id AND side = 'D') <> NEW.total_minor;
    END""",
    """CREATE TRIGGER ledger_entry_sealed BEFORE INSERT ON ledger_entries
    BEGIN
      SELECT RAISE(ABORT, 'ledger: transfer already posted')
      WHERE EXISTS (SELECT 1 FROM ledger_transfers WHERE id = NEW.transfer_id);
    END""",
    """CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger: entries are immutable'); END""",
    """CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger: entries are immutable'); END""",
    """CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
    BEGIN SELECT RAISE(ABORT, 'ledger: transfers are immutable'); END""",
    """CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
    BEGIN SELECT RAISE(ABORT, 'ledger: transfers are immutable'); END""",
]

# On PostgreSQL the two checks are statement-level triggers over transition tables: one set-based
# query per INSERT statement, however many rows a batch posts (bench/bench_ledger.py).
_POSTGRES = [
    """CREATE FUNCTION ledger_transfers_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE bad varchar;
    BEGIN
      -- LATERAL keeps both look-ups on the primary-key indexes, whatever the batch size
      SELECT t.id INTO bad
      FROM new_transfers AS t
      CROSS JOIN LATERAL (
        SELECT COUNT(*) AS n,
               COALESCE(SUM(CASE e.side WHEN 'D' THEN e.amount_minor ELSE -e.amount_minor END), 0) AS net,
               COALESCE(SUM(CASE e.side WHEN 'D' THEN e.amount_minor ELSE 0 END), 0) AS debits
        FROM ledger_entries AS e WHERE e.transfer_id = t.id) AS s
      WHERE s.n <> t.entry_count OR s.n < 2 OR s.net <> 0 OR s.debits <> t.total_minor
      LIMIT 1;
      IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: unbalanced transfer %', bad USING ERRCODE = 'check_violation';
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER ledger_transfer_balanced AFTER INSERT ON ledger_transfers
    REFERENCING NEW TABLE AS new_transfers FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfers_balanced()""",
    """CREATE FUNCTION ledger_entries_sealed() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE bad varchar;
    BEGIN
      SELECT e.transfer_id INTO bad
      FROM (SELECT DISTINCT transfer_id FROM new_entries) AS e
      CROSS JOIN LATERAL (SELECT 1 FROM ledger_transfers AS t WHERE t.id = e.transfer_id LIMIT 1) AS posted
      LIMIT 1;
      IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: transfer already posted %', bad USING ERRCODE = 'unique_violation';
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER ledger_entry_sealed AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_sealed()""",
    """CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'ledger: % rows are immutable', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
    END $$""",
    """CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable()""",
    """CREATE TRIGGER ledger_transfers_immutable BEFORE UPDATE OR DELETE ON ledger_transfers
    FOR EACH ROW EXECUTE FUNCTION ledger_immutable()""",
    """CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable()""",
    """CREATE TRIGGER ledger_transfers_no_truncate BEFORE TRUNCATE ON ledger_transfers
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable()""",
    # balance updates rewrite one small row many times: leave room so they stay HOT updates
    "ALTER TABLE ledger_accounts SET (fillfactor = 70)",
]


def _sqlite_triggers() -> None:
    for statement in _SQLITE:
        op.execute(statement)


def _postgres_triggers() -> None:
    for statement in _POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_truncate ON ledger_entries")
        op.execute("DROP TRIGGER IF EXISTS ledger_transfers_no_truncate ON ledger_transfers")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_transfers")
    op.drop_table("ledger_accounts")
    op.drop_table("products")
    if op.get_bind().dialect.name == "postgresql":
        for fn in ("ledger_transfers_balanced", "ledger_entries_sealed", "ledger_immutable"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
