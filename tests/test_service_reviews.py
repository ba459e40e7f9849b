"""Review marks: an analyst marks media reviewed, their agency's colleagues see it, another
agency does not; unmarking clears the agency's marks; refusals and bad input change nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import jpeg_bytes
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.audit import list_events
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.errors import Forbidden, Invalid, NotFound
from vident.service.reviews import MOST_MEDIA, ReviewsOut, mark_reviewed, show_reviews
from vident.service.sources import ingest_source
from vident.service.store_admin import init_store
from vident.service.triage_view import TriageFilter, triage_view
from vident.store.models_cases import ReviewMark

#: username -> (agency, role); ana and cleo are colleagues at Met, bea works for BKA.
PEOPLE = {
    "ana": ("Met", Role.ANALYST),
    "cleo": ("Met", Role.ANALYST),
    "vera": ("Met", Role.VIEWER),
    "bea": ("BKA", Role.ANALYST),
    "audrey": (None, Role.AUDITOR),
}


@dataclass
class World:
    settings: Settings
    root: Context
    people: dict[str, Context]
    #: Met's own seizure (case Op R, not shared) and one everybody sees (the operator's).
    met: list[str]
    open: list[str]


def _pictures(folder: Path, seeds: range) -> list[str]:
    folder.mkdir()
    shas = []
    for seed in seeds:
        data = jpeg_bytes(seed, (96, 72))
        (folder / f"r-{seed:03d}.jpg").write_bytes(data)
        shas.append(hashlib.sha256(data).hexdigest())
    return shas


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    settings = Settings(data=tmp_path / "data", workers=1)
    init_store(settings)
    root = open_context(settings, local_operator(settings))
    ids = {name: add_agency(root, name, c).id for name, c in (("Met", "GB"), ("BKA", "DE"))}
    people = {
        name: open_context(
            settings,
            Principal(
                name=name,
                kind=PrincipalKind.USER,
                role=role,
                agency_id=ids[agency] if agency else None,
            ),
        )
        for name, (agency, role) in PEOPLE.items()
    }
    met = _pictures(tmp_path / "met", range(1, 5))
    ingest_source(people["ana"], tmp_path / "met", "R-MET", case="Op R", signals=("pdq",))
    shared = _pictures(tmp_path / "open", range(11, 13))
    ingest_source(root, tmp_path / "open", "R-OPEN", signals=("pdq",))
    yield World(settings, root, people, met, shared)
    for context in people.values():
        context.close()
    root.close()


def _seen(answer: ReviewsOut) -> dict[str, list[str]]:
    """sha256 -> reviewers, of the reviewed media of an answer."""
    return {r.sha256: r.reviewers for r in answer.reviews if r.reviewed}


def _rows(world: World) -> int:
    with world.root.store.reader() as session:
        return len(session.query(ReviewMark).all())


def test_a_mark_is_seen_by_the_agency_and_not_by_another(world: World) -> None:
    ana, cleo, vera, bea = (world.people[n] for n in ("ana", "cleo", "vera", "bea"))
    marked = mark_reviewed(ana, [world.met[0], world.met[1].upper()])
    assert [r.sha256 for r in marked.reviews] == world.met[:2]  # lower case, in order
    assert all(r.reviewed and r.reviewers == ["ana"] and r.at for r in marked.reviews)
    assert _seen(show_reviews(cleo, world.met)) == {s: ["ana"] for s in world.met[:2]}
    assert _seen(show_reviews(vera, world.met[:3])) == {s: ["ana"] for s in world.met[:2]}
    # BKA does not see Met's material at all: a mark on it is refused as missing.
    with pytest.raises(NotFound):
        mark_reviewed(bea, [world.met[0]])
    with pytest.raises(NotFound):
        show_reviews(bea, [world.met[0]])
    # Material both see: each agency's marks are its own.
    mark_reviewed(ana, [world.open[0]])
    assert _seen(show_reviews(bea, world.open)) == {}
    mark_reviewed(bea, world.open)
    assert _seen(show_reviews(bea, world.open)) == {s: ["bea"] for s in world.open}
    assert _seen(show_reviews(cleo, world.open)) == {world.open[0]: ["ana"]}


def test_marking_again_keeps_one_mark_and_colleagues_add_theirs(world: World) -> None:
    ana, cleo = world.people["ana"], world.people["cleo"]
    mark_reviewed(ana, [world.met[0]])
    mark_reviewed(ana, [world.met[0], world.met[0]])
    assert _rows(world) == 1
    again = mark_reviewed(cleo, [world.met[0]])
    assert again.reviews[0].reviewers == ["ana", "cleo"]
    assert _rows(world) == 2


def test_unmarking_clears_the_agencys_marks_only(world: World) -> None:
    ana, cleo, bea = world.people["ana"], world.people["cleo"], world.people["bea"]
    mark_reviewed(ana, world.open)
    mark_reviewed(bea, [world.open[0]])
    cleared = mark_reviewed(cleo, [world.open[0]], False)
    assert [(r.reviewed, r.reviewers, r.at) for r in cleared.reviews] == [(False, [], None)]
    assert _seen(show_reviews(ana, world.open)) == {world.open[1]: ["ana"]}
    assert _seen(show_reviews(bea, world.open)) == {world.open[0]: ["bea"]}


def test_refusals_and_bad_input_change_nothing(world: World) -> None:
    vera, audrey, ana = world.people["vera"], world.people["audrey"], world.people["ana"]
    with pytest.raises(Forbidden):
        mark_reviewed(vera, [world.met[0]])
    with pytest.raises(Forbidden):
        show_reviews(audrey, [world.met[0]])
    missing = hashlib.sha256(b"never ingested").hexdigest()
    with pytest.raises(NotFound):  # all or nothing: the first one is not marked either
        mark_reviewed(ana, [world.met[0], missing])
    for bad in ([], ["not hex"], [world.met[0][:10]]):
        with pytest.raises(Invalid):
            mark_reviewed(ana, bad)
    too_many = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(MOST_MEDIA + 1)]
    with pytest.raises(Invalid):
        mark_reviewed(ana, too_many)
    assert _rows(world) == 0


def test_marks_are_audited(world: World) -> None:
    mark_reviewed(world.people["ana"], [world.met[0]])
    with pytest.raises(Forbidden):
        mark_reviewed(world.people["vera"], [world.met[0]])
    events = list_events(world.people["audrey"], action="media.review").events
    assert [(e.actor, e.outcome) for e in events] == [("ana", "ok"), ("vera", "denied")]
    assert world.met[0] in (events[0].target or "")


def test_the_triage_grid_shows_marks_and_hides_reviewed_items_on_request(world: World) -> None:
    ana, cleo = world.people["ana"], world.people["cleo"]
    mark_reviewed(ana, world.met[:3])
    view = triage_view(cleo, "R-MET", TriageFilter())
    shown = {t.sha256: t.reviewed for t in view.tiles if t.kind == "item"}
    assert shown == {s: s in world.met[:3] for s in world.met}
    left = triage_view(cleo, "R-MET", TriageFilter(unreviewed=True))
    assert left.matched == 1
    assert [t.sha256 for t in left.tiles if t.kind == "item"] == [world.met[3]]
    assert triage_view(cleo, "R-MET", TriageFilter()).matched == 4
