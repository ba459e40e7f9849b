"""scoping and jobs: owning agency of series and subjects, ingest jobs of uploads

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:10:00

Series and victims/offenders gain the agency that owns them, so what a user may see follows
their agency and the sharing level; rows made before have none (the instance's own, seen by
all its users). ``ingest_job`` records each seizure uploaded to the API and its progress.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("series", "subject"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("agency_id", sa.Integer(), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_agency_id"), ["agency_id"])
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_agency_id_agency"), "agency", ["agency_id"], ["id"]
            )
    op.create_table(
        "ingest_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("evidence", sa.String(length=300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("files_total", sa.Integer(), nullable=False),
        sa.Column("files_done", sa.Integer(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=False),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_ingest_job_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_ingest_job_case_id_case_file")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_job")),
    )
    with op.batch_alter_table("ingest_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_job_agency_id"), ["agency_id"])
        batch_op.create_index(batch_op.f("ix_ingest_job_source"), ["source"])
        batch_op.create_index(batch_op.f("ix_ingest_job_status"), ["status"])


def downgrade() -> None:
    op.drop_table("ingest_job")
    for table in ("subject", "series"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_agency_id_agency"), type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_{table}_agency_id"))
            batch_op.drop_column("agency_id")
