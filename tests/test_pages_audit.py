"""The audit trail page, rendered by the real app over a real SQLite store.

An auditor filters the events (actor, action, outcome, date range), pages through them newest
first, and reads the chain check: intact with its count, or where it breaks once an event is
altered in the store behind vident's back. Names carrying markup show as text.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from tests.api_support import INLINE_SCRIPT
from tests.test_pages_admin import HOSTILE_AGENCY, OPERATOR, Site, site
from vident.service.audit import verify_trail
from vident.store.models_security import AuditEvent
from vident.web.pages import admin

__all__ = ["site"]

#: Users the setup adds (five accounts and four that never sign in).
ADDED = 9


def _actions(html: str) -> list[str]:
    return re.findall(r"<td data-action>([^<]*)</td>", html)


def _event_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-event="(\d+)">', html)]


def _total(html: str) -> int:
    match = re.search(r"(\d+) events, newest first", html)
    assert match is not None
    return int(match.group(1))


def test_only_auditors_and_system_admins_read_the_trail(site: Site) -> None:
    for who in ("ana", "adam", "vera"):
        status, html = site.status(who, "/audit")
        assert status == 403, who
        assert "The audit trail is for auditors and system administrators only" in html
        assert 'href="/audit"' not in site.get(who, "/")
    assert "Chain check" in site.get("audrey", "/audit")
    assert "Chain check" in site.get("root", "/audit")
    # The refusals are in the trail, and the auditor can find them.
    denied = site.get("audrey", "/audit?outcome=denied&action=audit.list")
    rows = re.findall(r"<td>(\w+) <span class=\"muted\">\(user\)</span></td>", denied)
    assert {"ana", "adam", "vera"} <= set(rows)
    assert set(re.findall(r'<td class="outcome-(\w+)">', denied)) == {"denied"}


def test_the_chain_check_says_intact_and_how_many_events(site: Site) -> None:
    html = site.get("audrey", "/audit")
    verdict = verify_trail(site.ctx)  # verifying appends nothing
    assert verdict.intact
    assert f"Chain intact: {verdict.count} events." in html
    assert verdict.head_hash in html
    assert "chain-broken" not in html


def test_an_altered_event_shows_where_the_chain_breaks(site: Site) -> None:
    with site.ctx.store.session() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "agency.add").order_by(AuditEvent.id)
        ).first()
        assert event is not None
        altered, original = event.id, event.target
        event.target = "Someone Else"
    try:
        html = site.get("audrey", "/audit")
        assert "Chain intact" not in html
        assert re.search(
            rf"Chain broken at event {altered} after {altered - 1} intact events", html
        )
        assert 'class="chain chain-broken" role="alert"' in html
    finally:
        with site.ctx.store.session() as session:
            restored = session.get(AuditEvent, altered)
            assert restored is not None
            restored.target = original
    assert verify_trail(site.ctx).intact


def test_filtering_by_action_and_actor(site: Site) -> None:
    html = site.get("audrey", "/audit?action=user.add")
    assert set(_actions(html)) == {"user.add"} and _total(html) == ADDED
    assert 'name="action" value="user.add"' in html
    assert 'href="/audit">Clear filters' in html
    ids = _event_ids(html)
    assert ids == sorted(ids, reverse=True)  # newest first
    by_operator = site.get("audrey", f"/audit?actor={OPERATOR}&action=user.add")
    assert _total(by_operator) == ADDED
    assert _total(site.get("audrey", "/audit?actor=nobody")) == 0
    assert "No event matches these filters." in site.get("audrey", "/audit?actor=nobody")


def test_an_agency_auditor_reads_their_agency_and_no_agency_only(site: Site) -> None:
    site.status("otto", "/audit")  # otto of another agency is refused: an event of his agency
    mine = site.get("audrey", "/audit?actor=otto")
    assert _total(mine) == 0
    everything = site.get("root", "/audit?actor=otto")
    assert _total(everything) >= 1 and "audit.list" in _actions(everything)


def test_filtering_by_outcome_and_date_range(site: Site) -> None:
    site.status("vera", "/audit")  # one refusal at least
    denied = site.get("audrey", "/audit?outcome=denied")
    assert _total(denied) >= 1
    assert '<option value="denied" selected>' in denied
    assert set(re.findall(r'<td class="outcome-(\w+)">', denied)) == {"denied"}
    everything = _total(site.get("audrey", "/audit"))
    today = date.today()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    assert _total(site.get("audrey", f"/audit?until={yesterday}")) == 0
    assert _total(site.get("audrey", f"/audit?since={tomorrow}")) == 0
    # Each view of the page adds its own audit.list event after reading.
    assert _total(site.get("audrey", f"/audit?since={yesterday}&until={tomorrow}")) > everything
    status, html = site.status("audrey", f"/audit?since={today}&until={yesterday}")
    assert status == 422 and "ends before it starts" in html
    status, html = site.status("audrey", "/audit?outcome=maybe")
    assert status == 422 and "not one of ok, denied, failed" in html
    assert site.status("audrey", "/audit?since=soon")[0] == 422


def test_the_list_pages_and_keeps_its_filters(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin, "PER_PAGE", 4)
    first = site.get("audrey", "/audit?action=user.add")
    second = site.get("audrey", "/audit?action=user.add&page=2")
    last = site.get("audrey", "/audit?action=user.add&page=3")
    assert 'href="/audit?action=user.add&amp;page=2" rel="next"' in first
    assert 'href="/audit?action=user.add&amp;page=1" rel="prev"' in second
    assert "Page 3 of 3" in last and 'rel="next"' not in last
    pages = _event_ids(first) + _event_ids(second) + _event_ids(last)
    assert len(pages) == ADDED and pages == sorted(pages, reverse=True)


def test_hostile_names_in_targets_and_details_show_as_text(site: Site) -> None:
    html = site.get("audrey", "/audit?action=user.add")
    assert "<svg/onload" not in html and "&lt;svg/onload=alert(1)&gt;" in html
    agencies = site.get("audrey", "/audit?action=agency.add")
    assert "<img src=x" not in agencies
    assert HOSTILE_AGENCY.replace("<", "&lt;").replace(">", "&gt;") in agencies
    assert INLINE_SCRIPT.search(agencies) is None
