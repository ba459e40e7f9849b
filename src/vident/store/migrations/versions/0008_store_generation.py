"""store generation: a counter every change of the store moves on

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 06:20:00

``store_generation`` holds one row whose ``value`` each use case that changes something
increments when it ends, and a random ``store_token`` made with the store. A process that
keeps a result computed from the store (the triage of a source) keeps it only while the
counter has not moved, whichever process made the change.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "store_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("store_token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_generation")),
    )
    # A store made again at the same place (same URL) starts at 0 too: the token tells them
    # apart, so a process never takes one store's kept results for the other's.
    op.bulk_insert(table, [{"id": 1, "value": 0, "store_token": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("store_generation")
