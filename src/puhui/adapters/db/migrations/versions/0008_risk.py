"""Risk control: alternative data per borrower, upload batches, stored decisions, alerts.

Revision ID: 0008_risk
Revises: 0007_review
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_risk"
down_revision = "0007_review"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "borrower_data",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False),
        sa.Column("source", sa.String(24), nullable=False),
        sa.Column("row_key", sa.String(200), nullable=False),
        sa.Column("observed_on", sa.Date, nullable=True),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("ingested_at", TS, nullable=False),
        sa.UniqueConstraint("borrower_id", "source", "row_key", name="uq_borrower_data_borrower_source_key"),
    )
    op.create_table(
        "data_batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False),
        sa.Column("source", sa.String(24), nullable=False),
        sa.Column("input_format", sa.String(12), nullable=False),
        sa.Column("received", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Integer, nullable=False),
        sa.Column("rejections_json", sa.Text, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "risk_decisions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False),
        sa.Column("application_id", sa.String(36), nullable=True),
        sa.Column("decided_on", sa.Date, nullable=False),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("features_json", sa.Text, nullable=False),
        sa.Column("fraud_json", sa.Text, nullable=False),
        sa.Column("result_json", sa.Text, nullable=False),
        sa.Column("trace_json", sa.Text, nullable=False),
        sa.Column("model_version", sa.String(120), nullable=True),
        sa.Column("policy_version", sa.String(120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_risk_decisions_borrower_created", "risk_decisions", ["borrower_id", "created_at"])
    op.create_table(
        "risk_alerts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("borrower_id", sa.String(36), nullable=True),
        sa.Column("subject", sa.String(100), nullable=True),
        sa.Column("details_json", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolution", sa.Text, nullable=True),
        sa.UniqueConstraint("kind", "subject", name="uq_risk_alerts_kind_subject"),
    )
    op.create_index("ix_risk_alerts_status_created", "risk_alerts", ["status", "created_at"])
    op.create_table(
        "application_signals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False, index=True),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=True),
        sa.Column("network_hash", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    for name, column in (("phone", "phone_hash"), ("device", "device_id"), ("network", "network_hash")):
        op.create_index(f"ix_application_signals_{name}_created", "application_signals", [column, "created_at"])
    op.create_table(
        "flagged_accounts",
        sa.Column("account_hash", sa.String(64), primary_key=True),
        sa.Column("account_masked", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("flagged_by", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    # a business's registration date: time in business is a knock-out fact of the credit policy
    op.add_column("borrowers", sa.Column("established_on", sa.Date, nullable=True))
    # nullable, so a plain ALTER TABLE ADD COLUMN on both databases (payouts before 0008 have none)
    op.add_column("disbursements", sa.Column("account_hash", sa.String(64), nullable=True))
    op.create_index("ix_disbursements_account_hash", "disbursements", ["account_hash"])


def downgrade() -> None:
    op.drop_index("ix_disbursements_account_hash", table_name="disbursements")
    with op.batch_alter_table("disbursements") as batch:
        batch.drop_column("account_hash")
    with op.batch_alter_table("borrowers") as batch:
        batch.drop_column("established_on")
    op.drop_table("flagged_accounts")
    op.drop_table("application_signals")
    op.drop_index("ix_risk_alerts_status_created", table_name="risk_alerts")
    op.drop_table("risk_alerts")
    op.drop_index("ix_risk_decisions_borrower_created", table_name="risk_decisions")
    op.drop_table("risk_decisions")
    op.drop_table("data_batches")
    op.drop_table("borrower_data")
