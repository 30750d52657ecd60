"""Applications with their stored decision, and offers valid for a set time.

Revision ID: 0003_origination
Revises: 0002_borrowers_auth
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_origination"
down_revision = "0002_borrowers_auth"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "applications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False),
        sa.Column("product_code", sa.String(40), sa.ForeignKey("products.code"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision_json", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_applications_borrower_id", "applications", ["borrower_id"])
    op.create_table(
        "offers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("application_id", sa.String(36), sa.ForeignKey("applications.id"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=False),
        sa.Column("term_months", sa.Integer, nullable=False),
        sa.Column("rate_annual", sa.String(12), nullable=False),
        sa.Column("apr_percent", sa.String(12), nullable=False),
        sa.Column("upfront_fee_minor", sa.BigInteger, nullable=False),
        sa.Column("schedule_json", sa.Text, nullable=False),
        sa.Column("valid_until", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("application_id", name="uq_offers_application_id"),
    )


def downgrade() -> None:
    op.drop_table("offers")
    op.drop_table("applications")
