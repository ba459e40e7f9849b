"""Agency scoping in the service layer, on SQLite and PostgreSQL: a user sees their agency's
material and what others shared with them; anything else reads as if it did not exist, while
hashes and identification status still reach every agency's triage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.conftest import transformed, write_jpeg
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.cases import list_cases, update_case
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.errors import Conflict, Forbidden, Invalid, NotFound
from vident.service.scope import NOT_SHARED
from vident.service.series import add_series, add_series_media, list_series, show_series
from vident.service.similar import find_related_media, find_similar_media
from vident.service.sources import ingest_source, list_sources
from vident.service.triage import triage_source
from vident.service.users import add_user
from vident.service.victims import (
    PersonalIn,
    add_victim,
    identify_victim,
    list_victims,
    show_victim,
)

UNTIL = date.today() + timedelta(days=30)


@dataclass
class World:
    root: Context
    ana: Context  # analyst, Met (GB)
    nia: Context  # analyst, NCA (GB)
    bea: Context  # analyst, BKA (DE)
    pictures: Path


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Iterator[World]:
    root = open_context(settings, local_operator(settings))
    ids = {
        name: add_agency(root, name, country).id
        for name, country in (("Met", "GB"), ("NCA", "GB"), ("BKA", "DE"))
    }
    contexts = {}
    for name, agency in (("ana", "Met"), ("nia", "NCA"), ("bea", "BKA")):
        add_user(root, name, agency, Role.ANALYST, UNTIL, "a fine long password")
        principal = Principal(
            name=name, kind=PrincipalKind.USER, role=Role.ANALYST, agency_id=ids[agency]
        )
        contexts[name] = open_context(settings, principal)
    pictures = tmp_path / "met"
    for seed in (1, 2):
        write_jpeg(pictures / f"p{seed}.jpg", seed)
    made = World(root, contexts["ana"], contexts["nia"], contexts["bea"], pictures)
    yield made
    for ctx in (root, *contexts.values()):
        ctx.close()


def _met_seizure(world: World) -> str:
    ingest_source(world.ana, world.pictures, "MET-1", case="Op Met", signals=("pdq",), workers=1)
    return next(iter(triage_source(world.ana, "MET-1").items)).sha256 or ""


def test_an_agency_sees_its_own_material_and_no_other(world: World, tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="case"):  # an agency's seizure needs a case
        ingest_source(world.ana, world.pictures, "MET-0", signals=("pdq",), workers=1)
    sha = _met_seizure(world)
    assert [s.name for s in list_sources(world.ana).sources] == ["MET-1"]
    cases = list_cases(world.ana).cases
    assert [(c.name, c.agency, c.sharing) for c in cases] == [("Op Met", "Met", "agency")]
    for other in (world.nia, world.bea):
        assert list_sources(other).sources == [] and list_cases(other).cases == []
        with pytest.raises(NotFound, match="no source named 'MET-1'"):
            triage_source(other, "MET-1")
        with pytest.raises(NotFound, match="no stored media"):
            find_related_media(other, sha)
    # The operator of the data directory sees everything.
    assert [s.name for s in list_sources(world.root).sources] == ["MET-1"]
    # Another agency can neither load into Met's case nor reuse its source name.
    with pytest.raises(NotFound, match="no case named 'Op Met'"):
        ingest_source(world.bea, world.pictures, "BKA-1", case="Op Met", signals=("pdq",))
    with pytest.raises(Conflict, match="taken"):
        ingest_source(world.bea, world.pictures, "MET-1", case="Op BKA", signals=("pdq",))


def test_sharing_widens_sight_national_then_international(world: World) -> None:
    _met_seizure(world)
    update_case(world.ana, "Op Met", sharing="national")
    assert [s.name for s in list_sources(world.nia).sources] == ["MET-1"]
    assert triage_source(world.nia, "MET-1").counts["new"] == 2
    assert list_sources(world.bea).sources == []
    with pytest.raises(Forbidden, match="another agency"):  # seen, but not theirs to change
        update_case(world.nia, "Op Met", sharing="agency")
    update_case(world.ana, "Op Met", sharing="international")
    assert [s.name for s in list_sources(world.bea).sources] == ["MET-1"]


def test_identification_reaches_another_agency_without_its_pictures(
    world: World, tmp_path: Path
) -> None:
    sha = _met_seizure(world)
    add_series(world.ana, "Blue Room")
    add_series_media(world.ana, "Blue Room", [sha])
    victim = add_victim(world.ana, personal=PersonalIn(name="A. Child"), series=["Blue Room"])
    identify_victim(world.ana, victim.code, on=date(2026, 11, 30))
    assert show_victim(world.ana, victim.code).personal is not None

    theirs = tmp_path / "bka"
    copy = next(p for p in sorted(world.pictures.iterdir()) if p.suffix == ".jpg")
    (theirs / "copy.jpg").parent.mkdir()
    (theirs / "copy.jpg").write_bytes(copy.read_bytes())
    transformed(copy, theirs / "grey.jpg", "grey")
    ingest_source(world.bea, theirs, "BKA-1", case="Op BKA", signals=("pdq",), workers=1)
    items = {i.path: i for i in triage_source(world.bea, "BKA-1").items}
    for path in ("copy.jpg", "grey.jpg"):
        reasons = [r for r in items[path].reasons if r.media == sha]
        assert items[path].verdict in {"known", "near"} and reasons, items[path]
        assert all(r.source == NOT_SHARED for r in reasons)  # not Met's seizure name
        assert reasons[0].series == "Blue Room"
        assert reasons[0].identified == "victim identified by Met, GB, 2026-11-30"
    # Search by upload says the same, without where Met saw it.
    from vident.service.search import search_file

    found = [m for m in search_file(world.bea, theirs / "copy.jpg").matches if m.media == sha]
    assert found and found[0].identified == "victim identified by Met, GB, 2026-11-30"
    assert {o.source for o in found[0].occurrences} == {"BKA-1"}  # its own, not MET-1
    # BKA learns of the identification but not of Met's series, victim or pictures.
    assert list_series(world.bea).series == [] and list_victims(world.bea).subjects == []
    with pytest.raises(NotFound):
        show_series(world.bea, "Blue Room")
    with pytest.raises(NotFound):
        show_victim(world.bea, victim.code)
    similar = find_similar_media(world.bea, theirs / "grey.jpg", by="pdq", top=5)
    from_met = [r for r in similar.results if r.sha256 == sha]
    assert from_met and from_met[0].path == NOT_SHARED and from_met[0].source == NOT_SHARED


def test_a_shared_series_is_read_but_not_changed_and_personal_details_stay_home(
    world: World,
) -> None:
    sha = _met_seizure(world)
    add_series(world.ana, "Green Door", sharing="international")
    add_series_media(world.ana, "Green Door", [sha])
    victim = add_victim(world.ana, personal=PersonalIn(name="B. Child"), series=["Green Door"])
    assert [s.name for s in list_series(world.bea).series] == ["Green Door"]
    assert show_series(world.bea, "Green Door").media[0].sha256 == sha
    shown = show_victim(world.bea, victim.code)
    assert shown.code == victim.code and shown.personal is None
    with pytest.raises(Forbidden):
        add_series_media(world.bea, "Green Door", [sha])
    # Another agency identifies the victim: that is news for everyone, so it may.
    identified = identify_victim(world.bea, victim.code, on=date(2026, 12, 1))
    assert identified.identified_by == "BKA"


def test_text_with_nul_is_kept_or_refused_as_invalid_never_a_store_failure(
    world: World, settings: Settings
) -> None:
    from vident.service.locations import add_location, list_locations

    if settings.database_url.startswith("postgresql"):
        with pytest.raises(Invalid, match="NUL"):
            add_location(world.ana, "Flat\x00 3")
    else:  # SQLite keeps the text as it came
        add_location(world.ana, "Flat\x00 3")
        assert [loc.name for loc in list_locations(world.ana).locations] == ["Flat\x00 3"]


def test_a_person_seen_in_two_agencies_material_is_a_lead_not_a_leak(world: World) -> None:
    from sqlalchemy import select

    from tests.test_service_people import add_picture, faces_of
    from vident.service.people import confirm_person, label_person, list_people, show_person
    from vident.signals.registry import get
    from vident.store.models import Case, Face, Person, Source

    with world.root.store.session() as session:
        person = Person(model=get("face").model)
        session.add(person)
        session.flush()
        vectors = faces_of(3, 3)
        met = [add_picture(session, "MET-F", vectors[i]) for i in (0, 1)]
        bka = [add_picture(session, "BKA-F", vectors[2])]
        for source, case, agency in (("MET-F", "Op Met", 1), ("BKA-F", "Op BKA", 3)):
            made = Case(name=case)
            session.add(made)
            session.flush()
            from vident.store.models_cases import CaseOwner

            session.add(
                CaseOwner(case_id=made.id, agency_id=agency, sharing="agency", created_by="t")
            )
            found = session.scalar(select(Source).where(Source.name == source))
            assert found is not None
            found.case_id = made.id
        for face in session.scalars(select(Face).where(Face.id.in_(met + bka))):
            face.person_id = person.id
        person_id = person.id

    seen = {p.id: p for p in list_people(world.bea).people}
    assert seen[person_id].sources == ["BKA-F", NOT_SHARED]  # the same person, elsewhere
    assert set(seen[person_id].sample_faces) <= set(bka)
    faces = {f.id: f for f in show_person(world.bea, person_id).faces}
    assert faces[bka[0]].source == "BKA-F" and faces[bka[0]].sha256 is not None
    for face_id in met:
        assert faces[face_id].source == NOT_SHARED and faces[face_id].sha256 is None
        assert faces[face_id].path is None
    with pytest.raises(Forbidden, match="another agency"):
        confirm_person(world.bea, person_id)
    with pytest.raises(NotFound):  # NCA sees none of its pictures
        show_person(world.nia, person_id)
    assert person_id not in {p.id for p in list_people(world.nia).people}
    label_person(world.root, person_id, "V-1")  # the operator sees every face


def test_another_agency_cannot_put_its_people_into_a_series_it_only_sees(world: World) -> None:
    add_series(world.ana, "Shared Hall", sharing="international")
    with pytest.raises(Forbidden, match="another agency"):
        add_victim(world.bea, series=["Shared Hall"])
    assert add_victim(world.ana, series=["Shared Hall"]).series == ["Shared Hall"]


def test_an_unshared_series_still_being_worked_on_is_not_named_to_others(
    world: World, tmp_path: Path
) -> None:
    sha = _met_seizure(world)
    add_series(world.ana, "Quiet Room")
    add_series_media(world.ana, "Quiet Room", [sha])
    copy = next(p for p in sorted(world.pictures.iterdir()) if p.suffix == ".jpg")
    theirs = tmp_path / "bka2"
    theirs.mkdir()
    (theirs / "copy.jpg").write_bytes(copy.read_bytes())
    ingest_source(world.bea, theirs, "BKA-2", case="Op BKA 2", signals=("pdq",), workers=1)
    reasons = [r for r in triage_source(world.bea, "BKA-2").items[0].reasons if r.media == sha]
    assert reasons and all(r.series is None for r in reasons)  # known, but whose work: unsaid
    mine = [r for r in triage_source(world.root, "BKA-2").items[0].reasons if r.media == sha]
    assert mine and mine[0].series == "Quiet Room"
