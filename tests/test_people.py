"""People across cases: the clustering algorithm alone, then clustering and decisions in the store.

Embeddings are synthetic: unit vectors scattered around one random centre per person, far
enough apart that the right answer is known (same-person pairs above the threshold, others
well below), so the tests check the rules, not a face model.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.cases import people
from vident.cases.clustering import Clusters, cluster, normalise
from vident.signals.base import SignalValue
from vident.store.db import Store
from vident.store.derived import write_signals
from vident.store.models import Face, FaceLink, Media, Occurrence, Person, Source

DIM = 128
MODEL = "synthetic-v1"
_centres = normalise(np.random.default_rng(1234).standard_normal((64, DIM)))


def person_vectors(person: int, count: int, seed: int) -> npt.NDArray[np.float32]:
    """``count`` faces of synthetic person ``person``: pairwise similarity about 0.5 to 0.8."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((count, DIM)).astype(np.float32) * 0.7 / np.sqrt(DIM)
    return normalise(_centres[person] + noise)


def same_partition(labels: npt.ArrayLike, truth: npt.ArrayLike) -> bool:
    pairs = {(int(a), int(b)) for a, b in zip(np.asarray(labels), np.asarray(truth), strict=True)}
    return len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})


def members(result: Clusters) -> list[set[int]]:
    return [set(np.flatnonzero(result.labels == c).tolist()) for c in range(result.count)]


# --- the algorithm --------------------------------------------------------------------------


def test_recovers_people_from_synthetic_faces() -> None:
    truth = np.repeat(np.arange(30), 6)
    vectors = np.concatenate([person_vectors(p, 6, seed=p) for p in range(30)])
    result = cluster(vectors, 0.5)
    assert result.count == 30
    assert same_partition(result.labels, truth)
    assert (result.seeds == -1).all()


def naive_average_linkage(vectors: npt.NDArray[np.float32], threshold: float) -> list[int]:
    """Textbook UPGMA over all pairs, merging while the best average similarity reaches it."""
    sims = vectors.astype(np.float64) @ vectors.T.astype(np.float64)
    groups = [[i] for i in range(len(vectors))]
    while len(groups) > 1:
        best, pair = -2.0, (0, 0)
        for x, y in itertools.combinations(range(len(groups)), 2):
            mean = float(sims[np.ix_(groups[x], groups[y])].mean())
            if mean > best:
                best, pair = mean, (x, y)
        if best < threshold:
            break
        x, y = pair
        groups[x] += groups.pop(y)
    labels = [0] * len(vectors)
    for number, group in enumerate(groups):
        for i in group:
            labels[i] = number
    return labels


def test_equals_plain_average_linkage_without_constraints() -> None:
    """With enough neighbours, the result is exactly textbook average linkage."""
    rng = np.random.default_rng(7)
    vectors = normalise(rng.standard_normal((30, 8)))
    for threshold in (0.2, 0.4, 0.6):
        ours = cluster(vectors, threshold, neighbours=30, seed_neighbours=30)
        assert same_partition(ours.labels, naive_average_linkage(vectors, threshold))


def test_two_faces_of_one_photo_are_never_one_person_even_if_identical() -> None:
    face = person_vectors(0, 1, seed=0)
    vectors = np.concatenate([face, face, face])
    # Faces 0 and 1 are in one photo; face 2 may join one of them, never both.
    result = cluster(vectors, 0.5, photos=[5, 5, 6])
    assert result.labels[0] != result.labels[1]
    assert result.count == 2


def test_cannot_link_is_honoured() -> None:
    vectors = np.concatenate([person_vectors(0, 4, seed=0)])
    result = cluster(vectors, 0.5, cannot=[(0, 3)])
    assert result.labels[0] != result.labels[3]
    assert result.count == 2


def test_must_link_joins_different_faces_and_gives_way_to_a_photo() -> None:
    a, b = person_vectors(0, 1, seed=0), person_vectors(1, 1, seed=1)
    result = cluster(np.concatenate([a, b]), 0.5, must=[(0, 1)])
    assert result.count == 1 and result.skipped_must == 0
    result = cluster(np.concatenate([a, b]), 0.5, must=[(0, 1)], photos=[1, 1])
    assert result.count == 2 and result.skipped_must == 1


def test_seeds_keep_their_faces_and_never_merge() -> None:
    face = person_vectors(0, 1, seed=0)
    vectors = np.concatenate([face, face, person_vectors(0, 1, seed=9), person_vectors(3, 2, 3)])
    result = cluster(vectors, 0.5, seeds=[10, 11, -1, -1, -1])
    groups = members(result)
    assert result.labels[0] != result.labels[1]
    # The free face of person 0 joined one of the two seeds; person 3's faces are new.
    assert {2} < groups[int(result.labels[2])] and result.seeds[result.labels[2]] in (10, 11)
    assert result.labels[3] == result.labels[4] and result.seeds[result.labels[3]] == -1


def test_free_faces_join_a_seed_by_centroid() -> None:
    """A seed's mean, not its nearest member, decides: an outlier member attracts nothing."""
    core = person_vectors(0, 5, seed=0)
    stray = person_vectors(1, 1, seed=1)
    lookalike = person_vectors(1, 1, seed=2)
    vectors = np.concatenate([core, stray, lookalike])
    result = cluster(vectors, 0.5, seeds=[1, 1, 1, 1, 1, 1, -1])
    assert result.seeds[result.labels[6]] == -1


@settings(max_examples=40, deadline=None)
@given(
    st.integers(2, 40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.integers(0, 5), min_size=n, max_size=n),
            st.lists(st.integers(0, n // 2), min_size=n, max_size=n),
            st.lists(st.integers(-1, 3), min_size=n, max_size=n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=6),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=6),
            st.integers(0, 2**31),
        )
    ),
    st.floats(0.0, 0.9),
)
def test_constraints_always_hold(
    case: tuple[
        int, list[int], list[int], list[int], list[tuple[int, int]], list[tuple[int, int]], int
    ],
    threshold: float,
) -> None:
    n, person, photos, seeds, must, cannot, seed = case
    vectors = np.concatenate([person_vectors(p, 1, seed + i) for i, p in enumerate(person)])
    result = cluster(vectors, threshold, photos=photos, seeds=seeds, must=must, cannot=cannot)
    labels = result.labels
    for c in range(result.count):
        rows = np.flatnonzero(labels == c)
        free = [r for r in rows if seeds[r] < 0]
        photo_list = [photos[r] for r in free]
        # Free faces never share a photo with each other or with a seeded face of their cluster
        # (seeded faces were put together by an analyst, whatever their photos).
        seeded_photos = {photos[r] for r in rows if seeds[r] >= 0}
        assert len(photo_list) == len(set(photo_list))
        assert not seeded_photos & set(photo_list)
        assert len({seeds[r] for r in rows if seeds[r] >= 0}) <= 1
    for r in range(n):
        if seeds[r] >= 0:
            assert result.seeds[labels[r]] == seeds[r]
    for i, j in cannot:
        if i != j and not (seeds[i] >= 0 and seeds[i] == seeds[j]):
            assert labels[i] != labels[j]


# --- the store ----------------------------------------------------------------------------

_sha = itertools.count(1)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store(store_url)
    yield opened
    opened.dispose()


def add_photo(session: Session, source: str, *faces: npt.NDArray[np.float32]) -> list[int]:
    """One picture in ``source`` with the given face vectors; returns the new face ids."""
    found = session.scalar(select(Source).where(Source.name == source))
    if found is None:
        found = Source(name=source, origin=f"/evidence/{source}")
        session.add(found)
        session.flush()
    digest = hashlib.sha256(str(next(_sha)).encode()).digest()
    media = Media(sha256=digest, size=1, media_type="image")
    session.add(media)
    session.flush()
    session.add(
        Occurrence(
            source_id=found.id, path_key=digest[:16], path=f"{digest.hex()}.jpg", media_id=media.id
        )
    )
    value = b"".join(np.asarray(f, np.float32).reshape(DIM).tobytes() for f in faces)
    detail = {
        "faces": [
            {"box": [10 * i, 0, 10, 10], "landmarks": None, "score": 1.0, "quality": 80 - i}
            for i in range(len(faces))
        ]
    }
    signal = SignalValue(kind="face", version=1, value=value, model=MODEL, detail=detail)
    write_signals(session, [(media.id, signal)])
    ids = session.scalars(select(Face.id).where(Face.media_id == media.id).order_by(Face.idx))
    return list(ids)


def add_person(session: Session, source: str, person: int, count: int, seed: int) -> list[int]:
    """``count`` single-face pictures of synthetic person ``person``."""
    return [add_photo(session, source, v)[0] for v in person_vectors(person, count, seed)]


def assignment(session: Session) -> dict[int, int | None]:
    return dict(session.execute(select(Face.id, Face.person_id)).all())


def person_of(session: Session, face_ids: list[int]) -> set[int | None]:
    table = assignment(session)
    return {table[f] for f in face_ids}


def test_new_seizure_joins_existing_people_without_moving_anyone(store: Store) -> None:
    with store.session() as session:
        a = add_person(session, "seizure-1", 0, 4, seed=1)
        b = add_person(session, "seizure-1", 1, 4, seed=2)
        first = people.cluster_new_faces(session, MODEL)
        assert (first.faces, first.new_persons, first.joined) == (8, 2, 0)
        before = assignment(session)
    with store.session() as session:
        a2 = add_person(session, "seizure-2", 0, 3, seed=11)
        c = add_person(session, "seizure-2", 2, 3, seed=12)
        second = people.cluster_new_faces(session, MODEL)
        assert (second.faces, second.joined, second.new_persons) == (6, 3, 1)
        after = assignment(session)
        assert all(after[f] == p for f, p in before.items())
        assert person_of(session, a + a2) == {before[a[0]]}
        assert len(person_of(session, c)) == 1 and person_of(session, c).isdisjoint(
            person_of(session, a + b)
        )
        assert people.cluster_new_faces(session, MODEL).faces == 0
        listed = people.list_people(session, MODEL)
        first_person = next(p for p in listed if p.id == before[a[0]])
        assert (first_person.faces, first_person.media) == (7, 7)
        assert first_person.sources == ("seizure-1", "seizure-2")
        assert len(first_person.sample_faces) == people.SAMPLES
        assert [p.faces for p in listed] == [7, 4, 3]


def test_faces_of_one_photo_go_to_different_people(store: Store) -> None:
    face = person_vectors(0, 1, seed=0)[0]
    with store.session() as session:
        pair = add_photo(session, "s", face, face)
        summary = people.cluster_new_faces(session, MODEL)
        assert summary.new_persons == 2
        assert len(person_of(session, pair)) == 2
        with pytest.raises(people.PeopleError, match="one picture"):
            people.merge(session, sorted(p for p in person_of(session, pair) if p), "anna")
        people.recluster(session, MODEL)
        assert len(person_of(session, pair)) == 2


def test_decisions_survive_recluster(store: Store) -> None:
    with store.session() as session:
        a = add_person(session, "s", 0, 5, seed=1)
        b = add_person(session, "s", 1, 4, seed=2)
        c = add_person(session, "s", 2, 3, seed=3)
        people.cluster_new_faces(session, MODEL)
        (pa,), (pb,), (pc,) = (person_of(session, x) for x in (a, b, c))
        assert pa and pb and pc
        # Split two of A's faces off; merge B and C; reject one of A's; move one of B's to A.
        split_off = people.split(session, pa, a[:2], "anna")
        merged = people.merge(session, [pb, pc], "anna")
        people.reject_face(session, a[4], "anna")
        people.move_face(session, b[0], pa, "anna")
    for threshold in (0.5, 0.95, 0.0):
        with store.session() as session:
            people.recluster(session, MODEL, threshold)
            assert person_of(session, a[:2]) == {split_off.id}
            assert person_of(session, [a[2], a[3], b[0]]) == {pa}
            assert person_of(session, b[1:] + c) == {merged.id}
            assert person_of(session, [a[4]]) == {None}
            rejected = session.get(Face, a[4])
            assert rejected is not None and rejected.rejected
            assert session.get(Person, pc) is None
    with store.session() as session:
        links = session.execute(select(FaceLink.face_a, FaceLink.face_b, FaceLink.same)).all()
        actors = set(session.scalars(select(FaceLink.actor)))
        assert actors == {"anna"}
        # The split set the groups apart, the merge and the move joined faces.
        assert (min(a[0], a[2]), max(a[0], a[2]), False) in links
        assert any(same for *_, same in links)


def test_confirmed_person_never_loses_a_face_but_gains_new_ones(store: Store) -> None:
    with store.session() as session:
        a = add_person(session, "s", 0, 5, seed=1)
        people.cluster_new_faces(session, MODEL)
        (pa,) = person_of(session, a)
        assert pa is not None
        people.confirm(session, pa, "ben")
        people.label(session, pa, "  V-17 ")
    with store.session() as session:
        # A threshold nothing reaches: free faces scatter, confirmed ones stay.
        people.recluster(session, MODEL, 0.999)
        assert person_of(session, a) == {pa}
        newcomer = add_person(session, "t", 0, 1, seed=99)
        summary = people.cluster_new_faces(session, MODEL)
        assert summary.joined == 1 and person_of(session, newcomer) == {pa}
        person = session.get(Person, pa)
        assert person is not None and person.confirmed and person.label == "V-17"
        faces = people.person_faces(session, pa)
        assert {f.id for f in faces} == {*a, *newcomer}
        assert [f.assigned_by_analyst for f in faces].count(False) == 1
        sims = [f.similarity for f in faces]
        assert all(s is not None for s in sims) and sims == sorted(sims)  # type: ignore[type-var]


def test_recluster_keeps_labels_of_unchanged_people_and_rebuilds_the_rest(store: Store) -> None:
    with store.session() as session:
        a = add_person(session, "s", 0, 4, seed=1)
        b = add_person(session, "s", 1, 4, seed=2)
        people.cluster_new_faces(session, MODEL, 0.999)  # every face alone
        assert len(person_of(session, a + b)) == 8
        people.label(session, next(iter(person_of(session, a[:1]))) or 0, "kept")
    with store.session() as session:
        summary = people.recluster(session, MODEL)
        assert summary.new_persons == 0 and summary.removed_persons == 6
        (pa,), (pb,) = person_of(session, a), person_of(session, b)
        labels = {p.id: p.label for p in people.list_people(session, MODEL)}
        assert labels[pa or 0] == "kept" and pa != pb
        assert people.recluster(session, MODEL).changed == 0


def test_analyst_errors_are_plain_messages(store: Store) -> None:
    with store.session() as session:
        a = add_person(session, "s", 0, 3, seed=1)
        b = add_person(session, "s", 1, 2, seed=2)
        people.cluster_new_faces(session, MODEL)
        (pa,), (pb,) = person_of(session, a), person_of(session, b)
        assert pa and pb
        with pytest.raises(people.PeopleError, match="not faces of person"):
            people.split(session, pa, [b[0]], "x")
        with pytest.raises(people.PeopleError, match="nothing to split"):
            people.split(session, pa, a, "x")
        with pytest.raises(people.PeopleError, match="at least two"):
            people.merge(session, [pa, pa], "x")
        with pytest.raises(people.PeopleError, match="no person"):
            people.move_face(session, a[0], 10**6, "x")
        with pytest.raises(people.PeopleError, match="no face"):
            people.reject_face(session, 10**6, "x")
        assert people.face_models(session) == [MODEL]


def test_links_alone_steer_a_recluster(store: Store) -> None:
    """Link rows without pins (as another tool or an older release may leave) still count."""
    with store.session() as session:
        a = add_person(session, "s", 0, 3, seed=1)
        b = add_person(session, "s", 1, 3, seed=2)
        lone = add_person(session, "s", 2, 1, seed=3)
        session.add(FaceLink(face_a=min(a[0], b[0]), face_b=max(a[0], b[0]), same=True))
        session.add(FaceLink(face_a=a[1], face_b=a[2], same=False))
        session.flush()
        people.recluster(session, MODEL)
        assert person_of(session, [a[0]]) == person_of(session, [b[0]])
        assert person_of(session, [a[1]]) != person_of(session, [a[2]])
        (single,) = person_of(session, lone)
        assert single is not None
        assert [f.similarity for f in people.person_faces(session, single)] == [None]
        assert single not in {p.id for p in people.list_people(session, min_faces=2)}
        assert single in {p.id for p in people.list_people(session, MODEL)}
