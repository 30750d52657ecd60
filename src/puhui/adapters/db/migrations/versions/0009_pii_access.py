"""The audit log of staff seeing a borrower's identifiers in full.

Revision ID: 0009_pii_access
Revises: 0008_risk
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_pii_access"
down_revision = "0008_risk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pii_access_log",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False),
        sa.Column("staff_id", sa.String(64), nullable=False),
        sa.Column("staff_role", sa.String(16), nullable=False),
        sa.Column("fields", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pii_access_log_borrower_id", "pii_access_log", ["borrower_id"])


def downgrade() -> None:
    op.drop_index("ix_pii_access_log_borrower_id", table_name="pii_access_log")
    op.drop_table("pii_access_log")
