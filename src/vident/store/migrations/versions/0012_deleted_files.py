"""deleted files: occurrences found through a file system's record of a deleted file

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 19:50:00

``occurrence`` gains ``deleted``: true where ingest read the file from a disk image through
its file system's record of a deleted file. Occurrences stored before were all live files
(vident read no disk images), so they stay false.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deleted", sa.Boolean(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("occurrence", schema=None) as batch_op:
        batch_op.drop_column("deleted")
