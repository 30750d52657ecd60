"""Manual review of `review` decisions: one row per reviewer action (maker–checker).

Revision ID: 0007_review
Revises: 0006_servicing
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_review"
down_revision = "0006_servicing"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "application_reviews",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("application_id", sa.String(36), sa.ForeignKey("applications.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("amount_minor", sa.BigInteger, nullable=True),
        sa.Column("term_months", sa.Integer, nullable=True),
        sa.Column("rate_annual", sa.String(12), nullable=True),
        sa.Column("apr_percent", sa.String(12), nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("application_id", "seq", name="uq_application_reviews_application_seq"),
    )
    # the queue: applications in review, oldest first
    op.create_index("ix_applications_status_created_at", "applications", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_applications_status_created_at", table_name="applications")
    op.drop_table("application_reviews")
