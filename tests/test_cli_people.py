"""People, related and similar-by-face through the command line, on real corpus faces.

Real face pictures from the shared corpus (public figures) go through ``vident ingest`` once
per backend (the costly part, about a second a picture with the model load); every test that
writes then works on its own copy of that store: a copied data directory for SQLite, a
``CREATE DATABASE ... TEMPLATE`` clone for PostgreSQL. People are found by the pictures they
hold, never by ids, so the tests do not depend on the order clustering numbers them.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from tests.conftest import CORPUS, _fresh_pg_database
from vident.cli import app

FACES = CORPUS / "faces"
#: Seizure A: two solo pictures of Obama, one of Biden, two of Kit Harington, and a group
#: picture of Obama and Biden (its faces go to two different people).
SOURCE_A = {
    "obama.jpg": "obama/obama.jpg",
    "obama1.jpg": "obama/obama1.jpg",
    "biden.jpg": "biden/biden.jpg",
    "john1.jpeg": "kit_harington/john1.jpeg",
    "john2.jpeg": "kit_harington/john2.jpeg",
    "obama_and_biden.jpg": "_group/obama_and_biden.jpg",
}
#: Seizure B, later: one more picture of each of the three, never seen before.
SOURCE_B = {
    "obama2.jpg": "obama/obama2.jpg",
    "biden2.jpg": "biden/biden2.jpg",
    "johnsnow_test1.jpg": "kit_harington/johnsnow_test1.jpg",
}
#: Each identity's solo pictures: a person candidate is named by the one it holds.
OBAMA = {"obama.jpg", "obama1.jpg", "obama2.jpg"}
BIDEN = {"biden.jpg", "biden2.jpg"}
KIT = {"john1.jpeg", "john2.jpeg", "johnsnow_test1.jpg"}
GROUP = "obama_and_biden.jpg"

runner = CliRunner()


@dataclass(frozen=True)
class Env:
    """One store as the command line reaches it: ``--data`` and, for PostgreSQL, ``--db``."""

    data: Path
    db: str | None

    def run(self, *args: str) -> Result:
        options = ["--data", str(self.data)] + (["--db", self.db] if self.db else [])
        return runner.invoke(app, [*options, *args])

    def ok(self, *args: str) -> str:
        """Standard output of a command that must succeed."""
        result = self.run(*args)
        assert result.exit_code == 0, f"vident {' '.join(args)}: {result.stderr}{result.exception}"
        return result.stdout

    def json(self, *args: str) -> dict[str, Any]:
        """The parsed ``--format json`` output of a command that must succeed."""
        payload = json.loads(self.ok(*args, "--format", "json"))
        assert isinstance(payload, dict)
        return payload

    def sql(self, query: str) -> list[tuple[object, ...]]:
        """Rows straight from the store, to check what a command wrote."""
        if self.db is None:
            with sqlite3.connect(self.data / "vident.db") as connection:
                return list(connection.execute(query))
        engine = create_engine(self.db)
        try:
            with engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(query))]
        finally:
            engine.dispose()

    def sql_write(self, statement: str) -> None:
        """Change the store behind the commands' back, to set up a state to repair."""
        if self.db is None:
            with sqlite3.connect(self.data / "vident.db") as connection:
                connection.execute(statement)
            return
        engine = create_engine(self.db)
        try:
            with engine.begin() as connection:
                connection.execute(text(statement))
        finally:
            engine.dispose()


@dataclass(frozen=True)
class FaceRow:
    id: int
    path: str
    source: str
    by_analyst: bool


def census(env: Env) -> dict[int, list[FaceRow]]:
    """Every person candidate and its faces, read through ``people`` and ``people show``."""
    listed = env.json("people")["people"]
    assert isinstance(listed, list)
    found: dict[int, list[FaceRow]] = {}
    for person in listed:
        shown = env.json("people", "show", str(person["id"]))
        faces = shown["faces"]
        assert isinstance(faces, list)
        found[person["id"]] = [
            FaceRow(f["id"], f["path"], f["source"], f["assigned_by_analyst"]) for f in faces
        ]
    return found


def paths(faces: list[FaceRow]) -> set[str]:
    return {f.path for f in faces}


def person_holding(env: Env, path: str) -> int:
    """The one person candidate with a face in the solo picture ``path``."""
    owners = [p for p, faces in census(env).items() if path in paths(faces)]
    assert len(owners) == 1, f"{path} is in persons {owners}"
    return owners[0]


def face_in(env: Env, path: str) -> FaceRow:
    (face,) = [f for faces in census(env).values() for f in faces if f.path == path]
    return face


def _copy_pictures(folder: Path, pictures: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    for name, corpus_path in pictures.items():
        shutil.copyfile(FACES / corpus_path, folder / name)
    return folder


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def faces_base(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    """Two seizures of face pictures ingested once per backend: the store every test copies."""
    if not (FACES / "obama" / "obama.jpg").is_file():
        pytest.skip(f"the shared face corpus is not at {FACES}")
    root = tmp_path_factory.mktemp(f"faces-{request.param}")
    db = None
    if request.param == "postgresql":
        db = _fresh_pg_database(request.getfixturevalue("pg_server"))
    env = Env(root / "data", db)
    assert "vident store ready" in env.ok("init")
    for source, pictures in (("A", SOURCE_A), ("B", SOURCE_B)):
        folder = _copy_pictures(root / source, pictures)
        args = ("ingest", str(folder), "--source", source, "--signals", "face", "--workers", "1")
        result = env.run(*args)
        assert result.exit_code == 0, result.stderr
        assert f"{len(pictures)} files ingested ({len(pictures)} new media, 0 errors)" in (
            result.stderr
        )
    yield env


def _drop_connections(db: str) -> None:
    """End every session on ``db`` (commands run in this process keep pooled connections)."""
    name = db.rsplit("/", 1)[1]
    admin = create_engine(db.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    admin.dispose()


@pytest.fixture
def env(faces_base: Env, tmp_path: Path) -> Env:
    """A private copy of the ingested store, for a test that writes."""
    data = tmp_path / "data"
    # Locks and the cache (temporary files, the worker pool's socket) are no part of the store.
    shutil.copytree(faces_base.data, data, ignore=shutil.ignore_patterns("*.lock", "cache"))
    if faces_base.db is None:
        return Env(data, None)
    _drop_connections(faces_base.db)
    clone = f"vident_clone_{uuid.uuid4().hex[:12]}"
    server = faces_base.db.rsplit("/", 1)[0]
    admin = create_engine(server + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        base_name = faces_base.db.rsplit("/", 1)[1]
        connection.execute(text(f'CREATE DATABASE "{clone}" TEMPLATE "{base_name}"'))
    admin.dispose()
    return Env(data, f"{server}/{clone}")


# --- reading ----------------------------------------------------------------------------------


def test_people_lists_one_candidate_per_identity_across_both_seizures(faces_base: Env) -> None:
    people = census(faces_base)
    by_identity = {
        name: [p for p, faces in people.items() if solo <= paths(faces)]
        for name, solo in (("obama", OBAMA), ("biden", BIDEN), ("kit", KIT))
    }
    assert all(len(found) == 1 for found in by_identity.values()), by_identity
    obama, biden, kit = (by_identity[n][0] for n in ("obama", "biden", "kit"))
    assert len({obama, biden, kit}) == 3
    # The group picture gives one face to Obama and one to Biden, never both to one person.
    assert paths(people[obama]) == OBAMA | {GROUP}
    assert paths(people[biden]) == BIDEN | {GROUP}
    assert paths(people[kit]) == KIT
    assert {f.source for f in people[obama]} == {"A", "B"}

    listed = {p["id"]: p for p in faces_base.json("people")["people"]}
    assert listed[obama]["faces"] == 4 and listed[obama]["media"] == 4
    assert listed[obama]["sources"] == ["A", "B"] and listed[kit]["sources"] == ["A", "B"]
    assert listed[obama]["confirmed"] is False and listed[obama]["label"] is None

    big = faces_base.json("people", "--min-faces", "4")["people"]
    assert [p["id"] for p in big] == [obama]

    table = faces_base.ok("people")
    assert "person candidates" in table and "next: vident people show" in table
    shown = faces_base.ok("people", "show", str(kit))
    assert all(name in shown for name in ("john1.jpeg", "john2.jpeg", "johnsnow_test1"))
    assert "obama" not in shown


def test_related_names_the_same_person_in_the_earlier_seizure(faces_base: Env) -> None:
    triage = faces_base.json("triage", "--source", "B")
    items = {i["path"]: i for i in triage["items"]}
    # Every picture of B shows someone seen in A: related, with a face or person reason.
    assert {i["verdict"] for i in items.values()} == {"related"}
    assert {r["signal"] for r in items["obama2.jpg"]["reasons"]} & {"face", "person"}

    sha = items["obama2.jpg"]["sha256"]
    related = faces_base.json("related", sha)
    assert related["query"]["sha256"] == sha
    results = related["results"]
    assert isinstance(results, list)
    linked = {r["path"] for r in results if r["by"] in {"face", "person"}}
    assert {"obama.jpg", "obama1.jpg"} <= linked
    assert not linked & (BIDEN | KIT)
    assert all(r["source"] == "A" for r in results if r["path"] in OBAMA)

    table = faces_base.ok("related", sha)
    assert "obama.jpg" in table and "obama1.jpg" in table
    assert "biden.jpg" not in table and "john" not in table


def test_similar_by_face_finds_the_same_person_first(faces_base: Env, tmp_path: Path) -> None:
    query = tmp_path / "query.jpg"
    shutil.copyfile(FACES / "obama" / "obama-480p.jpg", query)  # never ingested
    found = faces_base.json("similar", str(query), "--by", "face", "--top", "3")
    results = found["results"]
    assert isinstance(results, list) and len(results) == 3
    assert all(r["by"] == "face" for r in results)
    assert {r["path"] for r in results} <= OBAMA | {GROUP}
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)


# --- analyst decisions, each on its own copy of the store ---------------------------------


def test_confirm_pins_every_face_and_survives_cluster_again(env: Env) -> None:
    kit = person_holding(env, "john1.jpeg")
    assert env.ok("people", "confirm", str(kit), "--actor", "anna").strip() == (
        f"person {kit} confirmed"
    )
    listed = {p["id"]: p for p in env.json("people")["people"]}
    assert listed[kit]["confirmed"] is True
    assert all(f.by_analyst for f in census(env)[kit])
    assert env.sql(f"SELECT confirmed FROM person WHERE id = {kit}") in ([(1,)], [(True,)])

    out = env.ok("people", "cluster", "--again")
    assert out.strip().endswith("joined existing people, 0 new candidates")
    after = census(env)
    assert paths(after[kit]) == KIT
    assert {p["id"]: p for p in env.json("people")["people"]}[kit]["confirmed"] is True


def test_split_moves_faces_to_a_new_person_that_stays_apart(env: Env) -> None:
    obama = person_holding(env, "obama.jpg")
    group_face = next(f for f in census(env)[obama] if f.path == GROUP)
    out = env.ok("people", "split", str(obama), str(group_face.id), "--actor", "anna")
    assert out.startswith(f"faces {group_face.id} now form person ")
    new = int(out.split()[-1])
    people = census(env)
    assert new != obama and paths(people[new]) == {GROUP}
    assert paths(people[obama]) == OBAMA
    links = env.sql("SELECT same, actor FROM face_link")
    assert links and all(not same and actor == "anna" for same, actor in links)

    env.ok("people", "cluster", "--again")  # the analyst's split holds
    again = census(env)
    assert paths(again[new]) == {GROUP} and paths(again[obama]) == OBAMA


def test_merge_joins_candidates_into_the_first(env: Env) -> None:
    biden, kit = person_holding(env, "biden.jpg"), person_holding(env, "john1.jpeg")
    out = env.ok("people", "merge", str(biden), str(kit), "--actor", "ben")
    assert out.strip() == f"merged into person {biden}"
    people = census(env)
    assert kit not in people
    assert paths(people[biden]) == BIDEN | KIT | {GROUP}
    assert env.sql(f"SELECT count(*) FROM person WHERE id = {kit}") == [(0,)]
    assert {actor for (actor,) in env.sql("SELECT actor FROM face_link")} == {"ben"}

    env.ok("people", "cluster", "--again")
    assert paths(census(env)[biden]) == BIDEN | KIT | {GROUP}


def test_reject_takes_a_face_out_of_every_person(env: Env) -> None:
    face = face_in(env, "johnsnow_test1.jpg")
    kit = person_holding(env, "john1.jpeg")
    assert env.ok("people", "reject", str(face.id)).strip() == f"face {face.id} rejected"
    assert paths(census(env)[kit]) == KIT - {"johnsnow_test1.jpg"}
    rows = env.sql(f"SELECT rejected, person_id FROM face WHERE id = {face.id}")
    assert rows in ([(1, None)], [(True, None)])

    env.ok("people", "cluster", "--again")  # a rejected face joins no one, even reclustered
    assert all("johnsnow_test1.jpg" not in paths(faces) for faces in census(env).values())


def test_move_gives_a_face_to_another_person(env: Env) -> None:
    face = face_in(env, "john2.jpeg")
    obama, kit = person_holding(env, "obama.jpg"), person_holding(env, "john1.jpeg")
    out = env.ok("people", "move", str(face.id), str(obama), "--actor", "cleo")
    assert out.strip() == f"face {face.id} moved to person {obama}"
    people = census(env)
    assert paths(people[obama]) == OBAMA | {GROUP, "john2.jpeg"}
    assert paths(people[kit]) == KIT - {"john2.jpeg"}
    assert next(f for f in people[obama] if f.id == face.id).by_analyst

    env.ok("people", "cluster", "--again")
    assert "john2.jpeg" in paths(census(env)[obama])


def test_label_names_a_person_and_an_empty_label_clears_it(env: Env) -> None:
    biden = person_holding(env, "biden.jpg")
    out = env.ok("people", "label", str(biden), "victim V-12")
    assert out.strip() == f"person {biden} labelled 'victim V-12'"
    listed = {p["id"]: p for p in env.json("people")["people"]}
    assert listed[biden]["label"] == "victim V-12"
    assert all(p["label"] is None for i, p in listed.items() if i != biden)
    assert "victim V-12" in env.ok("people")
    assert env.sql(f"SELECT label FROM person WHERE id = {biden}") == [("victim V-12",)]

    env.ok("people", "cluster", "--again")  # a recluster keeps labels
    assert env.sql(f"SELECT label FROM person WHERE id = {biden}") == [("victim V-12",)]
    env.ok("people", "label", str(biden), "")
    assert env.sql(f"SELECT label FROM person WHERE id = {biden}") == [(None,)]


def test_cluster_places_faces_left_without_a_person(env: Env) -> None:
    """Faces without a person (an older release, an interrupted run) join their people."""
    obama = person_holding(env, "obama.jpg")
    loose = [f.id for f in census(env)[obama] if f.path in {"obama1.jpg", "obama2.jpg"}]
    env.sql_write(f"UPDATE face SET person_id = NULL WHERE id IN ({loose[0]}, {loose[1]})")
    assert paths(census(env)[obama]) == (OBAMA | {GROUP}) - {"obama1.jpg", "obama2.jpg"}

    out = env.ok("people", "cluster")
    assert out.strip() == "2 faces: 2 joined existing people, 0 new candidates"
    assert paths(census(env)[obama]) == OBAMA | {GROUP}
    assert env.ok("people", "cluster").startswith("0 faces:")


def test_cluster_again_undoes_a_machine_assignment_gone_wrong(env: Env) -> None:
    """``--again`` rebuilds what no analyst decided: a face put wrongly goes back."""
    obama, kit = person_holding(env, "obama.jpg"), person_holding(env, "john1.jpeg")
    face = face_in(env, "obama1.jpg")
    env.sql_write(f"UPDATE face SET person_id = {kit} WHERE id = {face.id}")
    assert "obama1.jpg" in paths(census(env)[kit])

    # New faces only: there are none, so nothing moves.
    assert (
        env.ok("people", "cluster").strip() == "0 faces: 0 joined existing people, 0 new candidates"
    )
    assert "obama1.jpg" in paths(census(env)[kit])
    placed = sum(len(faces) for faces in census(env).values())
    out = env.ok("people", "cluster", "--again")
    assert out.strip() == f"{placed} faces: {placed} joined existing people, 0 new candidates"
    people = census(env)
    assert paths(people[kit]) == KIT and paths(people[obama]) == OBAMA | {GROUP}
