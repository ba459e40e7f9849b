"""hash-set import status

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 23:30:00

Hash sets gain ``status``: ``importing`` while an import runs (and after one that was killed
or failed), ``incomplete`` when the file could not be read to its end, ``complete`` when it
was. Sets imported before this revision finished their import, so they start as ``complete``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hashset", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="complete", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("hashset", schema=None) as batch_op:
        batch_op.drop_column("status")
