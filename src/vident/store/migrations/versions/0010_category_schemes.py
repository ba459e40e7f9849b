"""category schemes: the scheme each agency's number keys vote in

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 07:00:00

``category_scheme`` holds one row per agency that chose its own category scheme for the
triage grid (its name and its categories with their number keys). Stores made before have
none: every agency keeps voting in the default scheme (UK-CAID), as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "category_scheme",
        sa.Column("agency_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_category_scheme_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_category_scheme")),
    )


def downgrade() -> None:
    op.drop_table("category_scheme")
