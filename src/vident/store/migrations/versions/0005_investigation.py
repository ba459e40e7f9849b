"""investigation: case ownership, series, victims and offenders, places, clues, votes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 01:20:00

Adds the tables of the investigation: which agency owns a case (a table beside ``case_file``,
so cases made before agencies existed keep no owner), series and their media, victims and
offenders (one ``subject`` table; personal details encrypted with the keyring) with their
series and media, locations, clues boxed in a media, annotations on anything, and the
categorisation votes from which a media's agreed category follows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "annotation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation")),
    )
    with op.batch_alter_table("annotation", schema=None) as batch_op:
        batch_op.create_index("ix_annotation_target", ["target_kind", "target_id"], unique=False)

    op.create_table(
        "location",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location")),
    )
    op.create_table(
        "case_owner",
        sa.Column("case_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("sharing", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_case_owner_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["case_file.id"],
            name=op.f("fk_case_owner_case_id_case_file"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_owner")),
    )
    with op.batch_alter_table("case_owner", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_owner_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "category_vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("voter", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_category_vote_media_id_media")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_vote")),
        sa.UniqueConstraint("media_id", "scheme", "voter", name=op.f("uq_category_vote_media_id")),
    )
    with op.batch_alter_table("category_vote", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_category_vote_media_id"), ["media_id"], unique=False)

    op.create_table(
        "clue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("x", sa.Integer(), nullable=True),
        sa.Column("y", sa.Integer(), nullable=True),
        sa.Column("w", sa.Integer(), nullable=True),
        sa.Column("h", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_clue_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"], name=op.f("fk_clue_media_id_media")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clue")),
    )
    with op.batch_alter_table("clue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clue_media_id"), ["media_id"], unique=False)

    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("sharing", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case_file.id"], name=op.f("fk_series_case_id_case_file")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
        sa.UniqueConstraint("name", name=op.f("uq_series_name")),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_case_id"), ["case_id"], unique=False)

    op.create_table(
        "subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("identified", sa.Boolean(), nullable=False),
        sa.Column("identified_by_agency_id", sa.Integer(), nullable=True),
        sa.Column("identified_country", sa.String(length=2), nullable=True),
        sa.Column("identified_on", sa.Date(), nullable=True),
        sa.Column("personal", sa.LargeBinary(), nullable=True),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["identified_by_agency_id"],
            ["agency.id"],
            name=op.f("fk_subject_identified_by_agency_id_agency"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_subject_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject")),
        sa.UniqueConstraint("code", name=op.f("uq_subject_code")),
    )
    op.create_table(
        "series_media",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_series_media_media_id_media")
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name=op.f("fk_series_media_series_id_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series_media")),
        sa.UniqueConstraint("series_id", "media_id", name=op.f("uq_series_media_series_id")),
    )
    with op.batch_alter_table("series_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_media_media_id"), ["media_id"], unique=False)

    op.create_table(
        "subject_media",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_subject_media_media_id_media")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_subject_media_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "media_id", name=op.f("pk_subject_media")),
    )
    with op.batch_alter_table("subject_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_media_media_id"), ["media_id"], unique=False)

    op.create_table(
        "subject_series",
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name=op.f("fk_subject_series_series_id_series"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["subject.id"],
            name=op.f("fk_subject_series_subject_id_subject"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subject_id", "series_id", name=op.f("pk_subject_series")),
    )
    with op.batch_alter_table("subject_series", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_series_series_id"), ["series_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_series_series_id"))

    op.drop_table("subject_series")
    with op.batch_alter_table("subject_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_media_media_id"))

    op.drop_table("subject_media")
    with op.batch_alter_table("series_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_media_media_id"))

    op.drop_table("series_media")
    op.drop_table("subject")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_series_case_id"))

    op.drop_table("series")
    with op.batch_alter_table("clue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clue_media_id"))

    op.drop_table("clue")
    with op.batch_alter_table("category_vote", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_category_vote_media_id"))

    op.drop_table("category_vote")
    with op.batch_alter_table("case_owner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_owner_agency_id"))

    op.drop_table("case_owner")
    op.drop_table("location")
    with op.batch_alter_table("annotation", schema=None) as batch_op:
        batch_op.drop_index("ix_annotation_target")

    op.drop_table("annotation")
