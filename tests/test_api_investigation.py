"""The investigation over REST: cases, series, victims and offenders, places, clues, notes and
category votes, used as an analyst and a viewer would, on SQLite and PostgreSQL.

Each route's answer is checked, and so is its effect, read back through another route. The last
test follows an identification from the API into the triage of another seizure.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.api_support import API, PASSWORD, Api, api_over, problem
from tests.conftest import transformed, write_jpeg
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.audit import list_events
from vident.service.cases import add_case
from vident.service.context import Role
from vident.service.series import show_series
from vident.service.sources import ingest_source
from vident.service.tokens import create_token
from vident.service.users import add_user
from vident.service.victims import show_victim


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


@dataclass(frozen=True)
class Seized:
    """Source EX1 of case Op Base (owned by Met): three generated pictures, PDQ only."""

    folder: Path
    pictures: list[Path]
    sha256: list[str]


@pytest.fixture
def seized(api: Api, tmp_path: Path) -> Seized:
    folder = tmp_path / "ex1"
    pictures = [write_jpeg(folder / f"p{seed}.jpg", 40 + seed) for seed in range(3)]
    add_case(api.ctx, "Op Base", agency="Met")
    ingest_source(api.ctx, folder, "EX1", case="Op Base", workers=1, signals=("pdq",))
    digests = [hashlib.sha256(p.read_bytes()).hexdigest() for p in pictures]
    return Seized(folder, pictures, digests)


def as_(api: Api, username: str) -> dict[str, str]:
    return api.bearer(username)


def token_of(api: Api, username: str) -> str:
    """A fresh API token of ``username`` (a user added by the test itself)."""
    return create_token(api.ctx, username, "tests", 30, ["read", "write"]).secret


# --- cases ----------------------------------------------------------------------------------


def test_cases_are_opened_listed_and_shown_with_what_they_hold(api: Api, seized: Seized) -> None:
    ana, vera = as_(api, "ana"), as_(api, "vera")
    made = api.client.post(
        f"{API}/cases", json={"name": "Op Lantern", "sharing": "national"}, headers=ana
    )
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "Op Lantern"
    assert (made.json()["agency"], made.json()["sharing"]) == ("Met", "national")

    listed = api.client.get(f"{API}/cases", headers=vera)
    assert listed.status_code == 200, listed.text
    page = listed.json()
    assert page["total"] == 2
    assert [(c["name"], c["agency"]) for c in page["items"]] == [
        ("Op Base", "Met"),
        ("Op Lantern", "Met"),
    ]
    second = api.client.get(
        f"{API}/cases", params={"limit": 1, "offset": 1, "sort": "-name"}, headers=vera
    ).json()
    assert [c["name"] for c in second["items"]] == ["Op Base"] and second["total"] == 2

    series = api.client.post(
        f"{API}/series", json={"name": "Red Door", "case": "Op Base"}, headers=ana
    )
    assert series.status_code == 201, series.text
    shown = api.client.get(f"{API}/cases/{quote('Op Base')}", headers=vera)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["case"]["name"] == "Op Base" and body["case"]["agency"] == "Met"
    assert body["sources"] == ["EX1"] and body["series"] == ["Red Door"]
    empty = api.client.get(f"{API}/cases/{quote('Op Lantern')}", headers=vera).json()
    assert (empty["sources"], empty["series"]) == ([], [])

    assert "viewer" in str(
        problem(api.client.post(f"{API}/cases", json={"name": "Op V"}, headers=vera), 403)
    )
    assert "Nowhere" in str(problem(api.client.get(f"{API}/cases/Nowhere", headers=vera), 404))
    odd = api.client.post(f"{API}/cases", json={"name": "Op Odd", "sharing": "public"}, headers=ana)
    assert "'public'" in str(problem(odd, 422)["detail"])
    again = api.client.post(f"{API}/cases", json={"name": "Op Lantern"}, headers=ana)
    assert "exists already" in str(problem(again, 409)["detail"])
    problem(api.client.post(f"{API}/cases", json={"name": "x" * 201}, headers=ana), 422)
    after = api.client.get(f"{API}/cases", headers=vera).json()
    assert after["total"] == 2  # none of the refused requests made a case


def test_a_case_of_another_agency_is_found_only_when_shared(api: Api, seized: Seized) -> None:
    add_agency(api.ctx, "Polizei", "de")
    until = date.today() + timedelta(days=365)
    add_user(api.ctx, "dora", "Polizei", Role.ANALYST, until, PASSWORD)
    dora = {"Authorization": f"Bearer {token_of(api, 'dora')}"}
    ana = as_(api, "ana")
    for name, sharing in (("Op National", "national"), ("Op World", "international")):
        made = api.client.post(f"{API}/cases", json={"name": name, "sharing": sharing}, headers=ana)
        assert made.status_code == 201, made.text
    api.client.post(f"{API}/series", json={"name": "Mine", "case": "Op World"}, headers=ana)

    hidden = api.client.get(f"{API}/cases/{quote('Op Base')}", headers=dora)
    assert problem(hidden, 404)["detail"] == "no case named 'Op Base': add it first"
    problem(api.client.get(f"{API}/cases/{quote('Op National')}", headers=dora), 404)  # GB only
    shared = api.client.get(f"{API}/cases/{quote('Op World')}", headers=dora)
    assert shared.status_code == 200, shared.text
    assert shared.json()["case"]["agency"] == "Met"
    assert shared.json()["series"] == []  # the series itself is shared with Met only
    listed = api.client.get(f"{API}/cases", headers=dora).json()
    assert [c["name"] for c in listed["items"]] == ["Op World"]
    mine = api.client.get(f"{API}/cases/{quote('Op World')}", headers=ana).json()
    assert mine["series"] == ["Mine"]


# --- series ---------------------------------------------------------------------------------


def test_series_gathers_media_and_changes_status(api: Api, seized: Seized) -> None:
    ana, vera = as_(api, "ana"), as_(api, "vera")
    first, second, _ = seized.sha256
    made = api.client.post(
        f"{API}/series",
        json={"name": "Blue Room", "sharing": "international", "notes": "bedroom, blue walls"},
        headers=ana,
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "unidentified" and made.json()["created_by"] == "ana"
    url = f"{API}/series/{quote('Blue Room')}"

    added = api.client.post(f"{url}/media", json={"sha256": first}, headers=ana)
    assert added.status_code == 200, added.text
    assert [m["sha256"] for m in added.json()["media"]] == [first]
    hinted = api.client.post(
        f"{url}/media", json={"sha256": second.upper(), "how": "suggestion"}, headers=ana
    )
    assert [(m["sha256"], m["how"]) for m in hinted.json()["media"]] == [
        (first, "manual"),
        (second, "suggestion"),
    ]
    shown = api.client.get(url, headers=vera)
    assert shown.status_code == 200, shown.text
    assert shown.json()["series"]["media"] == 2
    assert [m["added_by"] for m in shown.json()["media"]] == ["ana", "ana"]

    changed = api.client.patch(url, json={"status": "closed", "notes": "done"}, headers=ana)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["status"], changed.json()["notes"]) == ("closed", "done")
    assert changed.json()["sharing"] == "international"  # left out: unchanged
    listed = api.client.get(f"{API}/series", headers=vera)
    assert listed.status_code == 200, listed.text
    assert [(s["name"], s["status"], s["media"]) for s in listed.json()["items"]] == [
        ("Blue Room", "closed", 2)
    ]

    removed = api.client.delete(f"{url}/media/{first}", headers=ana)
    assert removed.status_code == 200, removed.text
    assert [m["sha256"] for m in removed.json()["media"]] == [second]
    assert [m.sha256 for m in show_series(api.ctx, "Blue Room").media] == [second]

    problem(api.client.patch(url, json={"status": "closed"}, headers=vera), 403)
    problem(api.client.delete(f"{url}/media/{second}", headers=vera), 403)
    bad = api.client.patch(url, json={"status": "solved"}, headers=ana)
    assert "'solved'" in str(problem(bad, 422)["detail"])
    problem(api.client.patch(url, json={"colour": "red"}, headers=ana), 422)
    problem(api.client.get(f"{API}/series/Nowhere", headers=vera), 404)
    unknown = api.client.post(f"{url}/media", json={"sha256": "ab" * 32}, headers=ana)
    assert "no stored media" in str(problem(unknown, 404)["detail"])
    problem(api.client.post(f"{url}/media", json={"sha256": "not hex"}, headers=ana), 422)
    problem(api.client.post(f"{url}/media", json={"sha256": first, "how": "x"}, headers=ana), 422)
    twice = api.client.post(f"{API}/series", json={"name": "Blue Room"}, headers=ana)
    problem(twice, 409)
    nocase = api.client.post(f"{API}/series", json={"name": "Grey", "case": "Nope"}, headers=ana)
    problem(nocase, 404)
    assert [m.sha256 for m in show_series(api.ctx, "Blue Room").media] == [second]


# --- victims and offenders ------------------------------------------------------------------


def test_victims_are_recorded_identified_and_their_details_kept_from_viewers(
    api: Api, seized: Seized
) -> None:
    ana, vera, root = as_(api, "ana"), as_(api, "vera"), as_(api, "root")
    api.client.post(f"{API}/series", json={"name": "Blue Room"}, headers=ana)
    made = api.client.post(
        f"{API}/victims",
        json={
            "personal": {"name": "Jane Example", "birth_year": 2014, "notes": "school uniform"},
            "series": ["Blue Room"],
            "media": [seized.sha256[0]],
        },
        headers=ana,
    )
    assert made.status_code == 201, made.text
    victim = made.json()
    code = victim["code"]
    assert code == f"V-{datetime.now(UTC).year}-0001"
    assert victim["personal"] == {
        "name": "Jane Example",
        "birth_year": 2014,
        "notes": "school uniform",
    }
    assert (victim["series"], victim["media"]) == (["Blue Room"], [seized.sha256[0]])
    assert victim["identified"] is False

    as_analyst = api.client.get(f"{API}/victims/{code}", headers=ana)
    assert as_analyst.status_code == 200 and as_analyst.json()["personal"]["name"] == "Jane Example"
    as_viewer = api.client.get(f"{API}/victims/{code}", headers=vera)
    assert as_viewer.status_code == 200 and as_viewer.json()["personal"] is None
    assert "Jane" not in as_viewer.text
    listed = api.client.get(f"{API}/victims", headers=vera)
    assert listed.status_code == 200, listed.text
    assert [(v["code"], v["personal"]) for v in listed.json()["items"]] == [(code, None)]
    assert "Jane" not in listed.text
    # Nor does the audit trail hold the name: only the code's use cases and their targets.
    assert "Jane" not in str([e.model_dump() for e in list_events(api.ctx).events])

    problem(api.client.post(f"{API}/victims/{code}/identify", json={}, headers=vera), 403)
    identified = api.client.post(
        f"{API}/victims/{code}/identify", json={"on": "2026-03-01"}, headers=ana
    )
    assert identified.status_code == 200, identified.text
    body = identified.json()
    assert body["identified"] is True
    assert (body["identified_by"], body["identified_country"], body["identified_on"]) == (
        "Met",
        "GB",
        "2026-03-01",
    )
    assert show_victim(api.ctx, code).identified_on == date(2026, 3, 1)
    series = api.client.get(f"{API}/series/{quote('Blue Room')}", headers=vera).json()
    assert series["series"]["status"] == "victim_identified"

    again = api.client.post(f"{API}/victims/{code}/identify", json={}, headers=root)
    assert "identified already" in str(problem(again, 409)["detail"])
    problem(api.client.get(f"{API}/victims/V-1999-0042", headers=vera), 404)
    problem(api.client.post(f"{API}/victims/V-1999-0042/identify", json={}, headers=ana), 404)
    old = api.client.post(f"{API}/victims", json={"personal": {"birth_year": 1800}}, headers=ana)
    assert "1800" in str(problem(old, 422)["detail"])
    problem(api.client.post(f"{API}/victims", json={}, headers=vera), 403)
    problem(api.client.post(f"{API}/victims", json={"series": ["Nope"]}, headers=ana), 404)
    assert api.client.get(f"{API}/victims", headers=vera).json()["total"] == 1


def test_offenders_are_recorded_and_identified_apart_from_victims(api: Api, seized: Seized) -> None:
    ana, vera = as_(api, "ana"), as_(api, "vera")
    api.client.post(f"{API}/series", json={"name": "Garage"}, headers=ana)
    made = api.client.post(
        f"{API}/offenders",
        json={"personal": {"name": "John Example"}, "series": ["Garage"]},
        headers=ana,
    )
    assert made.status_code == 201, made.text
    code = made.json()["code"]
    assert code.startswith("O-") and made.json()["kind"] == "offender"
    shown = api.client.get(f"{API}/offenders/{code}", headers=vera)
    assert shown.status_code == 200 and shown.json()["personal"] is None
    assert api.client.get(f"{API}/offenders/{code}", headers=ana).json()["personal"] == {
        "name": "John Example",
        "birth_year": None,
        "notes": None,
    }
    problem(api.client.get(f"{API}/victims/{code}", headers=vera), 404)  # not a victim

    identified = api.client.post(
        f"{API}/offenders/{code}/identify",
        json={"country": "de", "on": "2026-02-14"},
        headers=ana,
    )
    assert identified.status_code == 200, identified.text
    assert identified.json()["identified_country"] == "DE"
    listed = api.client.get(f"{API}/offenders", headers=vera)
    assert listed.status_code == 200, listed.text
    assert [(o["code"], o["identified"], o["identified_on"]) for o in listed.json()["items"]] == [
        (code, True, "2026-02-14")
    ]
    assert api.client.get(f"{API}/victims", headers=vera).json()["total"] == 0
    garage = api.client.get(f"{API}/series/Garage", headers=vera).json()["series"]
    assert garage["status"] == "offender_identified"
    problem(api.client.post(f"{API}/offenders", json={}, headers=vera), 403)
    bad = api.client.post(f"{API}/offenders/{code}/identify", json={"on": "yesterday"}, headers=ana)
    problem(bad, 422)


# --- locations, clues, annotations ----------------------------------------------------------


def test_locations_are_recorded_and_listed(api: Api) -> None:
    ana, vera = as_(api, "ana"), as_(api, "vera")
    made = api.client.post(
        f"{API}/locations",
        json={"name": "Harbour Hotel", "country": "gb", "lat": 50.72, "lon": -1.88},
        headers=ana,
    )
    assert made.status_code == 201, made.text
    assert (made.json()["country"], made.json()["lat"], made.json()["created_by"]) == (
        "GB",
        50.72,
        "ana",
    )
    api.client.post(f"{API}/locations", json={"name": "Attic"}, headers=ana)
    listed = api.client.get(f"{API}/locations", headers=vera)
    assert listed.status_code == 200, listed.text
    assert [(loc["name"], loc["lon"]) for loc in listed.json()["items"]] == [
        ("Attic", None),
        ("Harbour Hotel", -1.88),
    ]
    found = api.client.get(f"{API}/locations", params={"q": "hotel"}, headers=vera).json()
    assert [loc["name"] for loc in found["items"]] == ["Harbour Hotel"]

    half = api.client.post(f"{API}/locations", json={"name": "X", "lat": 1.0}, headers=ana)
    assert "both" in str(problem(half, 422)["detail"])
    far = api.client.post(f"{API}/locations", json={"name": "X", "lat": 91, "lon": 0}, headers=ana)
    problem(far, 422)
    problem(api.client.post(f"{API}/locations", json={"name": "X"}, headers=vera), 403)
    assert api.client.get(f"{API}/locations", headers=vera).json()["total"] == 2


def test_clues_are_boxed_filtered_and_resolved(api: Api, seized: Seized) -> None:
    ana, vera = as_(api, "ana"), as_(api, "vera")
    first, second, _ = seized.sha256
    logo = api.client.post(
        f"{API}/clues",
        json={"sha256": first, "kind": "logo", "box": [10, 20, 30, 40], "note": "hotel logo"},
        headers=ana,
    )
    assert logo.status_code == 201, logo.text
    assert (logo.json()["box"], logo.json()["status"], logo.json()["agency"]) == (
        [10, 20, 30, 40],
        "open",
        "Met",
    )
    text = api.client.post(f"{API}/clues", json={"sha256": second, "kind": "text"}, headers=ana)
    assert text.status_code == 201 and text.json()["box"] is None

    moved = api.client.post(
        f"{API}/clues/{logo.json()['id']}/status", json={"status": "resolved"}, headers=ana
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "resolved"

    every = api.client.get(f"{API}/clues", headers=vera)
    assert every.status_code == 200, every.text
    assert [c["kind"] for c in every.json()["items"]] == ["logo", "text"]
    resolved = api.client.get(f"{API}/clues", params={"status": "resolved"}, headers=vera)
    assert [c["id"] for c in resolved.json()["items"]] == [logo.json()["id"]]
    of_second = api.client.get(f"{API}/clues", params={"sha256": second}, headers=vera)
    assert [c["kind"] for c in of_second.json()["items"]] == ["text"]

    problem(api.client.get(f"{API}/clues", params={"status": "lost"}, headers=vera), 422)
    problem(api.client.get(f"{API}/clues", params={"sha256": "ab" * 32}, headers=vera), 404)
    problem(
        api.client.post(f"{API}/clues/999999/status", json={"status": "open"}, headers=ana), 404
    )
    problem(api.client.post(f"{API}/clues/0/status", json={"status": "open"}, headers=ana), 422)
    flat = api.client.post(
        f"{API}/clues", json={"sha256": first, "kind": "logo", "box": [0, 0, 0, 5]}, headers=ana
    )
    problem(flat, 422)
    problem(
        api.client.post(f"{API}/clues", json={"sha256": first, "kind": "odour"}, headers=ana), 422
    )
    problem(
        api.client.post(f"{API}/clues", json={"sha256": first, "kind": "logo"}, headers=vera), 403
    )
    problem(
        api.client.post(
            f"{API}/clues/{logo.json()['id']}/status", json={"status": "open"}, headers=vera
        ),
        403,
    )
    assert api.client.get(f"{API}/clues", headers=vera).json()["total"] == 2


def test_annotations_are_left_on_a_target_and_read_back(api: Api, seized: Seized) -> None:
    ana, vera = as_(api, "ana"), as_(api, "vera")
    series = api.client.post(f"{API}/series", json={"name": "Blue Room"}, headers=ana).json()
    made = api.client.post(
        f"{API}/annotations",
        json={"kind": "series", "id": series["id"], "text": "same wallpaper as EX9"},
        headers=ana,
    )
    assert made.status_code == 201, made.text
    assert (made.json()["target_kind"], made.json()["author"]) == ("series", "ana")
    api.client.post(
        f"{API}/annotations",
        json={"kind": "series", "id": series["id"], "text": "checked"},
        headers=as_(api, "root"),
    )
    api.client.post(
        f"{API}/annotations", json={"kind": "case", "id": series["id"], "text": "x"}, headers=ana
    )
    read = api.client.get(
        f"{API}/annotations", params={"kind": "series", "id": series["id"]}, headers=vera
    )
    assert read.status_code == 200, read.text
    assert [(a["text"], a["author"]) for a in read.json()["items"]] == [
        ("same wallpaper as EX9", "ana"),
        ("checked", "root"),
    ]
    none = api.client.get(f"{API}/annotations", params={"kind": "clue", "id": 1}, headers=vera)
    problem(none, 404)  # no such clue: notes hang on things that exist and are seen

    problem(api.client.get(f"{API}/annotations", params={"kind": "series"}, headers=vera), 422)
    odd = api.client.get(f"{API}/annotations", params={"kind": "planet", "id": 1}, headers=vera)
    assert "'planet'" in str(problem(odd, 422)["detail"])
    blank = {"kind": "series", "id": series["id"], "text": "   "}
    problem(api.client.post(f"{API}/annotations", json=blank, headers=ana), 422)
    note = {"kind": "series", "id": series["id"], "text": "mine"}
    problem(api.client.post(f"{API}/annotations", json=note, headers=vera), 403)
    again = api.client.get(
        f"{API}/annotations", params={"kind": "series", "id": series["id"]}, headers=vera
    )
    assert again.json()["total"] == 2


# --- categories -----------------------------------------------------------------------------


def test_a_category_is_agreed_once_enough_analysts_vote_alike(api: Api, seized: Seized) -> None:
    until = date.today() + timedelta(days=365)
    add_user(api.ctx, "bo", "Met", Role.ANALYST, until, PASSWORD)
    bo = {
        "Authorization": f"Bearer {create_token(api.ctx, 'bo', 't', 30, ['read', 'write']).secret}"
    }
    ana, root, vera = as_(api, "ana"), as_(api, "root"), as_(api, "vera")
    sha = seized.sha256[0]
    url = f"{API}/media/{sha}"
    before = api.client.get(f"{url}/category", params={"scheme": "UK-CAID"}, headers=vera)
    assert before.status_code == 200, before.text
    assert (before.json()["agreed"], before.json()["tally"], before.json()["needed"]) == (
        None,
        {},
        3,
    )

    for headers, category in ((ana, "B"), (root, "B"), (bo, "C")):
        voted = api.client.post(
            f"{url}/votes", json={"scheme": "UK-CAID", "category": category}, headers=headers
        )
        assert voted.status_code == 200, voted.text
    assert voted.json()["tally"] == {"B": 2, "C": 1} and voted.json()["agreed"] is None
    changed = api.client.post(
        f"{url}/votes", json={"scheme": "UK-CAID", "category": "B"}, headers=bo
    )
    assert changed.json()["agreed"] == "B"
    shown = api.client.get(f"{url}/category", params={"scheme": "UK-CAID"}, headers=vera).json()
    assert shown["agreed"] == "B" and shown["tally"] == {"B": 3}
    assert sorted(v["voter"] for v in shown["votes"]) == ["ana", "bo", "root"]
    other = api.client.get(f"{url}/category", params={"scheme": "US"}, headers=vera).json()
    assert other["agreed"] is None and other["votes"] == []

    vote = {"scheme": "UK-CAID", "category": "A"}
    problem(api.client.post(f"{url}/votes", json=vote, headers=vera), 403)
    problem(api.client.get(f"{url}/category", headers=vera), 422)  # which scheme?
    unknown = f"{API}/media/{'cd' * 32}"
    problem(api.client.post(f"{unknown}/votes", json=vote, headers=ana), 404)
    problem(api.client.get(f"{unknown}/category", params={"scheme": "US"}, headers=vera), 404)
    problem(
        api.client.post(f"{url}/votes", json={"scheme": " ", "category": "A"}, headers=ana), 422
    )
    final = api.client.get(f"{url}/category", params={"scheme": "UK-CAID"}, headers=vera).json()
    assert final["tally"] == {"B": 3}


# --- end to end -----------------------------------------------------------------------------


def test_a_victim_identified_over_the_api_reaches_the_triage_of_another_seizure(
    api: Api, seized: Seized, tmp_path: Path
) -> None:
    ana = as_(api, "ana")
    assert api.client.post(f"{API}/series", json={"name": "Blue Room"}, headers=ana).is_success
    added = api.client.post(
        f"{API}/series/{quote('Blue Room')}/media", json={"sha256": seized.sha256[0]}, headers=ana
    )
    assert added.status_code == 200, added.text
    victim = api.client.post(f"{API}/victims", json={"series": ["Blue Room"]}, headers=ana)
    assert victim.status_code == 201, victim.text
    code = victim.json()["code"]
    identified = api.client.post(
        f"{API}/victims/{code}/identify",
        json={"agency": "Met", "country": "GB", "on": "2026-03-01"},
        headers=ana,
    )
    assert identified.status_code == 200, identified.text

    second = tmp_path / "ex2"
    second.mkdir()
    shutil.copy(seized.pictures[0], second / "copy.jpg")  # in the identified series
    shutil.copy(seized.pictures[1], second / "other.jpg")  # known, but in no series
    write_jpeg(second / "fresh.jpg", 99)
    ingest_source(api.ctx, second, "EX2", case="Op Base", workers=1, signals=("pdq",))

    triage = api.client.get(f"{API}/sources/EX2/triage", headers=as_(api, "vera"))
    assert triage.status_code == 200, triage.text
    items = {item["path"].rsplit("/", 1)[-1]: item for item in triage.json()["items"]}
    assert items["copy.jpg"]["verdict"] == "known"
    reason = items["copy.jpg"]["reasons"][0]
    assert reason["series"] == "Blue Room"
    assert reason["identified"] == "victim identified by Met, GB, 2026-03-01"
    other = items["other.jpg"]["reasons"][0]
    assert other["series"] is None and "identified" not in other
    assert items["fresh.jpg"]["verdict"] == "new"


def test_a_series_suggests_what_its_media_link_to_and_takes_it_as_a_suggestion(
    api: Api, seized: Seized, tmp_path: Path
) -> None:
    ana = as_(api, "ana")
    grey = transformed(seized.pictures[0], tmp_path / "more" / "grey.jpg", "grey")
    ingest_source(api.ctx, grey.parent, "EX3", case="Op Base", workers=1, signals=("pdq",))
    grey_sha = hashlib.sha256(grey.read_bytes()).hexdigest()
    api.client.post(f"{API}/series", json={"name": "Kitchen"}, headers=ana)
    api.client.post(f"{API}/series/Kitchen/media", json={"sha256": seized.sha256[0]}, headers=ana)
    offered = api.client.get(f"{API}/series/Kitchen/suggestions", headers=ana)
    assert offered.status_code == 200, offered.text
    suggestions = offered.json()["suggestions"]
    assert [s["link"]["sha256"] for s in suggestions] == [grey_sha]
    assert suggestions[0]["member"] == seized.sha256[0] and suggestions[0]["link"]["by"] == "pdq"
    taken = api.client.post(
        f"{API}/series/Kitchen/media", json={"sha256": grey_sha, "how": "suggestion"}, headers=ana
    )
    assert [m["how"] for m in taken.json()["media"]] == ["manual", "suggestion"]
    after = api.client.get(f"{API}/series/Kitchen/suggestions", headers=ana).json()
    assert after["suggestions"] == []
    problem(api.client.get(f"{API}/series/Nope/suggestions", headers=ana), 404)


def test_a_case_is_shared_wider_by_its_owner_only(api: Api, seized: Seized) -> None:
    from vident.service.agencies import add_agency
    from vident.service.users import add_user

    ana = as_(api, "ana")
    add_agency(api.ctx, "BKA", "DE")
    add_user(api.ctx, "bo", "BKA", Role.ANALYST, date.today() + timedelta(days=9), PASSWORD)
    bo = {"Authorization": f"Bearer {token_of(api, 'bo')}"}
    problem(api.client.get(f"{API}/cases/Op Base", headers=bo), 404)
    problem(api.client.patch(f"{API}/cases/Op Base", json={"sharing": "agency"}, headers=bo), 404)
    shared = api.client.patch(
        f"{API}/cases/Op Base", json={"sharing": "international"}, headers=ana
    )
    assert shared.status_code == 200 and shared.json()["sharing"] == "international"
    seen = api.client.get(f"{API}/cases/Op Base", headers=bo)
    assert seen.status_code == 200 and seen.json()["sources"] == ["EX1"]
    problem(api.client.patch(f"{API}/cases/Op Base", json={"sharing": "agency"}, headers=bo), 403)
    problem(api.client.patch(f"{API}/cases/Op Base", json={"sharing": "world"}, headers=ana), 422)
    problem(
        api.client.patch(
            f"{API}/cases/Op Base", json={"sharing": "agency"}, headers=as_(api, "vera")
        ),
        403,
    )
