"""wellbeing: how each user's veiled previews look, and agency defaults

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 06:00:00

``wellbeing_setting`` holds one row per user who chose their own blur, colour and break
reminder, and one per agency whose administrator set a default for its users. Stores made
before have none: everyone keeps the default look (greyscale, strong blur).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wellbeing_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("blur", sa.Integer(), nullable=False),
        sa.Column("greyscale", sa.Boolean(), nullable=False),
        sa.Column("break_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_wellbeing_setting_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["app_user.id"],
            name=op.f("fk_wellbeing_setting_user_id_app_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wellbeing_setting")),
        sa.UniqueConstraint("agency_id", name=op.f("uq_wellbeing_setting_agency_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_wellbeing_setting_user_id")),
    )


def downgrade() -> None:
    op.drop_table("wellbeing_setting")
