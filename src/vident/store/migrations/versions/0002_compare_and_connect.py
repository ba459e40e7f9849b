"""compare and connect: keyframes, faces, people, text

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:40:00

Signals gain ``frame`` (0: the media itself, n: keyframe n of a video), ``model`` and
``detail``; the unique key widens to match. Exact lookups move from ``value`` to ``lookup``,
a copy of short values only, so the index never carries embeddings or keypoint sets.
Faces, person candidates, analysts' face links and recognised text get tables. Full-text
search is native to each backend: an FTS5 table kept in step by triggers on SQLite, a GIN
expression index on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_FTS = (
    "CREATE VIRTUAL TABLE media_text_fts USING fts5("
    "text, content='media_text', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER media_text_ai AFTER INSERT ON media_text BEGIN "
    "INSERT INTO media_text_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER media_text_ad AFTER DELETE ON media_text BEGIN "
    "INSERT INTO media_text_fts(media_text_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "END",
    "CREATE TRIGGER media_text_au AFTER UPDATE ON media_text BEGIN "
    "INSERT INTO media_text_fts(media_text_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO media_text_fts(rowid, text) VALUES (new.id, new.text); END",
)
POSTGRES_FTS = (
    "CREATE INDEX ix_media_text_tsv ON media_text USING gin (to_tsvector('simple', text))",
)


def upgrade() -> None:
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("frame", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("model", sa.String(length=96), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("detail", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("lookup", sa.LargeBinary(length=64), nullable=True))
        batch_op.drop_index("ix_signal_kind_value")
        batch_op.drop_constraint(batch_op.f("uq_signal_media_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_signal_media_id"), ["media_id", "kind", "version", "model", "frame"]
        )
        batch_op.create_index("ix_signal_kind_lookup", ["kind", "lookup"], unique=False)
    # Every value stored so far is a hash: short enough to look up.
    op.execute("UPDATE signal SET lookup = value WHERE length(value) <= 64")
    op.create_table(
        "frame",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("keyframe", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_frame_media_id_media"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frame")),
        sa.UniqueConstraint("media_id", "seq", name=op.f("uq_frame_media_id")),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=96), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("confirmed", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
    )
    op.create_table(
        "face",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("frame", sa.Integer(), server_default="0", nullable=False),
        sa.Column("model", sa.String(length=96), nullable=False),
        sa.Column("box_x", sa.Integer(), nullable=False),
        sa.Column("box_y", sa.Integer(), nullable=False),
        sa.Column("box_w", sa.Integer(), nullable=False),
        sa.Column("box_h", sa.Integer(), nullable=False),
        sa.Column("landmarks", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("assigned_by_analyst", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Boolean(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"], ["media.id"], name=op.f("fk_face_media_id_media"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_face_person_id_person"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"], ["signal.id"], name=op.f("fk_face_signal_id_signal"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face")),
        sa.UniqueConstraint("signal_id", "idx", name=op.f("uq_face_signal_id")),
    )
    op.create_index("ix_face_media_id", "face", ["media_id"], unique=False)
    op.create_index("ix_face_person_id", "face", ["person_id"], unique=False)
    op.create_table(
        "face_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("face_a", sa.Integer(), nullable=False),
        sa.Column("face_b", sa.Integer(), nullable=False),
        sa.Column("same", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["face_a"], ["face.id"], name=op.f("fk_face_link_face_a_face"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["face_b"], ["face.id"], name=op.f("fk_face_link_face_b_face"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_link")),
        sa.UniqueConstraint("face_a", "face_b", name=op.f("uq_face_link_face_a")),
    )
    op.create_table(
        "media_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Integer(), nullable=False),
        sa.Column("frame", sa.Integer(), server_default="0", nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_media_text_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signal.id"],
            name=op.f("fk_media_text_signal_id_signal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_text")),
        sa.UniqueConstraint("signal_id", name=op.f("uq_media_text_signal_id")),
    )
    op.create_index("ix_media_text_media_id", "media_text", ["media_id"], unique=False)
    op.create_index("ix_exif_make_model", "exif", ["make", "model"], unique=False)
    op.create_index("ix_exif_gps", "exif", ["gps_lat", "gps_lon"], unique=False)
    op.create_index("ix_exif_taken_at", "exif", ["taken_at"], unique=False)
    statements = SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_exif_taken_at", table_name="exif")
    op.drop_index("ix_exif_gps", table_name="exif")
    op.drop_index("ix_exif_make_model", table_name="exif")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS media_text_fts")
    op.drop_index("ix_media_text_media_id", table_name="media_text")
    op.drop_table("media_text")
    op.drop_table("face_link")
    op.drop_index("ix_face_person_id", table_name="face")
    op.drop_index("ix_face_media_id", table_name="face")
    op.drop_table("face")
    op.drop_table("person")
    op.drop_table("frame")
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_signal_media_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_signal_media_id"), ["media_id", "kind", "version"]
        )
        batch_op.drop_index("ix_signal_kind_lookup")
        batch_op.create_index("ix_signal_kind_value", ["kind", "value"], unique=False)
        batch_op.drop_column("lookup")
        batch_op.drop_column("detail")
        batch_op.drop_column("model")
        batch_op.drop_column("frame")
