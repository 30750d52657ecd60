"""Loan servicing: installments by schedule version, the per-loan servicing state the end-of-day
run updates set-based, repayments, schedule changes and EOD runs.

Revision ID: 0006_servicing
Revises: 0005_disbursement
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_servicing"
down_revision = "0005_disbursement"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
FEN = sa.BigInteger


def _fen(name: str) -> sa.Column[int]:
    return sa.Column(name, FEN, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "installments",
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("due_date", sa.Date, nullable=False),
        sa.Column("period_days", sa.Integer, nullable=False),
        _fen("principal_minor"),
        _fen("interest_minor"),
        _fen("fee_minor"),
        _fen("paid_principal_minor"),
        _fen("paid_interest_minor"),
        _fen("paid_fee_minor"),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("paid_on", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("loan_id", "version", "seq", name="pk_installments"),
    )
    # the end-of-day billing step finds the installments falling due without scanning the rest
    op.create_index(
        "ix_installments_scheduled_due_date",
        "installments",
        ["due_date"],
        postgresql_where=sa.text("status = 'scheduled'"),
        sqlite_where=sa.text("status = 'scheduled'"),
    )
    op.create_table(
        "loan_servicing",
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id"), primary_key=True),
        sa.Column("borrower_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("schedule_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("rate_ppm", sa.Integer, nullable=False),
        sa.Column("penalty_rate_ppm", sa.Integer, nullable=False),
        sa.Column("basis_days", sa.Integer, nullable=False),
        sa.Column("next_seq", sa.Integer, nullable=True),
        sa.Column("next_due_date", sa.Date, nullable=True),
        sa.Column("period_start", sa.Date, nullable=True),
        sa.Column("period_days", sa.Integer, nullable=False, server_default="0"),
        _fen("period_interest_minor"),
        _fen("period_fee_minor"),
        _fen("period_principal_minor"),
        _fen("accrued_in_period_minor"),
        _fen("not_due_principal_minor"),
        _fen("due_principal_minor"),
        _fen("due_interest_minor"),
        _fen("due_fee_minor"),
        _fen("penalty_minor"),
        sa.Column("penalty_basis_days", sa.BigInteger, nullable=False, server_default="0"),
        _fen("penalty_posted_minor"),
        sa.Column("overdue_since", sa.Date, nullable=True),
        sa.Column("dpd", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_dpd", sa.Integer, nullable=False, server_default="0"),
        sa.Column("risk_class", sa.Integer, nullable=False, server_default="1"),
        sa.Column("stage", sa.Integer, nullable=False, server_default="1"),
        _fen("provision_minor"),
        _fen("written_off_minor"),
        _fen("recovered_minor"),
        sa.Column("principal_account_id", sa.BigInteger, nullable=False),
        sa.Column("interest_account_id", sa.BigInteger, nullable=False),
        sa.Column("fee_account_id", sa.BigInteger, nullable=False),
        sa.Column("penalty_account_id", sa.BigInteger, nullable=False),
        sa.Column("opened_on", sa.Date, nullable=False),
        sa.Column("closed_on", sa.Date, nullable=True),
        sa.Column("last_eod_date", sa.Date, nullable=True),
    )
    op.create_index("ix_loan_servicing_status", "loan_servicing", ["status"])
    op.create_index("ix_loan_servicing_next_due_date", "loan_servicing", ["next_due_date"])
    if op.get_bind().dialect.name == "postgresql":
        # the end of day rewrites most rows daily: leave room on each page for HOT updates
        op.execute("ALTER TABLE loan_servicing SET (fillfactor = 80)")
        op.execute("ALTER TABLE installments SET (fillfactor = 90)")
    op.create_index("ix_loan_servicing_borrower_id", "loan_servicing", ["borrower_id"])
    op.create_table(
        "repayments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("channel_reference", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
        _fen("amount_minor"),
        _fen("penalty_minor"),
        _fen("fee_minor"),
        _fen("interest_minor"),
        _fen("principal_minor"),
        _fen("excess_minor"),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("channel", "channel_reference", name="uq_repayments_channel_reference"),
    )
    op.create_index("ix_repayments_loan_id", "repayments", ["loan_id"])
    op.create_table(
        "schedule_changes",
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("effective_on", sa.Date, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("loan_id", "version", name="pk_schedule_changes"),
    )
    op.create_table(
        "eod_runs",
        sa.Column("business_date", sa.Date, primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("loans", sa.Integer, nullable=False, server_default="0"),
        sa.Column("summary_json", sa.Text, nullable=False, server_default="{}"),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
    )


def downgrade() -> None:
    for table in ("eod_runs", "schedule_changes", "repayments", "loan_servicing", "installments"):
        op.drop_table(table)
