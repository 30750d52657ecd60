"""E-contracts (document, SHA-256, platform signature) and the loans they create.

Revision ID: 0004_contracts_loans
Revises: 0003_origination
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_contracts_loans"
down_revision = "0003_origination"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("offer_id", sa.String(36), sa.ForeignKey("offers.id"), nullable=False),
        sa.Column("application_id", sa.String(36), sa.ForeignKey("applications.id"), nullable=False),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False),
        sa.Column("terms_json", sa.Text, nullable=False),
        sa.Column("document_html", sa.Text, nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("platform_signature", sa.Text, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("signed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("offer_id", name="uq_contracts_offer_id"),
    )
    op.create_index("ix_contracts_borrower_id", "contracts", ["borrower_id"])
    op.create_table(
        "loans",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("contract_id", sa.String(36), sa.ForeignKey("contracts.id"), nullable=False),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False),
        sa.Column("product_code", sa.String(40), sa.ForeignKey("products.code"), nullable=False),
        sa.Column("principal_minor", sa.BigInteger, nullable=False),
        sa.Column("rate_annual", sa.String(12), nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("schedule_json", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("contract_id", name="uq_loans_contract_id"),
    )
    op.create_index("ix_loans_borrower_id", "loans", ["borrower_id"])


def downgrade() -> None:
    op.drop_table("loans")
    op.drop_table("contracts")
