"""Rows derived from signals: one face row per face, one text row per recognised text.

A ``face`` signal holds every face of a picture or keyframe in one value (vectors) and its
``detail`` (boxes, landmarks); clustering and the face index need one row per face. A
``text`` signal's value is the text; full-text search needs it in ``media_text``. Both are
written in the same transaction as their signal and ignore rows that already exist, so they
are as idempotent as the signals themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from vident.store.models import LOOKUP_BYTES, Face, Frame, MediaText, Signal
from vident.store.upsert import chunked, insert_ignore

FACE_KIND = "face"
TEXT_KIND = "text"

SIGNAL_KEY = ("media_id", "kind", "version", "model", "frame")


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def signal_row(media_id: int, signal: Any) -> dict[str, Any]:
    """The ``signal`` row for one :class:`~vident.signals.base.SignalValue`."""
    return {
        "media_id": media_id,
        "kind": signal.kind,
        "version": signal.version,
        "model": signal.model,
        "frame": signal.frame,
        "value": signal.value,
        "quality": signal.quality,
        "variants": b"".join(signal.variants) if signal.variants else None,
        "detail": signal.detail,
        "lookup": signal.value if len(signal.value) <= LOOKUP_BYTES else None,
    }


def face_rows(
    signal_id: int,
    media_id: int,
    frame: int,
    model: str,
    value: bytes,
    detail: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    faces = list((detail or {}).get("faces", []))
    if not faces or not value:
        return []
    step = len(value) // len(faces)
    rows = []
    for idx, face in enumerate(faces):
        x, y, w, h = (round(float(v)) for v in face["box"])
        rows.append(
            {
                "signal_id": signal_id,
                "idx": idx,
                "media_id": media_id,
                "frame": frame,
                "model": model,
                "box_x": x,
                "box_y": y,
                "box_w": w,
                "box_h": h,
                "landmarks": face.get("landmarks"),
                "score": face.get("score"),
                "quality": face.get("quality"),
                "embedding": value[idx * step : (idx + 1) * step],
            }
        )
    return rows


def text_rows(
    signal_id: int,
    media_id: int,
    frame: int,
    model: str,
    value: bytes,
    detail: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    del model, detail
    text = value.decode("utf-8", "replace").strip()
    if not text:
        return []
    return [{"signal_id": signal_id, "media_id": media_id, "frame": frame, "text": text}]


RowMaker = Callable[[int, int, int, str, bytes, dict[str, Any] | None], list[dict[str, Any]]]
DERIVED: dict[str, tuple[Any, RowMaker, list[str]]] = {
    FACE_KIND: (Face, face_rows, ["signal_id", "idx"]),
    TEXT_KIND: (MediaText, text_rows, ["signal_id"]),
}


def write_signals(
    session: Session,
    signals: Sequence[tuple[int, Any]],
    frames: Sequence[tuple[int, int, float, bool]] = (),
) -> None:
    """Store ``(media_id, SignalValue)`` pairs, frames ``(media_id, seq, ts, keyframe)`` and
    the rows derived from them."""
    if frames:
        rows = [
            {"media_id": m, "seq": seq, "ts": ts, "keyframe": key} for m, seq, ts, key in frames
        ]
        insert_ignore(
            session, _table(Frame), unique_rows(rows, "media_id", "seq"), ["media_id", "seq"]
        )
    rows = [signal_row(media_id, signal) for media_id, signal in signals]
    insert_ignore(session, _table(Signal), unique_rows(rows, *SIGNAL_KEY), list(SIGNAL_KEY))
    media = sorted({media_id for media_id, s in signals if s.kind in DERIVED})
    for part in chunked(media):
        found = session.execute(
            select(
                Signal.id,
                Signal.media_id,
                Signal.frame,
                Signal.kind,
                Signal.model,
                Signal.value,
                Signal.detail,
            ).where(Signal.media_id.in_(part), Signal.kind.in_(list(DERIVED)))
        )
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for sid, media_id, frame, kind, model, value, detail in found:
            maker = DERIVED[kind][1]
            by_kind.setdefault(kind, []).extend(
                maker(sid, media_id, frame, model, bytes(value), detail)
            )
        for kind, derived in by_kind.items():
            table, _, conflict = DERIVED[kind]
            insert_ignore(session, _table(table), derived, conflict)


def unique_rows(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """First row per key: a batch may hold the same picture twice (two paths, one content)."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(tuple(row[key] for key in keys), row)
    return list(seen.values())
