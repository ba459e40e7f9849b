"""Alerts as use cases: set one on a series or on hashes, see who hit it, acknowledge a hit.

An agency sets an alert to be told when material it watches turns up in another agency's
seizure, on this instance or any connected one (:mod:`vident.exchange.alert_hits`). A hit
names the hitting agency and whom to call there, never its pictures; both ends keep it and
audit it. :func:`scan_alerts` runs after every ingest, sync, remote match and bundle import;
``alert_command`` (a setting), when set, is run once per hit on this instance's alerts with
the hit as JSON on its standard input, to send an e-mail or page someone.
"""

from __future__ import annotations

import shlex
import subprocess
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from vident.exchange.alert_hits import NewHit, scan_hits
from vident.exchange.peer_records import HASH_BYTES, LEVELS
from vident.exchange.shared import Sequence
from vident.service.audit import record_in
from vident.service.context import Context
from vident.service.errors import Invalid, NotFound
from vident.service.peers import load_identity
from vident.service.publishing import publish_if_changed
from vident.service.schemas import Model
from vident.service.scope import check_series
from vident.service.use_case import SEE_MEDIA, WORK_ON_MEDIA, use_case
from vident.store.models_cases import CaseOwner, Series
from vident.store.models_exchange import Alert, AlertHash, AlertHit, SharedRecord
from vident.store.models_security import Agency

#: Hashes one alert may watch besides its series.
MAX_HASHES = 10_000


class AlertOut(Model):
    id: int
    label: str
    series: str | None
    hashes: int
    sharing: str
    agency: str | None
    active: bool
    created_by: str
    created_at: datetime


class AlertListOut(Model):
    alerts: list[AlertOut]


class AlertHitOut(Model):
    """A hit: which alert, whose, and who hit it with which hash (never a picture)."""

    id: int
    alert: str
    label: str
    owner_instance: str
    owner_agency: str | None
    hit_instance: str
    hit_agency: str
    hit_country: str | None
    hit_contact: str | None
    kind: str
    value: str
    at: datetime
    seen_at: datetime | None
    #: True for a hit on one of this instance's alerts (else: one this instance sent).
    mine: bool


class AlertHitListOut(Model):
    hits: list[AlertHitOut]


def _parse_hash(text: str) -> tuple[str, bytes]:
    kind, _, digits = text.strip().lower().partition(":")
    size = HASH_BYTES.get(kind)
    if size is None or kind == "pdq" or len(digits) != 2 * size:
        raise Invalid(f"{text[:80]!r} is not md5:, sha1: or sha256: followed by its hex digits")
    try:
        return kind, bytes.fromhex(digits)
    except ValueError:
        raise Invalid(f"{text[:80]!r} is not hexadecimal") from None


def _out(session: Session, alert: Alert) -> AlertOut:
    series = session.get(Series, alert.series_id) if alert.series_id else None
    agency = session.get(Agency, alert.agency_id) if alert.agency_id else None
    count = len(session.scalars(select(AlertHash.id).where(AlertHash.alert_id == alert.id)).all())
    return AlertOut(
        id=alert.id,
        label=alert.label,
        series=series.name if series else None,
        hashes=count,
        sharing=alert.sharing,
        agency=agency.name if agency else None,
        active=alert.active,
        created_by=alert.created_by,
        created_at=alert.created_at,
    )


@use_case("alert.add", WORK_ON_MEDIA)
def add_alert(
    ctx: Context,
    label: str,
    *,
    series: str | None = None,
    hashes: list[str] | None = None,
    sharing: str = "international",
) -> AlertOut:
    """Watch a series' media and/or hashes (``kind:hex``) for hits by other agencies.

    The watched hashes travel to peers at ``sharing`` (the series' name only if the series
    itself is shared that widely)."""
    label = label.strip()
    if not 0 < len(label) <= 200:
        raise Invalid("an alert needs a label of 1 to 200 characters")
    if sharing not in LEVELS:
        raise Invalid(f"an alert is shared {' or '.join(LEVELS)}")
    watched = [_parse_hash(h) for h in hashes or []]
    if len(watched) > MAX_HASHES:
        raise Invalid(f"an alert watches at most {MAX_HASHES} hashes")
    if series is None and not watched:
        raise Invalid("an alert watches a series (--series) or hashes (--hash)")
    with ctx.store.session() as session:
        series_id = None
        if series is not None:
            row = session.scalar(select(Series).where(Series.name == series))
            if row is None:
                raise NotFound(f"no series {series}")
            series_id = check_series(ctx, session, row).id
            owner = ctx.principal.agency_id or row.agency_id
            if owner is None and row.case_id is not None:  # the operator's alert: the case's
                owner = session.scalar(
                    select(CaseOwner.agency_id).where(CaseOwner.case_id == row.case_id)
                )
        else:
            owner = ctx.principal.agency_id
        alert = Alert(
            agency_id=owner,
            series_id=series_id,
            label=label,
            sharing=sharing,
            active=True,
            created_by=ctx.principal.name,
        )
        session.add(alert)
        session.flush()
        session.add_all(AlertHash(alert_id=alert.id, kind=k, value=v) for k, v in watched)
        session.flush()
        return _out(session, alert)


def _mine(ctx: Context) -> ColumnElement[bool]:
    """Alerts of the principal's agency (all of them for the local operator)."""
    if ctx.principal.agency_id is None:
        return Alert.id.is_not(None)
    return Alert.agency_id == ctx.principal.agency_id


@use_case("alert.list", SEE_MEDIA)
def list_alerts(ctx: Context) -> AlertListOut:
    """The alerts of the caller's agency."""
    with ctx.store.reader() as session:
        rows = session.scalars(select(Alert).where(_mine(ctx)).order_by(Alert.id)).all()
        return AlertListOut(alerts=[_out(session, a) for a in rows])


@use_case("alert.remove", WORK_ON_MEDIA)
def remove_alert(ctx: Context, alert_id: int) -> AlertOut:
    """Stop an alert: its hashes are withdrawn from peers at the next exchange."""
    with ctx.store.session() as session:
        alert = session.scalar(select(Alert).where(Alert.id == alert_id, _mine(ctx)))
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        alert.active = False
        session.flush()
        return _out(session, alert)


def _owned_alerts(ctx: Context, session: Session) -> set[int] | None:
    """Ids of the caller's agency's alerts (None: the local operator, who owns them all)."""
    if ctx.principal.agency_id is None:
        return None
    return set(session.scalars(select(Alert.id).where(Alert.agency_id == ctx.principal.agency_id)))


def _is_mine(row: AlertHit, owned: set[int] | None, me: str) -> bool:
    if owned is None:
        return row.owner_instance == me
    return row.alert_id is not None and row.alert_id in owned


def _hit_out(row: AlertHit, mine: bool) -> AlertHitOut:
    return AlertHitOut(
        id=row.id,
        alert=row.alert_ref,
        label=row.label,
        owner_instance=row.owner_instance,
        owner_agency=row.owner_agency,
        hit_instance=row.hit_instance,
        hit_agency=row.hit_agency,
        hit_country=row.hit_country,
        hit_contact=row.hit_contact,
        kind=row.kind,
        value=bytes(row.value).hex(),
        at=row.at,
        seen_at=row.seen_at,
        mine=mine,
    )


def _visible_hits(ctx: Context, me: str) -> ColumnElement[bool]:
    """Hits of the caller's agency's alerts, and hits its own seizures made elsewhere."""
    if ctx.principal.agency_id is None:
        return AlertHit.id.is_not(None)
    agency = ctx.principal.agency_id
    own_alerts = select(Alert.id).where(Alert.agency_id == agency)
    name = select(Agency.name).where(Agency.id == agency).scalar_subquery()
    return or_(
        AlertHit.alert_id.in_(own_alerts),
        (AlertHit.hit_instance == me) & (AlertHit.hit_agency == name),
    )


@use_case("alert.hits", SEE_MEDIA)
def list_alert_hits(ctx: Context, unseen_only: bool = False) -> AlertHitListOut:
    """Hits of the caller's agency's alerts (newest first), and those its seizures made."""
    me = load_identity(ctx).name
    with ctx.store.reader() as session:
        query = select(AlertHit).where(_visible_hits(ctx, me)).order_by(AlertHit.at.desc())
        if unseen_only:
            query = query.where(AlertHit.seen_at.is_(None))
        owned = _owned_alerts(ctx, session)
        rows = session.scalars(query.limit(500))
        return AlertHitListOut(hits=[_hit_out(r, _is_mine(r, owned, me)) for r in rows])


@use_case("alert.hit.seen", WORK_ON_MEDIA)
def mark_hit_seen(ctx: Context, hit_id: int) -> AlertHitOut:
    """Acknowledge a hit of one of the caller's agency's alerts."""
    me = load_identity(ctx).name
    with ctx.store.session() as session:
        row = session.scalar(select(AlertHit).where(AlertHit.id == hit_id, _visible_hits(ctx, me)))
        if row is None or not _is_mine(row, _owned_alerts(ctx, session), me):
            raise NotFound(f"no hit {hit_id} of your alerts")
        row.seen_at = row.seen_at or datetime.now(UTC)
        session.flush()
        return _hit_out(row, True)


def scan_alerts(ctx: Context, received: list[int] | None = None) -> list[int]:
    """Find new hits of every alert on this instance's media; audit each, at both ends, and
    run the alert hook for hits on this instance's alerts (``received``: hit rows a peer's
    batch just brought). Returns the ids of hits on this instance's alerts."""
    with ctx.store.reader() as session:
        watching = session.scalar(select(Alert.id).where(Alert.active.is_(True)).limit(1))
        if watching is None:
            watching = session.scalar(
                select(SharedRecord.id).where(SharedRecord.alerted.is_(True)).limit(1)
            )
    if watching is None and not received:
        return []  # no alert anywhere: nothing to scan (and no identity needed)
    me = load_identity(ctx).name
    with ctx.store.session() as session:
        publish_if_changed(ctx, session)
        sequence = Sequence(session)
        found: list[NewHit] = scan_hits(session, me, sequence)
        sequence.save()
        for hit in found:
            action = "alert.hit.sent" if hit.outgoing else "alert.hit"
            detail = {"agency": hit.agency}
            record_in(session, ctx, action, hit.alert_ref, "ok", dict(detail))
        for hit_id in received or []:
            row = session.get(AlertHit, hit_id)
            if row is not None:
                detail = {"agency": row.hit_agency, "instance": row.hit_instance}
                record_in(session, ctx, "alert.hit", row.alert_ref, "ok", dict(detail))
    owned = [h.hit_id for h in found if not h.outgoing] + list(received or [])
    _run_hook(ctx, owned, me)
    return owned


def _run_hook(ctx: Context, hit_ids: list[int], me: str) -> None:
    command = ctx.settings.alert_command
    if not command or not hit_ids:
        return
    with ctx.store.reader() as session:
        hits = [session.get(AlertHit, i) for i in hit_ids]
        payloads = [_hit_out(h, True).model_dump_json() for h in hits if h is not None]
    for payload in payloads:
        try:
            subprocess.run(shlex.split(command), input=payload.encode(), timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            continue  # the hit is kept and shown; a broken hook must not lose it


class AlertScanOut(Model):
    #: New hits of this instance's alerts the scan found.
    hits: int


@use_case("alert.scan", WORK_ON_MEDIA)
def run_alert_scan(ctx: Context) -> AlertScanOut:
    """Look for new hits of every alert among the stored media now."""
    return AlertScanOut(hits=len(scan_alerts(ctx)))
