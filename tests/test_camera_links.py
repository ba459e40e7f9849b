"""Camera, place and time links on both backends: real corpus files ingested, and generated ones."""

from __future__ import annotations

import io
import math
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational
from sqlalchemy import select

from tests.conftest import CORPUS
from vident.config import Limits
from vident.demo.synthetic import photo_like
from vident.ingest.records import WorkItem
from vident.ingest.worker import process_item
from vident.match.camera import (
    EARTH_RADIUS_M,
    camera_links_for_file,
    cluster_points,
    gps_clusters,
    haversine_m,
    near_place,
    same_make_model,
    same_serial,
    together,
)
from vident.media.types import ExifFacts
from vident.store.db import Store
from vident.store.models import Media, Occurrence
from vident.store.sources import open_source
from vident.store.writer import write_results

needs_corpus = pytest.mark.skipif(
    CORPUS is None or not CORPUS.is_dir(), reason="shared corpus not available"
)


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 10000)
    return IFDRational(degrees), IFDRational(minutes), IFDRational(seconds, 10000)


def camera_jpeg(
    path: Path,
    seed: int,
    *,
    make: str = "Acme",
    model: str = "Trailcam 1",
    serial: str | None = None,
    taken: datetime | None = None,
    where: tuple[float, float] | None = None,
) -> Path:
    """A generated JPEG with the EXIF a camera writes (Pillow-encoded)."""
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    sub = exif.get_ifd(0x8769)
    if serial:
        sub[0xA431] = serial
    if taken:
        sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
    if where:
        gps = exif.get_ifd(0x8825)
        gps[1] = "N" if where[0] >= 0 else "S"
        gps[2] = _dms(where[0])
        gps[3] = "E" if where[1] >= 0 else "W"
        gps[4] = _dms(where[1])
    buffer = io.BytesIO()
    photo_like(96, 64, seed).save(buffer, "JPEG", exif=exif)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def _ids(store: Store) -> dict[str, int]:
    with store.reader() as session:
        rows = session.execute(select(Occurrence.path, Occurrence.media_id))
        return {Path(path).name: media_id for path, media_id in rows if media_id is not None}


def _ingest(store: Store, folder: Path, name: str) -> dict[str, int]:
    """Each file through the ingest worker (EXIF read from the real bytes) and the writer."""
    items = [WorkItem(path=p.name, size=p.stat().st_size, fs_path=str(p)) for p in folder.iterdir()]
    results = [process_item(item, Limits(), signals=()) for item in sorted(items, key=str)]
    assert [r.error for r in results if r.error] == []
    with store.session() as session:
        source = open_source(session, name, str(folder), None)
        write_results(session, source.id, results)
    return _ids(store)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store(store_url)
    yield opened
    opened.dispose()


@needs_corpus
def test_corpus_same_body_serial_and_one_walk(store: Store, tmp_path: Path) -> None:
    assert CORPUS is not None
    folder = tmp_path / "seizure"
    folder.mkdir()
    shutil.copy(CORPUS / "faces" / "biden" / "biden.jpg", folder)
    shutil.copy(CORPUS / "faces" / "obama" / "obama3.jpg", folder)
    shutil.copy(CORPUS / "exif" / "cameras" / "Kodak_CX7530.jpg", folder)
    for walk in sorted((CORPUS / "exif" / "gps").glob("DSCN*.jpg")):
        shutil.copy(walk, folder)
    ids = _ingest(store, folder, "corpus")
    walk_ids = sorted(ids[name] for name in ids if name.startswith("DSCN"))
    assert len(walk_ids) == 6

    with store.reader() as session:
        links = same_serial(session, ids["biden.jpg"])
        assert [(link.media_id, link.by) for link in links] == [(ids["obama3.jpg"], "serial")]
        assert links[0].score == 1.0
        assert links[0].detail["serial"] == "720305332"
        assert len(links[0].sha256) == 64
        assert same_serial(session, ids["DSCN0010.jpg"]) == []

        # One walk in Tuscany: a single cluster at a few hundred metres, nothing else joins.
        assert gps_clusters(session, 300.0) == [walk_ids]
        assert len(gps_clusters(session, 50.0)) > 1

        near = near_place(session, ids["DSCN0025.jpg"], radius_m=50)
        assert [link.media_id for link in near] == [ids["DSCN0027.jpg"]]
        assert near[0].by == "gps"
        assert 0 < near[0].detail["distance_m"] < 20
        assert 0.5 <= near[0].score <= 1.0

        moments = together(session, ids["DSCN0010.jpg"], max_seconds=120, radius_m=100)
        assert [link.media_id for link in moments] == [ids["DSCN0012.jpg"]]
        assert moments[0].by == "time_place"
        assert moments[0].detail["seconds"] == 70.0

        same_camera = same_make_model(session, ids["DSCN0010.jpg"])
        assert sorted(link.media_id for link in same_camera) == walk_ids[1:]
        assert {link.detail["model"] for link in same_camera} == {"COOLPIX P6000"}


def test_generated_cameras_places_and_moments(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "seizure"
    noon = datetime(2024, 6, 1, 12, 0, 0)
    home = (48.85837, 2.29448)
    camera_jpeg(folder / "a.jpg", 1, serial="SN-777", taken=noon, where=home)
    camera_jpeg(folder / "b.jpg", 2, serial="SN-777", taken=noon.replace(hour=18))
    camera_jpeg(
        folder / "c.jpg",
        3,
        make="Other",
        model="Phone X",
        taken=noon.replace(minute=10),
        where=(home[0] + 0.0003, home[1]),  # about 33 m north
    )
    camera_jpeg(
        folder / "d.jpg",
        4,
        make="Other",
        model="Phone X",
        taken=noon.replace(day=2),
        where=(home[0], home[1] + 0.0004),  # about 29 m east, the next day
    )
    camera_jpeg(folder / "e.jpg", 5, make="Other", model="Phone X", where=(-33.8688, 151.2093))
    ids = _ingest(store, folder, "generated")

    with store.reader() as session:
        serial = same_serial(session, ids["a.jpg"])
        assert [link.media_id for link in serial] == [ids["b.jpg"]]

        place = near_place(session, ids["a.jpg"], radius_m=100)
        assert {link.media_id for link in place} == {ids["c.jpg"], ids["d.jpg"]}
        assert all(link.by == "gps" for link in place)
        assert all(20 < link.detail["distance_m"] < 40 for link in place)

        moment = together(session, ids["a.jpg"], max_seconds=3600, radius_m=100)
        assert [link.media_id for link in moment] == [ids["c.jpg"]]
        assert moment[0].detail["seconds"] == 600.0

        phones = same_make_model(session, ids["c.jpg"])
        assert sorted(link.media_id for link in phones) == sorted([ids["d.jpg"], ids["e.jpg"]])
        assert all(link.by == "make_model" and 0 < link.score <= 0.6 for link in phones)

        # A file that is not in the store: the same links, nothing excluded.
        query = ExifFacts(
            make="Acme", model="Trailcam 1", body_serial="SN-777", taken_at=noon, gps_lat=home[0],
            gps_lon=home[1],
        )  # fmt: skip
        found = camera_links_for_file(query, session)
        by_kind = {(link.by, link.media_id) for link in found}
        assert ("serial", ids["a.jpg"]) in by_kind
        assert ("serial", ids["b.jpg"]) in by_kind
        assert ("gps", ids["c.jpg"]) in by_kind
        assert ("time_place", ids["a.jpg"]) in by_kind
        assert ("make_model", ids["b.jpg"]) in by_kind
        assert found == sorted(found, key=lambda link: (-link.score, link.by, link.media_id))

        # Media without any camera facts give no links, and unknown media none either.
        media_count = len(session.execute(select(Media.id)).all())
        assert same_serial(session, media_count + 100) == []
        assert near_place(session, ids["b.jpg"]) == []
        assert together(session, ids["b.jpg"]) == []


def test_serial_collision_across_models_is_weaker(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "seizure"
    camera_jpeg(folder / "a.jpg", 1, make="Canon", model="EOS 1", serial="123456")
    camera_jpeg(folder / "b.jpg", 2, make="Canon", model="EOS 1", serial="123456")
    camera_jpeg(folder / "c.jpg", 3, make="Nikon", model="D1", serial="123456")
    ids = _ingest(store, folder, "generated")
    with store.reader() as session:
        scores = {link.media_id: link.score for link in same_serial(session, ids["a.jpg"])}
    assert scores == {ids["b.jpg"]: 1.0, ids["c.jpg"]: 0.5}


def test_cluster_points_chains_and_edges_of_the_map() -> None:
    step = math.degrees(80.0 / EARTH_RADIUS_M)  # 80 m of latitude
    chain = [(i, 10.0 + i * step, 20.0) for i in range(5)]
    far = [(100, 10.5, 20.0), (101, 10.5, 20.0)]  # two pictures at the very same spot
    lone = [(200, -40.0, 100.0)]
    antimeridian = [(300, 0.5, 179.9996), (301, 0.5, -179.9996)]  # about 89 m apart
    pole = [(400, 89.99995, 0.0), (401, 89.99995, 180.0)]  # about 11 m apart, over the pole
    junk = [(500, 0.0, 0.0), (501, 0.0, 0.0), (502, 95.0, 10.0)]
    points = chain + far + lone + antimeridian + pole + junk
    clusters = cluster_points(points, radius_m=100.0)
    assert clusters[0] == [0, 1, 2, 3, 4]
    assert sorted(clusters[1:]) == [[100, 101], [300, 301], [400, 401]]
    assert cluster_points(points, radius_m=50.0, min_size=2) == [[100, 101], [400, 401]]
    assert cluster_points([], 100.0) == []


def test_haversine() -> None:
    assert haversine_m(0, 0, 0, 1) == pytest.approx(111_195, rel=1e-3)
    assert haversine_m(43.46744, 11.88512, 43.46744, 11.88512) == 0.0
