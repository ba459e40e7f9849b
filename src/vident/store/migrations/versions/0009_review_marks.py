"""review marks: which media an analyst has looked at, seen by their agency

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:40:00

``review_mark`` holds one row per media and reviewer, with the agency the reviewer acted
for. Stores made before have none: nothing is marked reviewed yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_review_mark_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_review_mark_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_mark")),
        sa.UniqueConstraint("media_id", "reviewer", name=op.f("uq_review_mark_media_id")),
    )
    with op.batch_alter_table("review_mark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_mark_agency_id"), ["agency_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_mark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_mark_agency_id"))
    op.drop_table("review_mark")
