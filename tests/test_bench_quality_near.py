"""The near-duplicate benchmark's recording on a tiny part of the corpus: its figures must
mean what the table says.

A benchmark that finds nothing, counts a true link as false (or a false one as true), or
whose figures change with the number of workers prints numbers that look fine and mean
nothing; this runs it on the first pictures of the shared corpus and checks what it found
against what the edits made.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from bench import quality_near
from bench.quality_near import (
    EDIT_CLASSES,
    SIGNALS,
    Picture,
    Record,
    Workers,
    geometric,
    hits,
    load_corpus,
    record_all,
)

from tests.conftest import CORPUS

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not available")

LIMIT = 8
UNEVEN, COLLAGE = "crop 15-25% uneven", "collage 2x2"


@pytest.fixture(scope="module")
def corpus() -> list[Picture]:
    return load_corpus(CORPUS, LIMIT)


@pytest.fixture(scope="module")
def records(corpus: list[Picture]) -> dict[str, list[Record]]:
    with Workers(1, CORPUS, LIMIT) as workers:
        return record_all(corpus, workers, [UNEVEN, COLLAGE], log=False)


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "near.json"
    argv = ["--limit", str(LIMIT), "--workers", "1", "--edits", UNEVEN, COLLAGE]
    assert quality_near.main([*argv, "--json", str(out)]) == 0
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def test_the_figures_have_one_row_per_edit_and_every_signal(figures: dict[str, Any]) -> None:
    near = figures["near"]
    assert near["pictures"] == LIMIT
    assert list(near["per_edit"]) == [UNEVEN, COLLAGE]
    queried = LIMIT - len(near["featureless_not_queried"])
    for row in near["per_edit"].values():
        assert set(row) == set(SIGNALS)
        assert {s: row[s]["queries"] for s in SIGNALS} == dict.fromkeys(SIGNALS, queried)
    for row in [*near["groups"].values(), near["overall"]]:
        assert {s: row[s]["queries"] for s in SIGNALS} == dict.fromkeys(SIGNALS, 2 * queried)
    # Both edits are redistribution edits: the plain group has no row.
    assert [label.split()[0] for label in near["groups"]] == ["redistribution"]
    assert near["corpus_pairs"]["pairs"] == LIMIT * (LIMIT - 1)
    assert figures["cost"]["triage_ms_per_picture"] > figures["cost"]["query_features_ms"] > 0
    assert figures["seconds"] > 0 and figures["cpu_seconds"] > 0
    assert set(figures["other_angle"]) == {"rotate_crop", "perspective"}


def test_an_uneven_crop_is_a_duplicate_of_its_source_and_nothing_else(
    corpus: list[Picture], records: dict[str, list[Record]], figures: dict[str, Any]
) -> None:
    crops = records[UNEVEN]
    assert [corpus[r.source].name for r in crops] == [p.name for p in corpus if not p.featureless]
    found = [r for r in crops if (m := geometric(r, r.source)) and m.relation == "duplicate"]
    assert len(found) >= len(crops) - 1
    row = figures["near"]["per_edit"][UNEVEN]
    assert row["geometry"]["recall"] == row["vident"]["recall"] >= (len(crops) - 1) / len(crops)
    assert {s: row[s]["false"] for s in SIGNALS} == dict.fromkeys(SIGNALS, 0)
    # The margin rests on these duplicates: each passes the agreement tests.
    weakest = figures["near"]["margin"]["weakest_true"]
    assert weakest and all(level >= 1.0 for level, *_ in weakest)


def test_a_collage_shows_other_corpus_pictures_and_links_to_them_are_true(
    corpus: list[Picture], records: dict[str, list[Record]]
) -> None:
    for rec in records[COLLAGE]:
        assert len(rec.also_shows) == 3 and rec.source not in rec.also_shows
        assert not any(corpus[j].featureless for j in rec.also_shows)
        truth = rec.truth(corpus)
        assert {rec.source, *rec.also_shows} <= truth
        # A tile the geometry finds is counted true: no false link at all here.
        assert hits(rec, corpus)["geometry"] <= truth
    tiles = sum(len(hits(r, corpus)["geometry"] & set(r.also_shows)) for r in records[COLLAGE])
    assert tiles > 0


def test_the_figures_do_not_depend_on_the_number_of_workers(
    corpus: list[Picture], records: dict[str, list[Record]]
) -> None:
    with Workers(2, CORPUS, LIMIT) as workers:
        again = record_all(corpus, workers, [COLLAGE], log=False)
    first = [(r.source, r.also_shows, r.pdq, hits(r, corpus)) for r in records[COLLAGE]]
    assert [(r.source, r.also_shows, r.pdq, hits(r, corpus)) for r in again[COLLAGE]] == first


def test_containment_and_scene_truth(corpus: list[Picture]) -> None:
    names = [
        "faces/_group/two_people.jpg",
        "faces/biden/biden.jpg",
        "faces/obama/obama3.jpg",
        "exif/orientation/landscape_1.jpg",
        "exif/orientation/landscape_2.jpg",
        "exif/orientation/portrait_1.jpg",
        "exif/cameras/Canon_40D.jpg",
    ]
    fake = [dataclasses.replace(corpus[0], name=n) for n in names]
    quality_near._relate(fake)
    group, biden, obama3, land1, land2, portrait, other = range(len(names))
    assert fake[group].linked == {group, biden, obama3}
    assert fake[biden].linked == {biden, group}  # not obama3: the two photos are unrelated
    assert fake[obama3].same_scene == {obama3, group}
    assert fake[land1].same_photo == fake[land1].linked == {land1, land2}
    assert fake[land1].same_scene == {land1, land2, portrait}
    assert fake[other].same_scene == {other}
    rec = Record(UNEVEN, biden, [], [], [], also_shows=(land2,))
    assert rec.truth(fake) == {biden, group, land1, land2}


def test_every_edit_class_is_known_and_the_cli_refuses_others() -> None:
    assert len(EDIT_CLASSES) == 12 + 13
    with pytest.raises(SystemExit):
        quality_near.main(["--edits", "no such edit", "--limit", "1"])


def test_the_corpus_root_is_the_tests_one() -> None:
    assert Path(quality_near.CORPUS).resolve() == CORPUS.resolve()


def test_recall_only_finds_what_the_full_run_finds(figures: dict[str, Any], tmp_path: Path) -> None:
    """The quick mode verifies each query against its true pictures alone: the same recall."""
    out = tmp_path / "recall.json"
    argv = ["--recall-only", "--limit", str(LIMIT), "--workers", "1", "--edits", UNEVEN, COLLAGE]
    assert quality_near.main([*argv, "--json", str(out)]) == 0
    recalls = json.loads(out.read_text())
    for edit in (UNEVEN, COLLAGE):
        full = figures["near"]["per_edit"][edit]
        for signal in ("pdq", "geometry", "vident"):
            assert recalls[edit][signal] == pytest.approx(full[signal]["recall"]), (edit, signal)
