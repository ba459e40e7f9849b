"""``similar`` and ``related``: the finders of :mod:`vident.match.links` put together.

``similar`` ranks stored media by one kind of likeness to a query (best first, top K).
``related`` gathers every *strong* link of a stored media: the ones an analyst should follow
(a duplicate, the same face, the same place, the same camera body, the same printed text).
Triage's ``related`` verdict uses the same strong links, limited to earlier material.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from vident.cases.people import CLUSTER_MIN_QUALITY
from vident.match.geometry import describe
from vident.match.links import Link, Linker, best_per_media, describe_media, frame_times
from vident.match.probe import Probe
from vident.signals.face import Face
from vident.signals.registry import get

#: What ``vident similar --by`` accepts.
BY_CHOICES = ("pdq", "face", "scene", "text", "camera")
#: Link kinds strong enough for ``related`` and the triage verdict.
STRONG_SCENE_RELATIONS = frozenset({"duplicate", "same_scene"})


def camera_links(linker: Linker, probe: Probe) -> list[Link]:
    """Same body serial, same make and model, same GPS place, same time and place."""
    from vident.match import camera

    session = linker.session
    if probe.media_id is not None:
        found: list[Any] = camera.camera_links(session, probe.media_id)
    elif probe.exif is not None:
        found = list(camera.camera_links_for_file(probe.exif, session))
    else:
        found = []
    links = [Link(r.media_id, r.by, float(r.score), dict(r.detail)) for r in found]
    return best_per_media(link for link in links if link.media_id != probe.media_id)


def text_links(linker: Linker, probe: Probe, limit: int = 50) -> list[Link]:
    """Media whose recognised text shares the query's distinctive words or lines."""
    from vident.match import text_search

    session = linker.session
    if probe.media_id is not None:
        hits: list[Any] = list(text_search.shared_text(session, probe.media_id))
        links = [Link(h.media_id, "text", float(h.score), dict(h.detail)) for h in hits]
    else:
        # A file from outside: each line it shows (a sign, a school name) is a phrase query.
        links = []
        for _, text in probe.text:
            for line in text.splitlines():
                words = [w for w in line.split() if any(c.isalnum() for c in w)]
                if len(words) < 2:
                    continue
                phrase = " ".join(w.strip("\"'*:-") for w in words)
                for hit in text_search.search_text(session, phrase, limit=limit):
                    links.append(
                        Link(
                            hit.media_id,
                            "text",
                            0.5 + 0.5 * min(1.0, len(words) / 6),
                            {"text": hit.snippet, "line": line},
                            hit.frame,
                        )
                    )
    return best_per_media(link for link in links if link.media_id != probe.media_id)


def similar(linker: Linker, probe: Probe, by: str | None, top: int) -> list[Link]:
    """The ``top`` stored media most like the query, by one kind of likeness or by all."""
    kinds = [by] if by else list(BY_CHOICES)
    links: list[Link] = []
    for kind in kinds:
        if kind == "pdq":
            if probe.is_video:
                links += linker.video(probe)
            else:
                links += linker.pdq(probe) + linker.crops(probe)
        elif kind == "face":
            links += linker.faces(probe)
        elif kind == "scene":
            links += linker.scene(probe, top)
        elif kind == "text":
            links += text_links(linker, probe)
        elif kind == "camera":
            links += camera_links(linker, probe)
        else:
            raise ValueError(f"unknown --by {kind!r}; choose from {', '.join(BY_CHOICES)}")
    ranked = sorted(best_per_media(links), key=lambda link: -link.score)
    return ranked[:top]


def is_strong(link: Link) -> bool:
    """Whether a link is worth an analyst's time on its own."""
    if link.by in {"pdq", "keypoints", "person", "serial", "sha256", "time_place"}:
        return True
    if link.by == "vpdq":
        return bool(link.detail.get("matched"))
    if link.by == "face":
        face = get("face")
        assert isinstance(face, Face)
        qualities = (link.detail.get("quality"), link.detail.get("query_quality"))
        good = all(q is None or q >= CLUSTER_MIN_QUALITY for q in qualities)
        return good and link.score >= face.cluster_similarity
    if link.by == "scene":
        return link.detail.get("relation") in STRONG_SCENE_RELATIONS
    if link.by == "gps":
        return True
    if link.by == "text":
        return link.score >= 0.5
    return False


def verdict_of(link: Link) -> str | None:
    """The triage verdict this link alone gives a query no hash matched: ``near`` for a copy
    (PDQ, a verified crop, containment or turn, a matching video), ``related`` for another
    strong link, None for a weak one. ``similar`` shows it beside each result, so the
    likeness ranking and the triage say the same of the same pair."""
    duplicate = link.detail.get("relation") == "duplicate"
    if link.by in {"pdq", "keypoints"} or (link.by == "scene" and duplicate):
        return "near"
    if link.by == "vpdq" and link.detail.get("matched"):
        return "near"
    return "related" if is_strong(link) else None


def related(linker: Linker, probe: Probe) -> list[Link]:
    """Every strong link of a stored media, strongest first, one per media and kind."""
    links: list[Link] = []
    links += linker.video(probe) if probe.is_video else linker.pdq(probe) + linker.crops(probe)
    links += linker.faces(probe) + linker.person(probe)
    links += [link for link in linker.scene(probe) if link.detail.get("relation") != "duplicate"]
    links += camera_links(linker, probe) + text_links(linker, probe)
    return [link for link in best_per_media(links) if is_strong(link)]


def records(session: Session, links: Iterable[Link]) -> list[dict[str, Any]]:
    """JSON-ready results: the linked media's hash, first path and source, and the evidence."""
    chosen = list(links)
    refs = describe_media(session, (link.media_id for link in chosen))
    times = frame_times(session, ((link.media_id, link.frame) for link in chosen))
    results = []
    for link in chosen:
        ref = refs.get(link.media_id)
        if ref is None:
            continue
        detail = dict(link.detail)
        if link.frame:
            detail["frame"] = link.frame
            if (ts := times.get((link.media_id, link.frame))) is not None:
                detail["ts"] = round(ts, 3)
        results.append(
            {
                "sha256": ref.sha256.hex(),
                "path": ref.path,
                "source": ref.source,
                "type": ref.media_type,
                "by": link.by,
                "score": round(link.score, 4),
                "verdict": verdict_of(link),
                "where": describe(link.detail),
                "detail": detail,
            }
        )
    return results
