"""Product versions: every definition a product has had, who changed it and what changed; a loan
keeps the version of its product it was signed under.

Revision ID: 0010_product_versions
Revises: 0009_pii_access
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_product_versions"
down_revision = "0009_pii_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_versions",
        sa.Column("code", sa.String(40), sa.ForeignKey("products.code"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition_json", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
        sa.Column("changes_json", sa.Text, nullable=False, server_default="[]"),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", "version", name="pk_product_versions"),
    )
    # the products already stored are their own first recorded version
    op.execute(
        "INSERT INTO product_versions (code, version, definition_json, active, source, changed_by, changes_json,"
        " changed_at) SELECT code, version, definition_json, active, 'catalogue', 'catalogue', '[]', updated_at"
        " FROM products"
    )
    op.add_column("loans", sa.Column("product_version", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("loans", "product_version")
    op.drop_table("product_versions")
