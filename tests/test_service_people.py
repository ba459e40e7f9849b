"""People use cases called directly, on SQLite and PostgreSQL, and decisions during an ingest.

Faces are synthetic (tight clusters of unit vectors around one random centre per person)
and stored under the configured face model's name, so the use cases list them as the
command line would. Each decision is checked in the store's own tables.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from vident.cli import app
from vident.config import Settings
from vident.ingest.lock import writer_lock
from vident.service import people
from vident.service.context import Context, Role, local_operator, open_context
from vident.service.errors import Conflict, Forbidden, Invalid, NotFound
from vident.signals.base import SignalValue
from vident.signals.registry import get
from vident.store.derived import write_signals
from vident.store.models import Face, FaceLink, Media, Occurrence, Person, Source

DIM = 128
_sha = itertools.count(1)
_centres = np.random.default_rng(99).standard_normal((8, DIM)).astype(np.float32)


def faces_of(person: int, count: int) -> npt.NDArray[np.float32]:
    """``count`` face vectors of synthetic person ``person``, all within cosine 0.95 of it."""
    rng = np.random.default_rng(person * 100 + count)
    vectors = _centres[person] + rng.standard_normal((count, DIM)).astype(np.float32) * 0.02
    unit: npt.NDArray[np.float32] = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit.astype(np.float32)


def add_picture(session: Session, source: str, vector: npt.NDArray[np.float32]) -> int:
    """One stored picture of ``source`` holding one face; returns the face id."""
    found = session.scalar(select(Source).where(Source.name == source))
    if found is None:
        found = Source(name=source, origin=f"/evidence/{source}")
        session.add(found)
        session.flush()
    digest = hashlib.sha256(f"picture {next(_sha)}".encode()).digest()
    media = Media(sha256=digest, size=1, media_type="image")
    session.add(media)
    session.flush()
    session.add(
        Occurrence(
            source_id=found.id, path_key=digest[:16], path=f"p{media.id}.jpg", media_id=media.id
        )
    )
    detail = {"faces": [{"box": [1, 2, 30, 40], "landmarks": None, "score": 1.0, "quality": 90}]}
    value = SignalValue(
        kind="face", version=1, value=vector.tobytes(), model=get("face").model, detail=detail
    )
    write_signals(session, [(media.id, value)])
    face = session.scalar(select(Face.id).where(Face.media_id == media.id))
    assert face is not None
    return face


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    """A context acting as the data directory's operator, named "anna"."""
    named = settings.model_copy(update={"operator": "anna"})
    context = open_context(named, local_operator(named))
    yield context
    context.close()


@pytest.fixture
def two_people(ctx: Context) -> tuple[list[int], list[int]]:
    """Three faces of person 0 in source A and three of person 1 in A and B, clustered."""
    with ctx.store.session() as session:
        a = [add_picture(session, "A", v) for v in faces_of(0, 3)]
        b = [add_picture(session, src, v) for src, v in zip("ABB", faces_of(1, 3), strict=True)]
    summary = people.cluster_people(ctx)
    assert (summary.faces, summary.new_persons, summary.joined) == (6, 2, 0)
    return a, b


def person_of(ctx: Context, face_ids: list[int]) -> set[int | None]:
    with ctx.store.reader() as session:
        return set(session.scalars(select(Face.person_id).where(Face.id.in_(face_ids))))


def owner(ctx: Context, face_ids: list[int]) -> int:
    """The one person holding every face of ``face_ids``."""
    (found,) = person_of(ctx, face_ids)
    assert found is not None
    return found


def test_list_and_show_people(ctx: Context, two_people: tuple[list[int], list[int]]) -> None:
    a, b = two_people
    pa, pb = owner(ctx, a), owner(ctx, b)
    listed = {p.id: p for p in people.list_people(ctx).people}
    assert set(listed) == {pa, pb}
    assert (listed[pb].faces, listed[pb].media, listed[pb].sources) == (3, 3, ["A", "B"])
    assert listed[pa].sources == ["A"] and not listed[pa].confirmed and listed[pa].label is None
    assert sorted(listed[pa].sample_faces) == a
    assert people.list_people(ctx, min_faces=4).people == []
    shown = people.show_person(ctx, pa)
    assert shown.person == pa and sorted(f.id for f in shown.faces) == a
    face = shown.faces[0]
    assert face.path is not None and face.path.endswith(".jpg") and face.source == "A"
    assert face.box == [1, 2, 30, 40] and face.similarity is not None and face.similarity > 0.9
    assert face.sha256 is not None and len(face.sha256) == 64
    dumped = shown.model_dump(mode="json")
    assert set(dumped["faces"][0]) == {
        "id", "media_id", "frame", "box", "score", "quality", "assigned_by_analyst",
        "similarity", "sha256", "path", "source",
    }  # fmt: skip


def test_decisions_are_stored_with_the_actor(
    ctx: Context, two_people: tuple[list[int], list[int]]
) -> None:
    a, b = two_people
    pa, pb = owner(ctx, a), owner(ctx, b)

    done = people.confirm_person(ctx, pa)
    assert (done.action, done.person, done.actor) == ("confirm", pa, "anna")
    with ctx.store.reader() as session:
        assert session.get(Person, pa).confirmed  # type: ignore[union-attr]
        pinned = session.scalars(select(Face.assigned_by_analyst).where(Face.id.in_(a)))
        assert all(pinned)
        actors = set(session.scalars(select(FaceLink.actor)))
        assert actors == {"anna"}

    assert people.label_person(ctx, pb, "  victim V-7 ").label == "victim V-7"
    assert {p.id: p.label for p in people.list_people(ctx).people}[pb] == "victim V-7"
    assert people.label_person(ctx, pb, "").label is None

    split = people.split_person(ctx, pb, [b[2]], actor="ben")
    assert split.person not in (pa, pb) and person_of(ctx, [b[2]]) == {split.person}
    moved = people.move_face(ctx, b[2], pb)
    assert moved.faces == [b[2]] and person_of(ctx, [b[2]]) == {pb}
    merged = people.merge_people(ctx, [pa, pb], actor="ben")
    assert merged.person == pa and person_of(ctx, a + b) == {pa}
    rejected = people.reject_face(ctx, a[0])
    assert rejected.faces == [a[0]] and person_of(ctx, [a[0]]) == {None}
    with ctx.store.reader() as session:
        assert session.get(Person, pb) is None
        assert session.get(Face, a[0]).rejected  # type: ignore[union-attr]
        assert "ben" in set(session.scalars(select(FaceLink.actor)))


def test_wrong_decisions_are_service_errors(
    ctx: Context, two_people: tuple[list[int], list[int]]
) -> None:
    a, b = two_people
    pa, pb = owner(ctx, a), owner(ctx, b)
    with pytest.raises(NotFound, match="no person 999999"):
        people.confirm_person(ctx, 999999)
    with pytest.raises(NotFound, match="ids run from 1 to"):
        people.show_person(ctx, 2**63)
    with pytest.raises(NotFound, match="no face 999999"):
        people.move_face(ctx, 999999, pa)
    with pytest.raises(Invalid, match="two or more"):
        people.merge_people(ctx, [pa, pa])
    with pytest.raises(Conflict, match="not faces of person"):
        people.split_person(ctx, pa, [b[0]])
    with pytest.raises(Conflict, match="all the faces"):
        people.split_person(ctx, pa, a)
    # Nothing of the refused decisions was kept.
    assert person_of(ctx, a) == {pa} and person_of(ctx, b) == {pb}


def test_a_viewer_may_look_but_not_decide(
    ctx: Context, two_people: tuple[list[int], list[int]]
) -> None:
    a, _ = two_people
    pa = owner(ctx, a)
    viewer = Context(ctx.settings, ctx.store, replace(ctx.principal, role=Role.VIEWER))
    assert len(people.list_people(viewer).people) == 2
    for decide in (
        lambda: people.confirm_person(viewer, pa),
        lambda: people.label_person(viewer, pa, "V-1"),
        lambda: people.cluster_people(viewer, again=True),
    ):
        with pytest.raises(Forbidden):
            decide()
    with ctx.store.reader() as session:
        person = session.get(Person, pa)
        assert person is not None and not person.confirmed and person.label is None


def test_decisions_go_on_while_an_ingest_holds_the_data_directory(
    ctx: Context, settings: Settings, two_people: tuple[list[int], list[int]]
) -> None:
    """``people confirm`` and ``label`` are transactions: the writer lock is not theirs."""
    a, b = two_people
    pa, pb = owner(ctx, a), owner(ctx, b)
    runner = CliRunner()
    options = ["--data", str(settings.data), "--db", settings.database_url]
    with writer_lock(settings.data):
        confirmed = runner.invoke(app, [*options, "people", "confirm", str(pa)])
        assert confirmed.exit_code == 0, confirmed.stderr
        assert confirmed.stdout.strip() == f"person {pa} confirmed"
        labelled = runner.invoke(app, [*options, "people", "label", str(pb), "V-9"])
        assert labelled.exit_code == 0, labelled.stderr
        # Clustering rewrites many faces at once and still waits for the data directory.
        busy = runner.invoke(app, [*options, "people", "cluster"])
        assert busy.exit_code == 1 and "another vident process" in busy.stderr
        assert "Traceback" not in busy.stderr and len(busy.stderr.strip().splitlines()) == 1
    with ctx.store.reader() as session:
        confirmed_person = session.get(Person, pa)
        labelled_person = session.get(Person, pb)
        assert confirmed_person is not None and confirmed_person.confirmed
        assert labelled_person is not None and labelled_person.label == "V-9"
