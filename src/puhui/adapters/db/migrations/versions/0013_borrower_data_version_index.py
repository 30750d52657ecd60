"""The version of a borrower's stored data (per source: the newest row id and the count) read from
an index alone: every credit decision reads it, and the unique key (borrower, source, row key) made
PostgreSQL visit each of the borrower's rows in the table to learn their ids.

Revision ID: 0013_borrower_data_version_index
Revises: 0012_risk_class_upgrades
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0013_borrower_data_version_index"
down_revision = "0012_risk_class_upgrades"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_borrower_data_borrower_source_id", "borrower_data", ["borrower_id", "source", "id"])


def downgrade() -> None:
    op.drop_index("ix_borrower_data_borrower_source_id", table_name="borrower_data")
