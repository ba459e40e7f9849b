"""The demo's generated pictures and its scenario: every file earns the verdict it promises.

The verdicts themselves are proven end to end by ``tests/test_demo_e2e.py`` (the real demo);
these tests check what the scenario builds: the files, the hash set, the earlier case, and that
each made item is what its verdict needs (a crop local features find and PDQ misses, a view
from another angle, a photo from the same camera body).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from PIL.ExifTags import IFD, Base

from vident.demo.scenario import (
    CROP_SIDE,
    EARLIER_NAME,
    ERROR,
    HASHSET_HEADER,
    HASHSET_NAME,
    KNOWN,
    NEAR,
    NEW,
    NOT_IN_POOL,
    PERSON_EARLIER,
    PERSON_SEIZURE,
    RELATED,
    SERIAL_PAIR,
    VIDEO_PAIR,
    Scenario,
    ScenarioItem,
    build_scenario,
    check_triage,
    default_corpus,
    dihedral_distance,
    local_match,
    pdq_of,
)
from vident.demo.synthetic import photo_like, photo_size, write_photo_jpegs

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
THRESHOLD = 31


def _member(archive: bytes, name: str, kind: str) -> bytes:
    if kind == "zip":
        with zipfile.ZipFile(io.BytesIO(archive)) as z:
            return z.read(name)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as t:
        member = t.extractfile(name)
        assert member is not None
        return member.read()


def item_bytes(scenario: Scenario, path: str) -> bytes:
    """The bytes of a seizure item, reading through its (nested) archives."""
    parts = path.split("/")
    if parts[0].endswith(".zip"):
        return _member((scenario.seizure_dir / parts[0]).read_bytes(), "/".join(parts[1:]), "zip")
    if parts[0].endswith(".tar.gz"):
        outer = (scenario.seizure_dir / parts[0]).read_bytes()
        for depth in range(2, len(parts)):
            if parts[depth - 1].endswith(".zip"):
                inner = _member(outer, "/".join(parts[1:depth]), "tar")
                return _member(inner, "/".join(parts[depth:]), "zip")
        return _member(outer, "/".join(parts[1:]), "tar")
    return (scenario.seizure_dir / path).read_bytes()


def hashset_rows(scenario: Scenario) -> list[dict[str, str]]:
    with scenario.hashset_csv.open(newline="") as handle:
        return list(csv.DictReader(handle))


def linked(scenario: Scenario, signal: str) -> list[ScenarioItem]:
    """The seizure items made to be linked to the earlier case by ``signal``."""
    return [i for i in scenario.items if i.linked_to == EARLIER_NAME and signal in i.signals]


def body_serial(data: bytes) -> str | None:
    with Image.open(io.BytesIO(data)) as image:
        value = image.getexif().get_ifd(IFD.Exif).get(Base.BodySerialNumber)
    return None if value is None else str(value)


def as_report(scenario: Scenario) -> list[dict[str, object]]:
    """The triage report items the scenario expects, each with the reason it was made for."""
    return [
        {
            "path": item.path,
            "verdict": item.verdict,
            "reasons": [{"signal": s, "hashset": item.linked_to} for s in item.signals[:1]]
            if item.linked_to == HASHSET_NAME
            else [{"signal": s, "source": item.linked_to} for s in item.signals[:1]],
        }
        for item in scenario.items
    ]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build_scenario(tmp_path_factory.mktemp("demo") / "demo-data", None)


# --- generated pictures ---------------------------------------------------------------------


def test_photo_like_pictures_have_high_pdq_quality_and_differ_per_seed() -> None:
    hashes = []
    for seed in range(8):
        buffer = io.BytesIO()
        photo_like(640, 480, seed).save(buffer, "JPEG", quality=90)
        value, quality, variants = pdq_of(buffer.getvalue())
        assert quality >= 80
        hashes.append((value, variants))
    for i, a in enumerate(hashes):
        for b in hashes[i + 1 :]:
            assert dihedral_distance(a, b[0]) > 90


def test_photo_like_is_deterministic_and_sized_as_asked() -> None:
    a, b = photo_like(333, 517, 42), photo_like(333, 517, 42)
    assert a.size == (333, 517) and a.mode == "RGB"
    assert a.tobytes() == b.tobytes()
    assert photo_like(333, 517, 43).tobytes() != a.tobytes()


def test_photo_sizes_spread_evenly_over_the_megapixel_range() -> None:
    for count in (5, 12, 40):
        megapixels = [w * h / 1e6 for w, h in (photo_size(i, 1.0, 12.0, 3) for i in range(count))]
        assert all(0.99 <= mp <= 12.01 for mp in megapixels)
        # Every equal slice of the range gets a picture: no clustering at any prefix length.
        slices = {min(int((mp - 1.0) / 11.0 * count / 2), count // 2 - 1) for mp in megapixels}
        assert len(slices) == count // 2


def test_write_photo_jpegs_is_deterministic_with_camera_exif(tmp_path: Path) -> None:
    first = write_photo_jpegs(tmp_path / "a", 3, min_mp=0.2, max_mp=0.6, seed=5)
    second = write_photo_jpegs(tmp_path / "b", 2, min_mp=0.2, max_mp=0.6, seed=5)
    assert [p.name for p in first] == ["IMG_0001.jpg", "IMG_0002.jpg", "IMG_0003.jpg"]
    # A smaller set is a prefix of a larger one, byte for byte.
    assert [p.read_bytes() for p in first[:2]] == [p.read_bytes() for p in second]
    serials = 0
    for path in first:
        with Image.open(path) as image:
            assert image.format == "JPEG"
            assert 0.19 <= image.width * image.height / 1e6 <= 0.61
            exif = image.getexif()
            details = exif.get_ifd(IFD.Exif)
        assert exif[Base.Make] and exif[Base.Model]
        assert re.fullmatch(r"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d", details[Base.DateTimeOriginal])
        serials += Base.BodySerialNumber in details
    assert serials >= 1


# --- the scenario ----------------------------------------------------------------------------


def test_scenario_files_are_laid_out_as_designed(generated: Scenario) -> None:
    s = generated
    assert s.hashset_csv.is_file() and s.seizure_dir.is_dir()
    assert s.expected_json.parent == s.data_dir  # outside the seizure folder
    assert json.loads(s.expected_json.read_text()) == s.expected
    verdicts = list(s.expected.values())
    assert {v: verdicts.count(v) for v in (KNOWN, NEAR, RELATED, NEW, ERROR)} == {
        KNOWN: 4,
        NEAR: 8,  # seven edited known pictures (one as HEIC), a crop of an earlier-case one
        RELATED: 2,  # another angle, the same camera body (no faces or videos to generate)
        NEW: 10,
        ERROR: 3,
    }
    # Archives: a zip, and a zip nested in a tar.gz.
    assert any(p.startswith("DCIM_backup.zip/") for p in s.expected)
    assert any(".tar.gz/" in p and ".zip/" in p for p in s.expected)
    # Names are neutral and unique; none gives its verdict away.
    names = [p.rsplit("/", 1)[-1] for p in s.expected]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"IMG_\d{4}\.(jpg|png|mp4|heic)|photo\.jpg", n) for n in names)
    for path in s.expected:
        item_bytes(s, path)  # every item is where it says


def test_hashset_holds_the_reference_pictures(generated: Scenario) -> None:
    rows = hashset_rows(generated)
    assert list(rows[0]) == list(HASHSET_HEADER)
    assert len(rows) == len(generated.reference) == 14
    for row, file in zip(rows, generated.reference, strict=True):
        data = file.read_bytes()
        assert row["md5"] == hashlib.md5(data).hexdigest()
        assert row["sha1"] == hashlib.sha1(data).hexdigest()
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert int(row["pdq"], 16) == pdq_of(data)[0]


def test_known_items_are_exact_copies_of_reference_pictures(generated: Scenario) -> None:
    known = {row["sha256"] for row in hashset_rows(generated)}
    items = [i for i in generated.items if i.verdict == KNOWN]
    assert len(items) == 4  # the loop below checks something only if there are items
    for item in items:
        assert item.origin is not None
        data = item_bytes(generated, item.path)
        assert data == item.origin.read_bytes()
        assert hashlib.sha256(data).hexdigest() in known


def test_near_items_are_transformed_known_pictures_within_pdq_threshold(
    generated: Scenario,
) -> None:
    rows = hashset_rows(generated)
    known_sha = {row["sha256"] for row in rows}
    hows = set()
    for item in (i for i in generated.items if i.linked_to == HASHSET_NAME and i.verdict == NEAR):
        assert item.origin is not None
        data = item_bytes(generated, item.path)
        assert hashlib.sha256(data).hexdigest() not in known_sha
        value, quality, variants = pdq_of(data)
        original = pdq_of(item.origin.read_bytes())[0]
        assert quality >= 50
        assert dihedral_distance((value, variants), original) <= THRESHOLD, item.how
        hows.add(item.how.split(",")[0])
    assert {
        "known picture resized to 50%",
        "known picture recompressed at JPEG quality 40",
        "known picture flipped left-right",
        "known picture rotated 90 degrees",
        "known picture greyscale",
        "known picture saved as HEIC (iPhone format)",
    } <= hows


def test_new_and_linked_items_match_nothing_in_the_hashset_or_earlier_case(
    generated: Scenario,
) -> None:
    rows = hashset_rows(generated)
    known_sha = {row["sha256"] for row in rows}
    earlier = [f.path.read_bytes() for f in generated.earlier]
    known_pdq = [int(row["pdq"], 16) for row in rows] + [pdq_of(d)[0] for d in earlier]
    known_sha |= {hashlib.sha256(d).hexdigest() for d in earlier}
    items = [i for i in generated.items if i.verdict == NEW or i.linked_to == EARLIER_NAME]
    assert len(items) == 13
    for item in items:
        data = item_bytes(generated, item.path)
        assert hashlib.sha256(data).hexdigest() not in known_sha
        value, quality, variants = pdq_of(data)
        assert quality >= 50
        assert min(dihedral_distance((value, variants), k) for k in known_pdq) > THRESHOLD


def test_earlier_case_is_written_apart_and_linked_items_point_into_it(
    generated: Scenario,
) -> None:
    s = generated
    assert s.earlier_dir.parent == s.data_dir and s.earlier_dir != s.seizure_dir
    assert sorted(p.name for p in s.earlier_dir.iterdir()) == sorted(f.path.name for f in s.earlier)
    assert len(s.earlier) == 4  # a place, a picture to crop, a camera body, a sign
    linked_items = [i for i in s.items if i.linked_to == EARLIER_NAME]
    assert linked_items  # the crop, the other angle and the camera body, at least
    for item in linked_items:
        assert item.origin is not None and item.origin.parent == s.earlier_dir, item
        assert "/" not in item.path  # loose, so the printed next steps can name it
    assert {i.verdict for i in s.items if not i.signals} <= {NEW, ERROR}


def test_crop_is_found_by_local_features_and_missed_by_pdq(generated: Scenario) -> None:
    [item] = linked(generated, "keypoints")
    assert item.verdict == NEAR and item.origin is not None
    data, original = item_bytes(generated, item.path), item.origin.read_bytes()
    with Image.open(io.BytesIO(data)) as crop, Image.open(io.BytesIO(original)) as whole:
        assert crop.width == pytest.approx(whole.width * (1 - 2 * CROP_SIDE), abs=1)
        assert crop.height == pytest.approx(whole.height * (1 - 2 * CROP_SIDE), abs=1)
    value, _, variants = pdq_of(data)
    assert dihedral_distance((value, variants), pdq_of(original)[0]) > THRESHOLD
    found = local_match(original, data)
    assert found is not None and found[0] == "duplicate"


def test_other_angle_is_the_same_scene_but_no_duplicate(generated: Scenario) -> None:
    [item] = linked(generated, "scene")
    assert item.verdict == RELATED and item.origin is not None
    data, original = item_bytes(generated, item.path), item.origin.read_bytes()
    value, _, variants = pdq_of(data)
    assert dihedral_distance((value, variants), pdq_of(original)[0]) > THRESHOLD
    found = local_match(original, data)
    assert found is not None and found[0] == "same_scene"


def test_same_camera_item_shares_only_the_body_serial(generated: Scenario) -> None:
    [item] = linked(generated, "serial")
    assert item.verdict == RELATED and item.origin is not None
    data, original = item_bytes(generated, item.path), item.origin.read_bytes()
    assert body_serial(data) is not None
    assert body_serial(data) == body_serial(original)
    value, _, variants = pdq_of(data)
    assert dihedral_distance((value, variants), pdq_of(original)[0]) > THRESHOLD
    assert local_match(original, data) is None
    # No other picture of the demo carries that serial.
    others = [f.path.read_bytes() for f in generated.earlier if f.path != item.origin]
    others += [
        item_bytes(generated, i.path)
        for i in generated.items
        if i.verdict != ERROR and i.path != item.path
    ]
    assert all(body_serial(other) != body_serial(data) for other in others)


def test_error_items_cannot_be_decoded(generated: Scenario) -> None:
    errors = [i for i in generated.items if i.verdict == ERROR]
    sizes = sorted(len(item_bytes(generated, i.path)) for i in errors)
    assert sizes[0] == 0
    for item in errors:
        data = item_bytes(generated, item.path)
        with pytest.raises(OSError), Image.open(io.BytesIO(data)) as image:
            image.load()


def test_check_triage_reports_only_real_differences(generated: Scenario) -> None:
    items = as_report(generated)
    items.append({"path": "DCIM_backup.zip", "verdict": "new"})  # a container: ignored
    assert check_triage(generated, {"items": items}) == []
    # Archive members spelt differently are still found by their unique name.
    renamed = [
        {**i, "path": str(i["path"]).replace("old_phone.tar.gz/", "old_phone.tar.gz/x.tar/")}
        for i in items
    ]
    assert check_triage(generated, {"items": renamed}) == []
    wrong = [dict(i) for i in items if i["path"] != "photo.jpg"]
    near_path = next(i.path for i in generated.items if i.verdict == NEAR)
    for item in wrong:
        if item["path"] == near_path:
            item["verdict"] = NEW
    wrong.append({"path": "stray.jpg", "verdict": NEW})
    problems = check_triage(generated, {"items": wrong})
    assert sorted(problems) == sorted(
        [
            f"{near_path}: new, expected near",
            "photo.jpg: missing from the triage (expected error)",
            "stray.jpg: not part of the scenario (verdict new)",
        ]
    )


def test_check_triage_wants_the_reason_each_item_was_made_for(generated: Scenario) -> None:
    items = as_report(generated)
    crop = linked(generated, "keypoints")[0].path
    angle = linked(generated, "scene")[0].path
    known = next(i.path for i in generated.items if i.verdict == KNOWN)
    for item in items:
        if item["path"] == crop:  # near, but by PDQ: not what the crop shows
            item["reasons"] = [{"signal": "pdq", "source": EARLIER_NAME}]
        elif item["path"] == angle:  # the right signal, to the wrong source
            item["reasons"] = [{"signal": "scene", "source": "demo-seizure"}]
        elif item["path"] == known:
            item["reasons"] = []
    assert sorted(check_triage(generated, {"items": items})) == sorted(
        [
            f"{crop}: near, but no keypoints reason to {EARLIER_NAME}",
            f"{angle}: related, but no scene reason to {EARLIER_NAME}",
            f"{known}: known, but no sha256 reason to {HASHSET_NAME}",
        ]
    )


def test_default_corpus_is_the_one_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDENT_CORPUS", str(tmp_path / "absent"))  # ignored: passed explicitly
    assert default_corpus(tmp_path) == tmp_path
    assert default_corpus(tmp_path / "absent") is None
    assert default_corpus() != tmp_path / "absent"


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.exists(), reason="the shared benign corpus is not in this clone")
def test_corpus_scenario_uses_photographs_and_keeps_its_promises(tmp_path: Path) -> None:
    s = build_scenario(tmp_path / "demo-data", CORPUS)
    rows = hashset_rows(s)
    assert all(f.is_relative_to(CORPUS) for f in s.reference)
    assert all(f.relative_to(CORPUS).parts[0] in {"scenes", "faces"} for f in s.reference)
    known_pdq = [int(row["pdq"], 16) for row in rows]
    for item in s.items:
        if item.verdict not in {NEAR, NEW} or item.path.endswith(".mp4"):
            continue
        value, _, variants = pdq_of(item_bytes(s, item.path))
        nearest = min(dihedral_distance((value, variants), k) for k in known_pdq)
        if item.linked_to == HASHSET_NAME:
            assert nearest <= THRESHOLD, item.how
        else:
            assert nearest > THRESHOLD, item.how

    # The earlier case and the seizure's files linked to it are the corpus files named.
    corpus_bytes = {path: (CORPUS / path).read_bytes() for path in (*SERIAL_PAIR, *VIDEO_PAIR)}
    earlier = {f.path.read_bytes() for f in s.earlier}
    assert (CORPUS / PERSON_EARLIER).read_bytes() in earlier
    assert {corpus_bytes[SERIAL_PAIR[0]], corpus_bytes[VIDEO_PAIR[0]]} <= earlier
    faces = {item_bytes(s, i.path) for i in linked(s, "face")}
    assert faces == {(CORPUS / path).read_bytes() for path in PERSON_SEIZURE}
    assert [item_bytes(s, i.path) for i in linked(s, "serial")] == [corpus_bytes[SERIAL_PAIR[1]]]
    assert [item_bytes(s, i.path) for i in linked(s, "vpdq")] == [corpus_bytes[VIDEO_PAIR[1]]]
    assert len(linked(s, "scene")) == len(linked(s, "keypoints")) == 1
    # No known or new picture shows the earlier case's people.
    pool = [f.relative_to(CORPUS).as_posix() for f in s.reference]
    pool += [i.how for i in s.items if i.verdict == NEW]
    assert not [p for p in pool for held in NOT_IN_POOL if held in p]
