"""People: person candidates (faces clustered across every source) and analysts' decisions.

An analyst's decision (confirm, merge, split, reject, move, label) is an ordinary store
transaction, like any other write of one person: it never takes the data directory's writer
lock, so analysts keep deciding while an ingest runs, and on PostgreSQL several analysts
decide at once. Decisions change who a face belongs to, never a face's vector, so they touch
no index file: the face index holds vectors by face row, and people are read from the store.

Only :func:`cluster_people` takes the writer lock; see its docstring.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final, Literal

from PIL import Image
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.cases import people as cases
from vident.ingest.lock import writer_lock
from vident.match.links import describe_media
from vident.media.preview import QUALITY, veiled
from vident.service.context import Context
from vident.service.errors import Conflict, Forbidden, Invalid, NotFound
from vident.service.failures import translated
from vident.service.previews import PreviewOut, _rendition
from vident.service.schemas import Model
from vident.service.scope import NOT_SHARED, seen_sources, sight_of, visible_media
from vident.service.use_case import SEE_MEDIA, WORK_ON_MEDIA, use_case
from vident.signals.registry import get
from vident.store.models import Case, Face, Media, Person, Source

__all__ = [
    "ClusterOut",
    "DecisionOut",
    "PeopleOut",
    "PersonFaceOut",
    "PersonFacesOut",
    "PersonOut",
    "cluster_people",
    "confirm_person",
    "face_preview",
    "label_person",
    "list_people",
    "merge_people",
    "move_face",
    "reject_face",
    "show_person",
    "split_person",
]

#: The largest id the store can hold (a signed 64-bit integer on both backends).
MAX_ID = 2**63 - 1


class PersonOut(Model):
    """A person candidate: faces of one identity, as far as clustering or an analyst can tell."""

    id: int
    model: str = Field(description="The face model whose vectors were clustered.")
    label: str | None = Field(description="The analyst's code or name for the person.")
    confirmed: bool = Field(description="An analyst checked every face; clustering keeps it.")
    faces: int
    media: int
    sources: list[str] = Field(description="Sources holding any of its pictures, sorted.")
    cases: list[str] = Field(
        default_factory=list, description="Cases of those sources the principal sees, sorted."
    )
    sample_faces: list[int] = Field(description="A few face ids, best quality first.")


class PeopleOut(Model):
    people: list[PersonOut]


class PersonFaceOut(Model):
    """One face of a person, with the media it is in."""

    id: int
    media_id: int
    frame: int
    box: list[int] = Field(description="x, y, width, height in the picture's pixels.")
    score: float | None
    quality: int | None
    assigned_by_analyst: bool
    similarity: float | None = Field(
        description="Mean cosine similarity to the person's other faces; lowest to check first."
    )
    sha256: str | None
    path: str | None
    source: str | None


class PersonFacesOut(Model):
    person: int
    faces: list[PersonFaceOut]
    cases: dict[str, str] = Field(
        default_factory=dict,
        description="Source name -> its case's name, for the faces' sources in a case.",
    )


class ClusterOut(Model):
    """What a clustering run did."""

    model: str
    faces: int = Field(description="Faces placed.")
    joined: int = Field(description="Of those, faces that joined a person that existed before.")
    new_persons: int
    changed: int = Field(description="Faces whose person changed.")
    removed_persons: int = Field(description="Persons deleted because they were left empty.")
    skipped_links: int = Field(description="Analyst links that contradicted another decision.")


class DecisionOut(Model):
    """A recorded decision of an analyst about people."""

    action: Literal["confirm", "merge", "split", "reject", "move", "label"]
    person: int | None = Field(description="The person the decision leaves the faces in.")
    faces: list[int] = Field(default_factory=list, description="The faces decided about.")
    label: str | None = None
    actor: str | None = Field(description="Who decided (recorded with the face links).")


def _face_model() -> str:
    return get("face").model


def _check_ids(what: str, *ids: int) -> None:
    """Ids the store cannot hold (64-bit signed) name nothing: say so before a query fails."""
    for value in ids:
        if not 0 < value <= MAX_ID:
            raise NotFound(f"no {what} {value}: {what} ids run from 1 to {MAX_ID}")


def _decider(ctx: Context, actor: str | None = None) -> str:
    """Who a decision is recorded under: ``actor`` if given, else the acting principal.

    Whether the principal may decide at all is checked by each use case's ``use_case`` roles.
    """
    return actor or ctx.principal.name


def _person(session: Session, person_id: int) -> None:
    _check_ids("person", person_id)
    if session.get(Person, person_id) is None:
        raise NotFound(f"no person {person_id}")


def _face(session: Session, face_id: int) -> None:
    _check_ids("face", face_id)
    if session.get(Face, face_id) is None:
        raise NotFound(f"no face {face_id}")


# --- agency scoping ---------------------------------------------------------------------------
# A person is seen by a principal who sees any of its pictures: that another agency's material
# shows the same person is a lead, like a shared hash. Its faces in material the principal may
# not see are listed without their media's hash, path or source. A decision moves faces
# between persons, so it is for a principal who sees every face it touches.


def _hidden_media(ctx: Context, session: Session, media_ids: set[int]) -> set[int]:
    """Which of ``media_ids`` the principal may not see."""
    sight = sight_of(ctx, session)
    if sight.everything or not media_ids:
        return set()
    seen = set(
        session.scalars(select(Media.id).where(Media.id.in_(media_ids), visible_media(sight)))
    )
    return media_ids - seen


def _person_media(session: Session, person_id: int) -> set[int]:
    return set(session.scalars(select(Face.media_id).where(Face.person_id == person_id)))


def _seen_person(ctx: Context, session: Session, person_id: int) -> None:
    """NotFound unless the person exists and the principal sees one of its pictures."""
    _person(session, person_id)
    media = _person_media(session, person_id)
    if media and media <= _hidden_media(ctx, session, media):
        raise NotFound(f"no person {person_id}")


def _persons_of(session: Session, face_ids: Sequence[int]) -> list[int]:
    """The persons the faces belong to now (a rejected face belongs to none)."""
    _check_ids("face", *face_ids)
    return sorted(
        {p for p in session.scalars(select(Face.person_id).where(Face.id.in_(face_ids))) if p}
    )


def _decidable(
    ctx: Context, session: Session, person_ids: Sequence[int], face_ids: Sequence[int]
) -> None:
    """Refuse a decision touching a face the principal may not see (NotFound when they see
    nothing of it, Forbidden when the person is shared with material of another agency)."""
    for person_id in person_ids:
        _seen_person(ctx, session, person_id)
    media: set[int] = set()
    for person_id in person_ids:
        media |= _person_media(session, person_id)
    for face_id in face_ids:
        _face(session, face_id)
        face_media = session.scalar(select(Face.media_id).where(Face.id == face_id))
        if face_media is not None and _hidden_media(ctx, session, {face_media}):
            raise NotFound(f"no face {face_id}")
    if _hidden_media(ctx, session, media):
        raise Forbidden(
            "this person has faces in another agency's material: a decision about it is for "
            "an administrator who sees every agency"
        )


@use_case("people.list", SEE_MEDIA)
def list_people(ctx: Context, *, min_faces: int = 1) -> PeopleOut:
    """Person candidates of the configured face model with at least ``min_faces`` faces."""
    if min_faces < 0:
        raise Invalid(f"the least number of faces cannot be negative, not {min_faces}")
    with ctx.store.reader() as session:
        found = cases.list_people(session, _face_model(), min_faces=min_faces)
        sight = sight_of(ctx, session)
        if sight.everything:
            cases_of = _cases_of(session, {n for s in found for n in s.sources})
            return PeopleOut(
                people=[_person_out(s, set(s.sources), set(), cases_of) for s in found]
            )
        seen_names = seen_sources(ctx, session, {n for s in found for n in s.sources})
        cases_of = _cases_of(session, seen_names)
        faces = (
            set(
                session.scalars(
                    select(Face.id)
                    .join(Media, Media.id == Face.media_id)
                    .where(Face.person_id.in_([s.id for s in found]), ~visible_media(sight))
                )
            )
            if found
            else set()
        )
    shown = [s for s in found if any(n in seen_names for n in s.sources)]
    return PeopleOut(people=[_person_out(s, seen_names, faces, cases_of) for s in shown])


def _cases_of(session: Session, names: set[str]) -> dict[str, str]:
    """Source name -> its case's name, for the ``names`` that are in a case (call it with
    sources the principal sees only: a source they see is in a case they see)."""
    if not names:
        return {}
    rows = session.execute(
        select(Source.name, Case.name)
        .join(Case, Case.id == Source.case_id)
        .where(Source.name.in_(names))
    ).all()
    return {row[0]: row[1] for row in rows}


def _person_out(
    found: cases.PersonSummary,
    seen: set[str],
    hidden_faces: set[int],
    cases_of: dict[str, str],
) -> PersonOut:
    sources = sorted({n if n in seen else NOT_SHARED for n in found.sources})
    in_cases = sorted({cases_of[n] for n in found.sources if n in seen and n in cases_of})
    return PersonOut(
        id=found.id,
        model=found.model,
        label=found.label,
        confirmed=found.confirmed,
        faces=found.faces,
        media=found.media,
        sources=sources,
        cases=in_cases,
        sample_faces=[f for f in found.sample_faces if f not in hidden_faces],
    )


@use_case("people.show", SEE_MEDIA)
def show_person(ctx: Context, person_id: int) -> PersonFacesOut:
    """The faces of one person, weakest first (the ones worth an analyst's look)."""
    with ctx.store.reader() as session:
        _seen_person(ctx, session, person_id)
        faces = cases.person_faces(session, person_id)
        refs = describe_media(session, (f.media_id for f in faces))
        hidden = _hidden_media(ctx, session, {f.media_id for f in faces})
        cases_of = _cases_of(
            session,
            {r.source for m, r in refs.items() if m not in hidden and r.source is not None},
        )
    rows = []
    for face in faces:
        ref = refs.get(face.media_id) if face.media_id not in hidden else None
        rows.append(
            PersonFaceOut(
                id=face.id,
                media_id=face.media_id,
                frame=face.frame,
                box=list(face.box),
                score=face.score,
                quality=face.quality,
                assigned_by_analyst=face.assigned_by_analyst,
                similarity=face.similarity,
                sha256=ref.sha256.hex() if ref else None,
                path=ref.path if ref else None,
                source=ref.source if ref else NOT_SHARED if face.media_id in hidden else None,
            )
        )
    return PersonFacesOut(person=person_id, faces=rows, cases=cases_of)


@use_case("people.cluster", WORK_ON_MEDIA)
def cluster_people(ctx: Context, *, again: bool = False) -> ClusterOut:
    """Put faces without a person into candidates, or (``again``) recluster every free face.

    Unlike a decision, this keeps the data directory's writer lock: ingest clusters the faces
    it stored as its last step, and two clusterings reading the same unplaced faces at once
    would each make persons for them, leaving one set of empty duplicates behind. The lock
    makes the machine's clustering one run at a time; analysts' decisions never wait for it.
    """
    with (
        translated(ctx.settings.database_url),
        writer_lock(ctx.settings.data),
        ctx.store.session() as session,
    ):
        summary = cases.cluster_configured(session, again=again)
    return ClusterOut(
        model=summary.model,
        faces=summary.faces,
        joined=summary.joined,
        new_persons=summary.new_persons,
        changed=summary.changed,
        removed_persons=summary.removed_persons,
        skipped_links=summary.skipped_links,
    )


@use_case("people.confirm", WORK_ON_MEDIA)
def confirm_person(ctx: Context, person_id: int, *, actor: str | None = None) -> DecisionOut:
    """An analyst checked every face of the person: clustering will never break it up."""
    who = _decider(ctx, actor)
    with ctx.store.session() as session:
        _decidable(ctx, session, [person_id], [])
        try:
            cases.confirm(session, person_id, who)
        except cases.PeopleError as exc:
            raise Conflict(str(exc)) from None
    return DecisionOut(action="confirm", person=person_id, actor=who)


@use_case("people.merge", WORK_ON_MEDIA)
def merge_people(
    ctx: Context, person_ids: Sequence[int], *, actor: str | None = None
) -> DecisionOut:
    """These candidates are one person: the first keeps its id and gets every face."""
    who = _decider(ctx, actor)
    if len(dict.fromkeys(person_ids)) < 2:
        raise Invalid("merging needs two or more different persons")
    with ctx.store.session() as session:
        _decidable(ctx, session, person_ids, [])
        try:
            kept = cases.merge(session, person_ids, who).id
        except cases.PeopleError as exc:
            raise Conflict(str(exc)) from None
    return DecisionOut(action="merge", person=kept, actor=who)


@use_case("people.split", WORK_ON_MEDIA)
def split_person(
    ctx: Context, person_id: int, face_ids: Sequence[int], *, actor: str | None = None
) -> DecisionOut:
    """These faces of the person are someone else: they move to a new candidate."""
    who = _decider(ctx, actor)
    if not face_ids:
        raise Invalid("name the faces to split off")
    _check_ids("face", *face_ids)
    with ctx.store.session() as session:
        _decidable(ctx, session, [person_id], face_ids)
        try:
            new = cases.split(session, person_id, face_ids, who).id
        except cases.PeopleError as exc:
            raise Conflict(str(exc)) from None
    return DecisionOut(action="split", person=new, faces=list(face_ids), actor=who)


@use_case("people.reject", WORK_ON_MEDIA)
def reject_face(ctx: Context, face_id: int, *, actor: str | None = None) -> DecisionOut:
    """The face is not a usable face (a false detection, a poster): it joins no person."""
    who = _decider(ctx, actor)
    with ctx.store.session() as session:
        _decidable(ctx, session, _persons_of(session, [face_id]), [face_id])
        try:
            cases.reject_face(session, face_id, who)
        except cases.PeopleError as exc:
            raise Conflict(str(exc)) from None
    return DecisionOut(action="reject", person=None, faces=[face_id], actor=who)


@use_case("people.move", WORK_ON_MEDIA)
def move_face(
    ctx: Context, face_id: int, person_id: int, *, actor: str | None = None
) -> DecisionOut:
    """The face belongs to the person (a rejected face is taken back)."""
    who = _decider(ctx, actor)
    with ctx.store.session() as session:
        _decidable(ctx, session, [person_id, *_persons_of(session, [face_id])], [face_id])
        try:
            cases.move_face(session, face_id, person_id, who)
        except cases.PeopleError as exc:
            raise Conflict(str(exc)) from None
    return DecisionOut(action="move", person=person_id, faces=[face_id], actor=who)


@use_case("people.label", WORK_ON_MEDIA)
def label_person(ctx: Context, person_id: int, text: str | None) -> DecisionOut:
    """Give the person the analyst's label (a victim or offender code); blank clears it."""
    who = _decider(ctx)
    with ctx.store.session() as session:
        _decidable(ctx, session, [person_id], [])
        label = cases.label(session, person_id, text).label
    return DecisionOut(action="label", person=person_id, label=label, actor=who)


# --- face crops -------------------------------------------------------------------------------
# A face is shown cut from its media's rendition (the small picture ingest sealed), veiled
# like a media preview unless the analyst reveals it, and each reveal is audited on its own
# (``face.reveal``), as ``media.reveal`` is for whole pictures.

#: Longest side of a face crop, in pixels: big enough that the veil's blur hides the face.
FACE_SIDE: Final = 160
#: Context kept around a face's box, as a share of the box's size on each side.
FACE_MARGIN: Final = 0.25


def face_preview(ctx: Context, face_id: int, *, reveal: bool) -> PreviewOut:
    """The face ``face_id`` cut from its picture: veiled, or as it is when ``reveal``."""
    if reveal:
        return revealed_face(ctx, face_id)
    return veiled_face(ctx, face_id)


@use_case("face.preview", SEE_MEDIA)
def veiled_face(ctx: Context, face_id: int) -> PreviewOut:
    """The face ``face_id`` in greyscale and strongly blurred."""
    return PreviewOut(content=veiled(_face_crop(ctx, face_id)))


@use_case("face.reveal", SEE_MEDIA)
def revealed_face(ctx: Context, face_id: int) -> PreviewOut:
    """The face ``face_id`` as it is: the analyst chose to look."""
    return PreviewOut(content=_face_crop(ctx, face_id))


def _face_crop(ctx: Context, face_id: int) -> bytes:
    """A JPEG of the face's box (with a margin) in its media's rendition, or NotFound.

    The box is in the picture's pixels and the rendition is smaller, so the box is scaled by
    the rendition's size over the picture's. A face in a video's keyframe gets the whole
    rendition (it was not made from that frame), as does a picture of unknown size.
    """
    _check_ids("face", face_id)
    with ctx.store.reader() as session:
        row = session.execute(
            select(Face, Media).join(Media, Media.id == Face.media_id).where(Face.id == face_id)
        ).first()
        if row is None or _hidden_media(ctx, session, {row[0].media_id}):
            raise NotFound(f"no face {face_id}")
        face, media = row
        box = (face.box_x, face.box_y, face.box_w, face.box_h)
        still = media.media_type == "image" and face.frame == 0
        size = (media.width, media.height) if still and media.width and media.height else None
        sha = media.sha256.hex()
    whole = _rendition(ctx, sha)
    with Image.open(io.BytesIO(whole), formats=("JPEG",)) as opened:
        picture = opened.convert("RGB")
    if size is not None:
        picture = picture.crop(_scaled_box(box, size, picture.size))
    scale = FACE_SIDE / max(picture.size)
    wanted = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    picture = picture.resize(wanted, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=QUALITY)
    return buffer.getvalue()


def _scaled_box(
    box: tuple[int, int, int, int], original: tuple[int, int], shown: tuple[int, int]
) -> tuple[int, int, int, int]:
    """``box`` (x, y, width, height in ``original`` pixels) with a margin, as a crop box
    (left, top, right, bottom) of the ``shown`` rendition, kept inside it and never empty."""
    x, y, w, h = box
    fx, fy = shown[0] / original[0], shown[1] / original[1]
    mx, my = w * FACE_MARGIN, h * FACE_MARGIN
    left = min(max(0, round((x - mx) * fx)), shown[0] - 1)
    top = min(max(0, round((y - my) * fy)), shown[1] - 1)
    right = max(left + 1, min(shown[0], round((x + w + mx) * fx)))
    bottom = max(top + 1, min(shown[1], round((y + h + my) * fy)))
    return left, top, right, bottom
