"""interconnect: peers, their messages, what this instance shares, alerts and their hits

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:16:11

``peer`` holds the other instances (URL, public keys, role, reach, cursors);
``peer_message`` the nonces of messages taken from them (a replay is refused);
``shared_record`` and ``shared_hash`` what this instance offers its peers, each change under
the next sequence number; ``exchange_state`` small named counters. ``alert``, ``alert_hash``
and ``alert_hit``: agencies' alerts on series or hashes and who hit them. ``hashset_entry``
gains ``identified_by`` (who identified the victim, as a peer's record says) and ``agency``
``contact`` (whom other agencies call). Stores made before share nothing until a case or
series is shared and a peer added.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_exchange_state")),
    )
    op.create_table(
        "peer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("signing_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("sealing_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("reach", sa.String(length=16), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("push_cursor", sa.BigInteger(), nullable=False),
        sa.Column("pull_cursor", sa.BigInteger(), nullable=False),
        sa.Column("bundle_cursor", sa.BigInteger(), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_contact", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer")),
        sa.UniqueConstraint("name", name=op.f("uq_peer_name")),
    )
    op.create_table(
        "shared_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("widest", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("alerted", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_from", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_record")),
        sa.UniqueConstraint("origin", "key", name=op.f("uq_shared_record_origin")),
    )
    with op.batch_alter_table("shared_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shared_record_alerted"), ["alerted"], unique=False)
        batch_op.create_index(batch_op.f("ix_shared_record_seq"), ["seq"], unique=False)

    op.create_table(
        "peer_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["peer_id"], ["peer.id"], name=op.f("fk_peer_message_peer_id_peer"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_message")),
        sa.UniqueConstraint("peer_id", "nonce", name=op.f("uq_peer_message_peer_id")),
    )
    with op.batch_alter_table("peer_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peer_message_at"), ["at"], unique=False)

    op.create_table(
        "shared_hash",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["shared_record.id"],
            name=op.f("fk_shared_hash_record_id_shared_record"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shared_hash")),
    )
    with op.batch_alter_table("shared_hash", schema=None) as batch_op:
        batch_op.create_index("ix_shared_hash_kind_value", ["kind", "value"], unique=False)
        batch_op.create_index(batch_op.f("ix_shared_hash_record_id"), ["record_id"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("sharing", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_alert_agency_id_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["series_id"], ["series.id"], name=op.f("fk_alert_series_id_series"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
    )
    op.create_table(
        "alert_hash",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_alert_hash_alert_id_alert"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_hash")),
    )
    with op.batch_alter_table("alert_hash", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_hash_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index("ix_alert_hash_kind_value", ["kind", "value"], unique=False)

    op.create_table(
        "alert_hit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_ref", sa.String(length=100), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("owner_instance", sa.String(length=64), nullable=False),
        sa.Column("owner_agency", sa.String(length=200), nullable=True),
        sa.Column("hit_instance", sa.String(length=64), nullable=False),
        sa.Column("hit_agency", sa.String(length=200), nullable=False),
        sa.Column("hit_country", sa.String(length=2), nullable=True),
        sa.Column("hit_contact", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_alert_hit_alert_id_alert"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_hit")),
        sa.UniqueConstraint(
            "alert_ref",
            "hit_instance",
            "hit_agency",
            "kind",
            "value",
            name=op.f("uq_alert_hit_alert_ref"),
        ),
    )
    with op.batch_alter_table("alert_hit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_hit_alert_id"), ["alert_id"], unique=False)

    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact", sa.String(length=200), nullable=True))

    with op.batch_alter_table("hashset_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identified_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hashset_entry", schema=None) as batch_op:
        batch_op.drop_column("identified_by")

    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.drop_column("contact")

    with op.batch_alter_table("alert_hit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_hit_alert_id"))

    op.drop_table("alert_hit")
    with op.batch_alter_table("alert_hash", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_hash_kind_value")
        batch_op.drop_index(batch_op.f("ix_alert_hash_alert_id"))

    op.drop_table("alert_hash")
    op.drop_table("alert")
    with op.batch_alter_table("shared_hash", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shared_hash_record_id"))
        batch_op.drop_index("ix_shared_hash_kind_value")

    op.drop_table("shared_hash")
    with op.batch_alter_table("peer_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_message_at"))

    op.drop_table("peer_message")
    with op.batch_alter_table("shared_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shared_record_alerted"))
        batch_op.drop_index(batch_op.f("ix_shared_record_seq"))

    op.drop_table("shared_record")
    op.drop_table("peer")
    op.drop_table("exchange_state")
