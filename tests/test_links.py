"""The finders (match/links.py), ``similar``/``related`` (match/connect.py) and stored probes,
asked directly against a real store of ingested pictures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import CORPUS, transformed, write_jpeg
from vident.config import Settings
from vident.index.catalog import open_indexes
from vident.ingest.pipeline import ingest_source, limits_of
from vident.match.connect import BY_CHOICES, is_strong, records, related, similar
from vident.match.links import Link, Linker, best_per_media, describe_media, first_sources
from vident.match.probe import Probe, probe_file, probe_media
from vident.store.db import Store, upgrade
from vident.store.models import Face, Media

OBAMA = CORPUS / "faces" / "obama"
BIDEN = CORPUS / "faces" / "biden" / "biden2.jpg"
needs_corpus = pytest.mark.skipif(
    not (OBAMA / "obama-480p.jpg").is_file() or not BIDEN.is_file(),
    reason="shared corpus not available",
)


@dataclass
class World:
    settings: Settings
    store: Store
    files: Path  # query files that are not in the store
    originals: dict[str, Path]  # stored files by name


def crop(path: Path, out: Path, fraction: float) -> Path:
    image = Image.open(path)
    dx, dy = round(image.width * fraction), round(image.height * fraction)
    image.crop((dx, dy, image.width - dx, image.height - dy)).save(out, "JPEG", quality=90)
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Source A: three photo-like pictures and two people's faces; source B: a later copy."""
    root = tmp_path_factory.mktemp("links")
    settings = Settings(data=root / "data", workers=1)
    settings.data.mkdir()
    store = Store(settings.database_url)
    upgrade(store.engine)
    a = root / "a"
    originals = {f"p{seed}.jpg": write_jpeg(a / f"p{seed}.jpg", seed) for seed in (20, 21, 22)}
    if (OBAMA / "obama-480p.jpg").is_file() and BIDEN.is_file():
        for path in (OBAMA / "obama-480p.jpg", OBAMA / "obama-720p.jpg", BIDEN):
            originals[path.name] = Path(shutil.copy(path, a / path.name))
    ingest_source(store, settings, a, "A", workers=1)
    b = root / "b"
    originals["grey.jpg"] = transformed(originals["p22.jpg"], b / "grey.jpg", "grey")
    ingest_source(store, settings, b, "B", workers=1, signals=("pdq",))
    files = root / "queries"
    files.mkdir()
    yield World(settings, store, files, originals)
    store.dispose()


def _media_id(session: Session, path: Path) -> int:
    from hashlib import sha256

    found = session.scalar(
        select(Media.id).where(Media.sha256 == sha256(path.read_bytes()).digest())
    )
    assert found is not None
    return found


def _file_probe(world: World, path: Path) -> Probe:
    return probe_file(path, limits_of(world.settings))


def _ids(links: list[Link], by: str | None = None) -> list[int]:
    return [link.media_id for link in links if by is None or link.by == by]


def test_pdq_finds_a_changed_copy_with_its_distance(world: World) -> None:
    query = transformed(world.originals["p20.jpg"], world.files / "grey.jpg", "grey")
    with world.store.reader() as session:
        linker = Linker(session, open_indexes(session, world.settings), world.settings)
        target = _media_id(session, world.originals["p20.jpg"])
        links = linker.pdq(_file_probe(world, query))
        assert _ids(links)[0] == target
        first = links[0]
        assert first.by == "pdq" and 0 <= first.detail["distance"] <= world.settings.pdq_threshold
        assert first.score == pytest.approx(1 - first.detail["distance"] / 256)
        assert _media_id(session, world.originals["p21.jpg"]) not in _ids(links)


def test_pdq_of_a_stored_media_never_links_to_itself(world: World) -> None:
    with world.store.reader() as session:
        linker = Linker(session, open_indexes(session, world.settings), world.settings)
        own = _media_id(session, world.originals["p20.jpg"])
        probe = probe_media(session, _sha(world, "p20.jpg"))
        assert probe.media_id == own and probe.pdq
        assert own not in _ids(linker.pdq(probe))
        assert own not in _ids(linker.scene(probe))


def _sha(world: World, name: str) -> bytes:
    from hashlib import sha256

    return sha256(world.originals[name].read_bytes()).digest()


def test_crops_are_verified_by_local_features_and_only_they(world: World) -> None:
    query = crop(world.originals["p21.jpg"], world.files / "crop.jpg", 0.08)
    with world.store.reader() as session:
        linker = Linker(session, open_indexes(session, world.settings), world.settings)
        target = _media_id(session, world.originals["p21.jpg"])
        probe = _file_probe(world, query)
        crops = linker.crops(probe)
        assert _ids(crops) == [target]
        assert crops[0].by == "keypoints" and crops[0].detail["relation"] == "duplicate"
        assert crops[0].detail["inliers"] >= 20 and 0.5 < crops[0].score <= 1.0
        scene = linker.scene(probe)
        assert _ids(scene)[0] == target  # the verified candidate ranks first
        others = [link for link in scene if link.media_id != target]
        assert all("relation" not in link.detail for link in others)
        assert all(link.score < crops[0].score for link in others)


def test_stored_probe_equals_the_file_probe(world: World) -> None:
    path = world.originals["p22.jpg"]
    from_file = _file_probe(world, path)
    with world.store.reader() as session:
        stored = probe_media(session, _sha(world, "p22.jpg"))
        assert stored.media_id == _media_id(session, path)
    assert stored.sha256 == from_file.sha256
    assert stored.pdq == from_file.pdq
    (frame, vector), (_, file_vector) = stored.scene[0], from_file.scene[0]
    assert frame == 0 and float(vector @ file_vector) > 0.999
    assert [f.mirrored for f in stored.features[0][1]] == [False, True, False]


def test_probe_media_of_an_unknown_hash_is_a_lookup_error(world: World) -> None:
    with world.store.reader() as session, pytest.raises(LookupError, match="no media with"):
        probe_media(session, bytes(32))


def test_first_sources_and_describe_media_name_the_oldest_source(world: World) -> None:
    with world.store.reader() as session:
        twice = _media_id(session, world.originals["p21.jpg"])
        once = _media_id(session, world.originals["p20.jpg"])
        sources = first_sources(session, [twice, once])
        refs = describe_media(session, [twice, once, 10_000])
    assert sources[twice] == sources[once]
    assert set(refs) == {twice, once}
    assert (refs[twice].path, refs[twice].source) == ("p21.jpg", "A")


def test_best_per_media_keeps_the_strongest_link_of_each_kind() -> None:
    links = [
        Link(1, "scene", 0.2),
        Link(1, "scene", 0.7),
        Link(1, "pdq", 0.9),
        Link(2, "scene", 0.8),
    ]
    best = best_per_media(links)
    assert [(link.media_id, link.by, link.score) for link in best] == [
        (1, "pdq", 0.9),
        (2, "scene", 0.8),
        (1, "scene", 0.7),
    ]


@pytest.mark.parametrize(
    ("link", "strong"),
    [
        (Link(1, "pdq", 0.9), True),
        (Link(1, "keypoints", 0.6), True),
        (Link(1, "vpdq", 0.9, {"matched": False}), False),
        (Link(1, "vpdq", 0.4, {"matched": True}), True),
        (Link(1, "scene", 0.95, {"cosine": 0.95}), False),
        (Link(1, "scene", 0.6, {"relation": "same_scene"}), True),
        (Link(1, "face", 0.99, {"quality": 90, "query_quality": 90}), True),
        (Link(1, "face", 0.30, {"quality": 90, "query_quality": 90}), False),
        (Link(1, "face", 0.99, {"quality": 1, "query_quality": 90}), False),
        (Link(1, "text", 0.4), False),
        (Link(1, "text", 0.6), True),
        (Link(1, "make_model", 0.9), False),
    ],
)
def test_is_strong(link: Link, strong: bool) -> None:
    assert is_strong(link) is strong


def test_similar_ranks_one_kind_or_all_and_keeps_top(world: World) -> None:
    query = crop(world.originals["p21.jpg"], world.files / "crop2.jpg", 0.05)
    with world.store.reader() as session:
        linker = Linker(session, open_indexes(session, world.settings), world.settings)
        target = _media_id(session, world.originals["p21.jpg"])
        probe = _file_probe(world, query)
        by_pdq = similar(linker, probe, "pdq", 10)
        assert target in _ids(by_pdq) and {link.by for link in by_pdq} <= {"pdq", "keypoints"}
        everything = similar(linker, probe, None, 10)
        assert [link.score for link in everything] == sorted(
            (link.score for link in everything), reverse=True
        )
        assert everything[0].media_id == target
        assert len(similar(linker, probe, None, 1)) == 1
        with pytest.raises(ValueError, match="unknown --by 'colour'"):
            similar(linker, probe, "colour", 10)
        results = records(session, similar(linker, probe, "scene", 3))
    assert set(BY_CHOICES) == {"pdq", "face", "scene", "text", "camera"}
    assert len(results) <= 3 and results[0]["path"] == "p21.jpg"
    assert set(results[0]) == {
        "sha256",
        "path",
        "source",
        "type",
        "by",
        "score",
        "verdict",
        "where",
        "detail",
    }


@needs_corpus
def test_faces_find_the_same_person_not_another(world: World) -> None:
    query = world.files / "obama-small.jpg"
    Image.open(OBAMA / "obama-1080p.jpg").reduce(4).save(query, "JPEG", quality=85)
    with world.store.reader() as session:
        linker = Linker(session, open_indexes(session, world.settings), world.settings)
        obama = {
            _media_id(session, world.originals[n]) for n in ("obama-480p.jpg", "obama-720p.jpg")
        }
        biden = _media_id(session, world.originals["biden2.jpg"])
        links = linker.faces(_file_probe(world, query))
        assert set(_ids(links)[:2]) == obama
        scores = {link.media_id: link.score for link in links}
        assert min(scores[m] for m in obama) > scores.get(biden, 0.0)
        assert all(link.detail["face_id"] and link.detail["box"] for link in links)


@needs_corpus
def test_person_and_related_follow_the_person_candidate(world: World) -> None:
    with world.store.reader() as session:
        linker = Linker(session, open_indexes(session, world.settings), world.settings)
        own = _media_id(session, world.originals["obama-480p.jpg"])
        other = _media_id(session, world.originals["obama-720p.jpg"])
        biden = _media_id(session, world.originals["biden2.jpg"])
        people = dict(session.execute(select(Face.media_id, Face.person_id)).all())
        assert people[own] == people[other] != people[biden]
        probe = probe_media(session, _sha(world, "obama-480p.jpg"))
        assert probe.faces and probe.faces[0].person_id == people[own]
        person = linker.person(probe)
        assert _ids(person) == [other]
        assert person[0].detail == {"person_id": people[own], "by_analyst": False}
        strong = related(linker, probe)
        assert other in _ids(strong) and biden not in _ids(strong) and own not in _ids(strong)
        assert all(is_strong(link) for link in strong)


def test_related_of_a_later_copy_is_its_original_by_pdq(world: World) -> None:
    with world.store.reader() as session:
        linker = Linker(session, open_indexes(session, world.settings), world.settings)
        original = _media_id(session, world.originals["p22.jpg"])
        probe = probe_media(session, _sha(world, "grey.jpg"))
        assert probe.scene == [] and probe.features == []  # ingested with PDQ only
        links = related(linker, probe)
        assert [(link.media_id, link.by) for link in links] == [(original, "pdq")]
        back = related(linker, probe_media(session, _sha(world, "p22.jpg")))
        assert (probe.media_id, "pdq") in [(link.media_id, link.by) for link in back]
