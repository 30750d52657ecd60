"""Borrowers with encrypted identifiers, consent records, staff users, tokens, OTPs, SMS outbox.

Revision ID: 0002_borrowers_auth
Revises: 0001_core
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_borrowers_auth"
down_revision = "0001_core"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "borrowers",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("id_number_enc", sa.Text, nullable=False),
        sa.Column("id_number_hash", sa.String(64), nullable=False),
        sa.Column("id_number_masked", sa.String(32), nullable=False),
        sa.Column("phone_enc", sa.Text, nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("phone_masked", sa.String(16), nullable=False),
        sa.Column("region", sa.String(12), nullable=False),
        sa.Column("industry", sa.String(40), nullable=True),
        sa.Column("staff_count", sa.Integer, nullable=True),
        sa.Column("annual_revenue_minor", sa.BigInteger, nullable=True),
        sa.Column("total_assets_minor", sa.BigInteger, nullable=True),
        sa.Column("size_class", sa.String(16), nullable=False),
        sa.Column("inclusive", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("id_number_hash", name="uq_borrowers_id_number_hash"),
    )
    op.create_index("ix_borrowers_phone_hash", "borrowers", ["phone_hash"])
    op.create_table(
        "consents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("borrower_id", sa.String(36), sa.ForeignKey("borrowers.id"), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("text_version", sa.String(40), nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_index("ix_consents_borrower_id", "consents", ["borrower_id"])
    op.create_table(
        "staff_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("username", name="uq_staff_users_username"),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("partner", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("consumed_at", TS, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_otp_challenges_phone_hash", "otp_challenges", ["phone_hash"])
    op.create_index("ix_otp_challenges_created_at", "otp_challenges", ["created_at"])
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("phone_enc", sa.Text, nullable=False),
        sa.Column("phone_masked", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("sms_outbox", "otp_challenges", "api_keys", "auth_tokens", "staff_users", "consents", "borrowers"):
        op.drop_table(table)
