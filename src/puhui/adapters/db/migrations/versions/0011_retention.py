"""Retention of personal data (PIPL Art. 19): when a borrower was anonymised, and an audit row of
each anonymisation (which rule, from which last activity, what it changed: counts, no PII).

Revision ID: 0011_retention
Revises: 0010_product_versions
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_retention"
down_revision = "0010_product_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("borrowers", sa.Column("anonymised_on", sa.Date, nullable=True))
    op.create_table(
        "retention_log",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False),
        sa.Column("rule", sa.String(24), nullable=False),
        sa.Column("last_activity_on", sa.Date, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("business_date", sa.Date, nullable=False),
        sa.Column("rows_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("borrower_id", name="uq_retention_log_borrower_id"),
    )


def downgrade() -> None:
    op.drop_table("retention_log")
    op.drop_column("borrowers", "anonymised_on")
