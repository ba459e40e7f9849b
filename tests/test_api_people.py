"""People through the REST API: the paged list and every analyst decision, on both stores.

Faces are the synthetic ones of the people use-case tests (tight clusters of unit vectors
stored under the configured face model), clustered by the service; each decision made over
HTTP is read back through the API.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api_support import API, Api, api_over, problem
from tests.test_service_people import add_picture, faces_of, owner
from vident.config import Settings
from vident.service.people import cluster_people


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    with api_over(settings) as made:
        yield made


@pytest.fixture
def two_people(api: Api) -> tuple[list[int], list[int]]:
    """Face ids of two person candidates: three faces in source A, three in A and B."""
    with api.ctx.store.session() as session:
        a = [add_picture(session, "A", v) for v in faces_of(0, 3)]
        b = [add_picture(session, s, v) for s, v in zip("ABB", faces_of(1, 3), strict=True)]
    assert cluster_people(api.ctx).new_persons == 2
    return a, b


def _faces(api: Api, person: int) -> set[int]:
    shown = api.client.get(f"{API}/people/{person}", headers=api.bearer("vera"))
    assert shown.status_code == 200, shown.text
    return {face["id"] for face in shown.json()["faces"]}


def test_people_are_listed_a_page_at_a_time(
    api: Api, two_people: tuple[list[int], list[int]]
) -> None:
    pa, pb = owner(api.ctx, two_people[0]), owner(api.ctx, two_people[1])
    first = api.client.get(
        f"{API}/people", params={"limit": 1, "sort": "-id"}, headers=api.bearer("vera")
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["total"], body["offset"], body["limit"]) == (2, 0, 1)
    assert [p["id"] for p in body["items"]] == [max(pa, pb)]
    second = api.client.get(
        f"{API}/people", params={"offset": 1, "sort": "-id"}, headers=api.bearer("vera")
    ).json()
    assert [p["id"] for p in second["items"]] == [min(pa, pb)]
    assert second["items"][0]["faces"] == 3
    many = api.client.get(f"{API}/people", params={"min_faces": 4}, headers=api.bearer("vera"))
    assert many.json()["total"] == 0
    bad_sort = api.client.get(f"{API}/people", params={"sort": "x"}, headers=api.bearer("vera"))
    assert "cannot sort by 'x'" in str(problem(bad_sort, 422)["detail"])


def test_an_analyst_merges_and_splits_people(
    api: Api, two_people: tuple[list[int], list[int]]
) -> None:
    a, b = two_people
    pa, pb = owner(api.ctx, a), owner(api.ctx, b)
    denied = api.client.post(
        f"{API}/people/{pa}/merge", json={"people": [pb]}, headers=api.bearer("vera")
    )
    assert problem(denied, 403)
    assert api.client.get(f"{API}/people", headers=api.bearer("vera")).json()["total"] == 2

    merged = api.client.post(
        f"{API}/people/{pa}/merge", json={"people": [pb]}, headers=api.bearer("ana")
    )
    assert merged.status_code == 200, merged.text
    assert merged.json() == {
        "action": "merge",
        "person": pa,
        "faces": [],
        "label": None,
        "actor": "ana",
    }
    listed = api.client.get(f"{API}/people", headers=api.bearer("vera")).json()
    assert [(p["id"], p["faces"]) for p in listed["items"]] == [(pa, 6)]
    assert _faces(api, pa) == {*a, *b}

    split = api.client.post(
        f"{API}/people/{pa}/split", json={"faces": b}, headers=api.bearer("ana")
    )
    assert split.status_code == 200, split.text
    new = split.json()["person"]
    assert new != pa and split.json()["faces"] == b and split.json()["action"] == "split"
    assert _faces(api, new) == set(b) and _faces(api, pa) == set(a)

    unknown = api.client.post(
        f"{API}/people/{pa}/merge", json={"people": [987654]}, headers=api.bearer("ana")
    )
    assert problem(unknown, 404)["detail"] == "no person 987654"
    itself = api.client.post(
        f"{API}/people/{pa}/merge", json={"people": [pa]}, headers=api.bearer("ana")
    )
    assert "two or more" in str(problem(itself, 422)["detail"])
    assert problem(
        api.client.post(f"{API}/people/{pa}/split", json={"faces": []}, headers=api.bearer("ana")),
        422,
    )


def test_an_analyst_rejects_a_face_and_moves_it_back(
    api: Api, two_people: tuple[list[int], list[int]]
) -> None:
    a, b = two_people
    pa, pb = owner(api.ctx, a), owner(api.ctx, b)
    assert problem(api.client.post(f"{API}/faces/{a[0]}/reject", headers=api.bearer("vera")), 403)
    rejected = api.client.post(f"{API}/faces/{a[0]}/reject", headers=api.bearer("ana"))
    assert rejected.status_code == 200, rejected.text
    assert (rejected.json()["action"], rejected.json()["person"]) == ("reject", None)
    assert rejected.json()["faces"] == [a[0]]
    assert _faces(api, pa) == set(a[1:])

    moved = api.client.post(
        f"{API}/faces/{a[0]}/move", json={"person": pb}, headers=api.bearer("ana")
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["action"], moved.json()["person"]) == ("move", pb)
    assert _faces(api, pb) == {a[0], *b}

    lost = api.client.post(f"{API}/faces/987654/reject", headers=api.bearer("ana"))
    assert problem(lost, 404)["detail"] == "no face 987654"
    nowhere = api.client.post(
        f"{API}/faces/{a[1]}/move", json={"person": 987654}, headers=api.bearer("ana")
    )
    assert problem(nowhere, 404)
    assert problem(
        api.client.post(f"{API}/faces/{a[1]}/move", json={}, headers=api.bearer("ana")), 422
    )
