"""Five-category upgrades (rule 9): the day a loan was last brought current, and each upgrade of a
loan's class with its recorded reason.

Revision ID: 0012_risk_class_upgrades
Revises: 0011_retention
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_risk_class_upgrades"
down_revision = "0011_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("loan_servicing", sa.Column("current_since", sa.Date, nullable=True))
    op.create_table(
        "risk_class_changes",
        sa.Column("loan_id", sa.String(36), sa.ForeignKey("loans.id"), primary_key=True),
        sa.Column("business_date", sa.Date, primary_key=True),
        sa.Column("from_class", sa.Integer, nullable=False),
        sa.Column("to_class", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("current_since", sa.Date, nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("risk_class_changes")
    op.drop_column("loan_servicing", "current_since")
