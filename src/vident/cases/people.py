"""People across cases: faces clustered into person candidates, and the analysts' decisions.

Every face that is not rejected belongs to a person once clustering has seen it: a face seen
once is still a candidate (an unknown victim in one picture is worth a row), and it keeps the
invariant that ``person_id IS NULL`` means "not clustered yet", which is what makes
:func:`cluster_new_faces` incremental. :func:`list_people` hides singletons on request
(``min_faces``).

Decisions live in the store, so clustering can run again without losing them:

- ``face.assigned_by_analyst`` pins a face to its person (confirm, merge, split, move); a
  recluster starts from the pinned faces as seeds and never moves them, and two persons that
  both hold pinned faces are never merged by the machine.
- ``face.rejected`` keeps a face out of every person.
- ``face_link`` rows record the pairs an analyst decided, with the actor: ``same`` True for
  faces put together (a star from one face of each group, not every pair: n - 1 rows say the
  same as n(n - 1)/2), False for faces set apart. A newer decision on a pair replaces the
  older one, and an action removes links that it contradicts, so the links never disagree
  with the pins. Clustering honours them as must-link and cannot-link pairs.
- Two faces of one picture or keyframe are never one person: clustering never joins them and
  the analyst actions refuse to (reject or move one of the two first).

Transactions follow :mod:`vident.store.sources`: each function works in the caller's session
and flushes, never commits; the caller commits (``with store.session() as session:``) or
rolls back, so one command is one transaction. Bulk writes go around the ORM, so functions
that make them expire the session's loaded objects after flushing.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vident.cases.clustering import DEFAULT_THRESHOLD, Clusters, cluster, normalise
from vident.store.base import utcnow
from vident.store.db import StoreError
from vident.store.models import Face, FaceLink, Occurrence, Person, Source
from vident.store.upsert import chunked

__all__ = [
    "DEFAULT_THRESHOLD",
    "ClusterSummary",
    "PeopleError",
    "PersonFace",
    "PersonSummary",
    "cluster_new_faces",
    "confirm",
    "face_models",
    "label",
    "list_people",
    "merge",
    "move_face",
    "person_faces",
    "recluster",
    "reject_face",
    "split",
]

log = logging.getLogger(__name__)

_FACE: Table = Face.__table__  # type: ignore[assignment]
_LINK: Table = FaceLink.__table__  # type: ignore[assignment]
#: Faces shown per person in a listing, best quality first.
SAMPLES = 5
#: Faces of lower quality (0-100: size, sharpness, detector score) join no person unless an
#: analyst puts them there: tiny background faces and false detections of textures matched
#: each other across unrelated corpus pictures at cosines of 0.46-0.83 (FaceNet).
CLUSTER_MIN_QUALITY = 50


class PeopleError(StoreError):
    """An analyst action that cannot be done as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class ClusterSummary:
    """What a clustering run did, for one face model."""

    model: str
    #: Faces the run placed (new faces, or every free face in a recluster).
    faces: int = 0
    #: Of those, faces that went to a person that existed before the run.
    joined: int = 0
    new_persons: int = 0
    #: Faces whose person changed (a recluster; in an incremental run, equal to ``faces``).
    changed: int = 0
    #: Persons deleted because they were left without faces (never confirmed or labelled ones).
    removed_persons: int = 0
    #: Analyst must-links that contradicted a pin, a picture or a cannot-link.
    skipped_links: int = 0


@dataclass(frozen=True, slots=True)
class PersonSummary:
    id: int
    model: str
    label: str | None
    confirmed: bool
    faces: int
    media: int
    #: Names of the sources (seizures) holding any of its pictures, sorted.
    sources: tuple[str, ...]
    #: Up to :data:`SAMPLES` face ids, best quality first.
    sample_faces: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PersonFace:
    id: int
    media_id: int
    frame: int
    box: tuple[int, int, int, int]
    score: float | None
    quality: int | None
    assigned_by_analyst: bool
    #: Mean cosine similarity to the person's other faces (None for a person of one face):
    #: the weakest faces are the ones worth an analyst's look.
    similarity: float | None


@dataclass(frozen=True)
class _Faces:
    """The non-rejected faces of one model, in face id order, as arrays."""

    ids: npt.NDArray[np.int64]
    photos: npt.NDArray[np.int64]
    persons: npt.NDArray[np.int64]  # -1: none yet
    pinned: npt.NDArray[np.bool_]
    vectors: npt.NDArray[np.float32]

    def rows(self, face_ids: Iterable[int]) -> npt.NDArray[np.int64]:
        """Row numbers of faces in this set; ids not in it give -1."""
        wanted = np.fromiter(face_ids, np.int64)
        at = np.searchsorted(self.ids, wanted)
        at[at >= len(self.ids)] = 0
        found = self.ids[at] == wanted if len(self.ids) else np.zeros(len(wanted), bool)
        return np.where(found, at, -1).astype(np.int64)


def _load(session: Session, model: str) -> _Faces:
    rows = session.execute(
        select(
            Face.id,
            Face.media_id,
            Face.frame,
            Face.person_id,
            Face.assigned_by_analyst,
            Face.embedding,
        )
        .where(
            Face.model == model,
            Face.rejected.is_(False),
            or_(
                Face.quality.is_(None),
                Face.quality >= CLUSTER_MIN_QUALITY,
                Face.assigned_by_analyst.is_(True),
            ),
        )
        .order_by(Face.id)
    ).all()
    n = len(rows)
    embeddings = [bytes(row[5]) for row in rows]
    sizes = {len(e) for e in embeddings} or {0}
    size = sizes.pop()
    if sizes or size % 4:
        raise PeopleError(f"faces of model {model!r} have embeddings of different lengths")
    dim = size // 4
    vectors = np.frombuffer(b"".join(embeddings), np.float32).reshape(n, dim)
    media = np.fromiter((row[1] for row in rows), np.int64, n)
    frames = np.fromiter((row[2] for row in rows), np.int64, n)
    photos = (
        np.unique(np.stack([media, frames], axis=1), axis=0, return_inverse=True)[1].reshape(-1)
        if n
        else np.zeros(0, np.int64)
    )
    return _Faces(
        ids=np.fromiter((row[0] for row in rows), np.int64, n),
        photos=photos.astype(np.int64),
        persons=np.fromiter((-1 if row[3] is None else row[3] for row in rows), np.int64, n),
        pinned=np.fromiter((bool(row[4]) for row in rows), bool, n),
        vectors=vectors,
    )


def _links(session: Session, model: str, faces: _Faces) -> tuple[list[tuple[int, int]], ...]:
    """Analyst links among ``faces`` as row-number pairs: (must, cannot), newest first."""
    rows = session.execute(
        select(FaceLink.face_a, FaceLink.face_b, FaceLink.same)
        .join(Face, Face.id == FaceLink.face_a)
        .where(Face.model == model)
        .order_by(FaceLink.created_at.desc(), FaceLink.id.desc())
    ).all()
    must: list[tuple[int, int]] = []
    cannot: list[tuple[int, int]] = []
    a = faces.rows(row[0] for row in rows)
    b = faces.rows(row[1] for row in rows)
    for i, j, row in zip(a.tolist(), b.tolist(), rows, strict=True):
        if i >= 0 and j >= 0:
            (must if row[2] else cannot).append((i, j))
    return must, cannot


def _run(
    session: Session, faces: _Faces, model: str, seeds: npt.NDArray[np.int64], threshold: float
) -> Clusters:
    must, cannot = _links(session, model, faces)
    return cluster(
        faces.vectors, threshold, photos=faces.photos, seeds=seeds, must=must, cannot=cannot
    )


def _new_persons(session: Session, model: str, count: int) -> list[int]:
    if not count:
        return []
    now = utcnow()
    rows = [{"model": model, "created_at": now, "updated_at": now} for _ in range(count)]
    ids = session.scalars(
        insert(Person).returning(Person.id, sort_by_parameter_order=True), rows
    ).all()
    return list(ids)


def _assign(session: Session, face_ids: Sequence[int], person_ids: Sequence[int]) -> None:
    """Set ``person_id`` of many faces in one executemany."""
    if not face_ids:
        return
    statement = (
        update(_FACE).where(_FACE.c.id == bindparam("fid")).values(person_id=bindparam("pid"))
    )
    session.execute(
        statement,
        [{"fid": f, "pid": p} for f, p in zip(face_ids, person_ids, strict=True)],
    )


def _touch(session: Session, person_ids: Iterable[int]) -> None:
    for part in chunked(sorted(set(person_ids))):
        session.execute(update(Person).where(Person.id.in_(part)).values(updated_at=utcnow()))


def _drop_empty(session: Session, model: str, candidates: Iterable[int] | None = None) -> int:
    """Delete persons left without faces, unless an analyst confirmed, labelled or noted them."""
    empty = (
        select(Person.id)
        .where(
            Person.model == model,
            Person.confirmed.is_(False),
            Person.label.is_(None),
            Person.note.is_(None),
            ~exists().where(Face.person_id == Person.id),
        )
        .order_by(Person.id)
    )
    ids = list(session.scalars(empty))
    if candidates is not None:
        wanted = set(candidates)
        ids = [i for i in ids if i in wanted]
    for part in chunked(ids):
        session.execute(
            delete(Person).where(Person.id.in_(part)).execution_options(synchronize_session=False)
        )
    return len(ids)


def face_models(session: Session) -> list[str]:
    """Face models with faces in the store: each is clustered on its own."""
    return list(session.scalars(select(Face.model).distinct().order_by(Face.model)))


def cluster_new_faces(
    session: Session, model: str, threshold: float = DEFAULT_THRESHOLD
) -> ClusterSummary:
    """Place faces that have no person yet (a new seizure), leaving every other face alone.

    Each existing person is a fixed cluster compared through its centroid; a new face joins
    the best person whose average similarity reaches ``threshold`` (confirmed ones included)
    unless a picture or a cannot-link forbids it, and the new faces left over are clustered
    among themselves into new persons, singletons included.
    """
    faces = _load(session, model)
    new = faces.persons < 0
    if not new.any():
        return ClusterSummary(model=model)
    result = _run(session, faces, model, faces.persons, threshold)
    labels = result.labels[new]
    fresh = np.unique(labels[result.seeds[labels] < 0])
    created = _new_persons(session, model, len(fresh))
    person_of = result.seeds.copy()
    person_of[fresh] = created
    targets = person_of[labels]
    joined = result.seeds[labels] >= 0
    _assign(session, faces.ids[new].tolist(), targets.tolist())
    _touch(session, targets[joined].tolist())
    session.flush()
    session.expire_all()
    return ClusterSummary(
        model=model,
        faces=int(new.sum()),
        joined=int(joined.sum()),
        new_persons=len(created),
        changed=int(new.sum()),
        skipped_links=result.skipped_must,
    )


def cluster_configured(session: Session, *, again: bool = False) -> ClusterSummary:
    """Cluster the configured face model's faces at that model's own clustering threshold.

    New faces only (what every ingest does), or every face again with ``again``; the one
    entry point of ingest and ``vident people cluster``.
    """
    from vident.signals.face import Face as FaceKind
    from vident.signals.registry import get

    kind = get("face")
    assert isinstance(kind, FaceKind)
    run = recluster if again else cluster_new_faces
    return run(session, kind.model, kind.cluster_similarity)


def recluster(session: Session, model: str, threshold: float = DEFAULT_THRESHOLD) -> ClusterSummary:
    """Rebuild every machine assignment of ``model`` from scratch, keeping every decision.

    Pinned faces stay with their persons; everything else is clustered again (it may join a
    pinned person by centroid). A new cluster takes over the old unpinned person most of its
    faces came from, so labels and ids survive a recluster that changes little; persons left
    empty are deleted unless confirmed, labelled or noted.
    """
    faces = _load(session, model)
    seeds = np.where(faces.pinned & (faces.persons >= 0), faces.persons, -1)
    result = _run(session, faces, model, seeds, threshold)
    person_of = result.seeds.copy()
    free = np.flatnonzero(result.seeds < 0)
    # Old persons a new cluster may inherit: any not held by pinned faces, not confirmed.
    # Named ones (label or note) go first, so the analyst's words follow most of their faces.
    held = set(np.unique(seeds[seeds >= 0]).tolist())
    status = {
        pid: (confirmed, named)
        for pid, confirmed, named in session.execute(
            select(
                Person.id,
                Person.confirmed,
                Person.label.is_not(None) | Person.note.is_not(None),
            ).where(Person.model == model)
        )
    }
    overlap: Counter[tuple[int, int]] = Counter()
    in_free = np.isin(result.labels, free) & (faces.persons >= 0)
    for c, p in zip(result.labels[in_free].tolist(), faces.persons[in_free].tolist(), strict=True):
        if p not in held and not status.get(p, (True, False))[0]:
            overlap[(c, p)] += 1
    taken: set[int] = set()
    ranked = sorted(overlap.items(), key=lambda kv: (not status[kv[0][1]][1], -kv[1], kv[0]))
    for (c, p), _count in ranked:
        if person_of[c] < 0 and p not in taken:
            person_of[c] = p
            taken.add(p)
    fresh = np.flatnonzero(person_of < 0)
    created = _new_persons(session, model, len(fresh))
    person_of[fresh] = created
    targets = person_of[result.labels]
    changed = targets != faces.persons
    _assign(session, faces.ids[changed].tolist(), targets[changed].tolist())
    _touch(session, targets[changed].tolist())
    session.flush()
    removed = _drop_empty(session, model)
    session.flush()
    session.expire_all()
    return ClusterSummary(
        model=model,
        faces=int((seeds < 0).sum()),
        joined=int(((seeds < 0) & np.isin(targets, faces.persons[faces.persons >= 0])).sum()),
        new_persons=len(created),
        changed=int(changed.sum()),
        removed_persons=removed,
        skipped_links=result.skipped_must,
    )


# --- analyst decisions -------------------------------------------------------------------


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise PeopleError(f"no person {person_id}")
    return person


def _face(session: Session, face_id: int) -> Face:
    face = session.get(Face, face_id)
    if face is None:
        raise PeopleError(f"no face {face_id}")
    return face


def _members(session: Session, person_ids: Sequence[int]) -> list[tuple[int, int, int, int]]:
    """``(face id, person id, media id, frame)`` of the persons' faces, by face id."""
    rows = session.execute(
        select(Face.id, Face.person_id, Face.media_id, Face.frame)
        .where(Face.person_id.in_(list(person_ids)))
        .order_by(Face.id)
    )
    return [(f, p, m, fr) for f, p, m, fr in rows if p is not None]


def _check_pictures(members: Sequence[tuple[int, int, int, int]]) -> None:
    """Refuse a person that would hold two faces of one picture or keyframe."""
    seen: dict[tuple[int, int], int] = {}
    for face, _person_id, media, frame in members:
        other = seen.setdefault((media, frame), face)
        if other != face:
            where = f"media {media}" + (f" frame {frame}" if frame else "")
            raise PeopleError(
                f"faces {other} and {face} are in one picture ({where}) and cannot be one "
                "person; reject or move one of them first"
            )


def _upsert_links(
    session: Session, pairs: Iterable[tuple[int, int]], same: bool, actor: str | None
) -> None:
    """Record decisions on face pairs; a newer decision on a pair replaces the older one."""
    now = utcnow()
    rows = [
        {"face_a": min(a, b), "face_b": max(a, b), "same": same, "actor": actor, "created_at": now}
        for a, b in {(min(a, b), max(a, b)) for a, b in pairs if a != b}
    ]
    if not rows:
        return
    rows.sort(key=lambda r: (r["face_a"], r["face_b"]))
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(_LINK)
    elif dialect == "sqlite":
        statement = sqlite.insert(_LINK)
    else:
        raise NotImplementedError(f"vident does not support the {dialect} database")
    statement = statement.on_conflict_do_update(
        index_elements=["face_a", "face_b"],
        set_={
            "same": statement.excluded.same,
            "actor": statement.excluded.actor,
            "created_at": statement.excluded.created_at,
        },
    )
    for part in chunked(rows):
        session.execute(statement, list(part))


def _unlink(session: Session, left: Sequence[int], right: Sequence[int], same: bool) -> None:
    """Delete links of kind ``same`` between any face of ``left`` and any of ``right``."""
    if not left or not right:
        return
    for part in chunked(list(left)):
        for other in chunked(list(right)):
            session.execute(
                delete(FaceLink)
                .where(
                    FaceLink.same.is_(same),
                    or_(
                        FaceLink.face_a.in_(part) & FaceLink.face_b.in_(other),
                        FaceLink.face_b.in_(part) & FaceLink.face_a.in_(other),
                    ),
                )
                .execution_options(synchronize_session=False)
            )


def _pin(session: Session, person_ids: Sequence[int]) -> None:
    session.execute(
        update(Face)
        .where(Face.person_id.in_(list(person_ids)))
        .values(assigned_by_analyst=True)
        .execution_options(synchronize_session="fetch")
    )


def confirm(session: Session, person_id: int, actor: str | None) -> Person:
    """An analyst checked the person: it keeps every face it has now.

    New faces may still join it (by clustering or :func:`move_face`), never leave it by
    clustering. The faces are pinned and linked (a star from the lowest face id).
    """
    person = _person(session, person_id)
    face_ids = [m[0] for m in _members(session, [person_id])]
    person.confirmed = True
    _pin(session, [person_id])
    if face_ids:
        _unlink(session, face_ids, face_ids, same=False)
        _upsert_links(session, ((face_ids[0], f) for f in face_ids[1:]), True, actor)
    session.flush()
    return person


def merge(session: Session, person_ids: Sequence[int], actor: str | None) -> Person:
    """Make several persons one: the first keeps its id and gets every face, pinned.

    It keeps its label (or takes the first of the others'), is confirmed if any was, and the
    notes are joined. Cannot-links among the merged faces are removed (the newer decision
    wins) and one must-link joins each merged person's lowest face to the first's.
    """
    ids = list(dict.fromkeys(person_ids))
    if len(ids) < 2:
        raise PeopleError("merging needs at least two different persons")
    persons = [_person(session, p) for p in ids]
    models = {p.model for p in persons}
    if len(models) > 1:
        raise PeopleError(f"persons of different face models cannot be merged: {sorted(models)}")
    members = _members(session, ids)
    _check_pictures(members)
    target, others = persons[0], persons[1:]
    groups: dict[int, list[int]] = defaultdict(list)
    for face, person_id, _media, _frame in members:
        groups[person_id].append(face)
    everyone = [m[0] for m in members]
    _unlink(session, everyone, everyone, same=False)
    anchors = [groups[p][0] for p in ids if groups[p]]
    _upsert_links(session, ((anchors[0], a) for a in anchors[1:]), True, actor)
    session.execute(
        update(Face)
        .where(Face.person_id.in_(ids))
        .values(person_id=target.id, assigned_by_analyst=True)
        .execution_options(synchronize_session="fetch")
    )
    target.confirmed = any(p.confirmed for p in persons)
    if target.label is None:
        target.label = next((p.label for p in others if p.label is not None), None)
    notes = [p.note for p in persons if p.note]
    target.note = "\n".join(dict.fromkeys(notes)) if notes else None
    for person in others:
        session.delete(person)
    session.flush()
    return target


def split(session: Session, person_id: int, face_ids: Sequence[int], actor: str | None) -> Person:
    """Move ``face_ids`` out of a person into a new one: the analyst says they are not it.

    Both groups are pinned (the analyst has looked at the person), must-links between them
    are removed, and cannot-links record the decision (each face of one group to the lowest
    face of the other). Returns the new person.
    """
    person = _person(session, person_id)
    members = [m[0] for m in _members(session, [person_id])]
    chosen = sorted(set(face_ids))
    outside = sorted(set(chosen) - set(members))
    if outside:
        raise PeopleError(f"faces {outside} are not faces of person {person_id}")
    if not chosen:
        raise PeopleError("name the faces to split off")
    rest = sorted(set(members) - set(chosen))
    if not rest:
        raise PeopleError(f"those are all the faces of person {person_id}: nothing to split")
    created = Person(model=person.model)
    session.add(created)
    session.flush()
    _pin(session, [person_id])
    session.execute(
        update(Face)
        .where(Face.id.in_(chosen))
        .values(person_id=created.id, assigned_by_analyst=True)
        .execution_options(synchronize_session="fetch")
    )
    _unlink(session, chosen, rest, same=True)
    pairs = [(rest[0], f) for f in chosen] + [(chosen[0], r) for r in rest]
    _upsert_links(session, pairs, False, actor)
    session.flush()
    return created


def reject_face(session: Session, face_id: int, actor: str | None) -> Face:
    """Not a usable face (a poster, a drawing, a false detection): it joins no person.

    The schema has no column for who rejected a face, so ``actor`` is logged only; see the
    module notes. A person left empty goes unless it is confirmed, labelled or noted.
    """
    face = _face(session, face_id)
    old = face.person_id
    face.rejected = True
    face.person_id = None
    face.assigned_by_analyst = False
    session.flush()
    log.info("face %d rejected by %s", face_id, actor or "an analyst")
    if old is not None:
        _drop_empty(session, face.model, [old])
        session.flush()
    return face


def move_face(session: Session, face_id: int, person_id: int, actor: str | None) -> Face:
    """Put a face into a person (a rejected face is taken back), pinned there.

    The move records a cannot-link to the lowest face of the person it leaves and a
    must-link to the lowest face of the person it joins, and removes links that contradict
    them.
    """
    face = _face(session, face_id)
    target = _person(session, person_id)
    if target.model != face.model:
        raise PeopleError(
            f"face {face_id} is of model {face.model!r}, person {person_id} of {target.model!r}"
        )
    old = face.person_id
    joining = [m for m in _members(session, [person_id]) if m[0] != face_id]
    _check_pictures([*joining, (face.id, person_id, face.media_id, face.frame)])
    if old is not None and old != person_id:
        leaving = [m[0] for m in _members(session, [old]) if m[0] != face_id]
        _unlink(session, [face_id], leaving, same=True)
        if leaving:
            _upsert_links(session, [(face_id, leaving[0])], False, actor)
    kin = [m[0] for m in joining]
    _unlink(session, [face_id], kin, same=False)
    if kin:
        _upsert_links(session, [(face_id, kin[0])], True, actor)
    face.person_id = person_id
    face.assigned_by_analyst = True
    face.rejected = False
    session.flush()
    if old is not None and old != person_id:
        _drop_empty(session, face.model, [old])
        session.flush()
    return face


def label(session: Session, person_id: int, text: str | None) -> Person:
    """Name a person (a victim or offender code, a name once identified); blank clears it."""
    person = _person(session, person_id)
    person.label = (text or "").strip() or None
    session.flush()
    return person


# --- reading -----------------------------------------------------------------------------


def list_people(
    session: Session, model: str | None = None, *, min_faces: int = 1
) -> list[PersonSummary]:
    """Persons with at least ``min_faces`` faces (0 lists empty confirmed or labelled ones).

    Most faces first, then by id.
    """
    persons = select(Person.id, Person.model, Person.label, Person.confirmed)
    counts = select(
        Face.person_id, func.count(Face.id), func.count(func.distinct(Face.media_id))
    ).where(Face.person_id.is_not(None))
    sources = (
        select(Face.person_id, Source.name)
        .join(Occurrence, Occurrence.media_id == Face.media_id)
        .join(Source, Source.id == Occurrence.source_id)
        .where(Face.person_id.is_not(None))
        .distinct()
    )
    samples = select(Face.person_id, Face.id).where(Face.person_id.is_not(None))
    if model is not None:
        persons = persons.where(Person.model == model)
        counts = counts.where(Face.model == model)
        sources = sources.where(Face.model == model)
        samples = samples.where(Face.model == model)
    tally = {p: (int(n), int(m)) for p, n, m in session.execute(counts.group_by(Face.person_id))}
    names: dict[int, set[str]] = defaultdict(set)
    for p, name in session.execute(sources):
        if p is not None:
            names[p].add(name)
    best: dict[int, list[int]] = defaultdict(list)
    ordered = samples.order_by(
        Face.person_id, Face.quality.desc().nulls_last(), Face.score.desc().nulls_last(), Face.id
    )
    for p, face in session.execute(ordered):
        if p is not None and len(best[p]) < SAMPLES:
            best[p].append(face)
    found = []
    for pid, person_model, person_label, confirmed in session.execute(persons):
        faces, media = tally.get(pid, (0, 0))
        if faces < min_faces:
            continue
        found.append(
            PersonSummary(
                id=pid,
                model=person_model,
                label=person_label,
                confirmed=bool(confirmed),
                faces=faces,
                media=media,
                sources=tuple(sorted(names.get(pid, ()))),
                sample_faces=tuple(best.get(pid, ())),
            )
        )
    found.sort(key=lambda s: (-s.faces, s.id))
    return found


def person_faces(session: Session, person_id: int) -> list[PersonFace]:
    """A person's faces, weakest first (lowest mean similarity to the others), then by id."""
    _person(session, person_id)
    rows = session.execute(
        select(
            Face.id,
            Face.media_id,
            Face.frame,
            Face.box_x,
            Face.box_y,
            Face.box_w,
            Face.box_h,
            Face.score,
            Face.quality,
            Face.assigned_by_analyst,
            Face.embedding,
        )
        .where(Face.person_id == person_id)
        .order_by(Face.id)
    ).all()
    similarity: list[float | None] = [None] * len(rows)
    sizes = {len(row[10]) for row in rows}
    if len(rows) > 1 and len(sizes) == 1:
        vectors = normalise(
            np.frombuffer(b"".join(bytes(r[10]) for r in rows), np.float32).reshape(len(rows), -1)
        )
        dots = vectors @ vectors.sum(axis=0)
        similarity = [float(s) for s in (dots - 1.0) / (len(rows) - 1)]
    faces = [
        PersonFace(
            id=row[0],
            media_id=row[1],
            frame=row[2],
            box=(row[3], row[4], row[5], row[6]),
            score=row[7],
            quality=row[8],
            assigned_by_analyst=bool(row[9]),
            similarity=sim,
        )
        for row, sim in zip(rows, similarity, strict=True)
    ]
    faces.sort(key=lambda f: (f.similarity if f.similarity is not None else 2.0, f.id))
    return faces
