"""Analyst wellbeing: how veiled previews look, what a session has exposed, and the week.

Each user may choose how strongly the veiled previews are blurred, whether they are shown in
colour, and after how many minutes of a session a break is suggested. A user who has not
chosen gets their agency's default, set by an agency administrator, and without one vident's
own: greyscale and strongly blurred (the look previews always had). An agency default never
blurs below :data:`AGENCY_BLUR_FLOOR`: only the user themselves may choose a lighter veil.

The exposure figures are read from what is recorded anyway: each reveal is a ``media.reveal``
audit event of its user, and each session keeps when it began and was last used. Reading one's
own settings and figures is not audited (pages read them on every load); every change is.

A user also sees and ends their own live sessions here, and only their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.security import tokens
from vident.security.settings import SecuritySettings, defaults
from vident.service.audit import record, record_in, require
from vident.service.context import Context, Role
from vident.service.errors import Forbidden, Invalid, NotFound
from vident.service.schemas import Model
from vident.store.base import utcnow
from vident.store.models import WellbeingSetting
from vident.store.models_security import Agency, AuditEvent, AuthSession

__all__ = [
    "AGENCY_BLUR_FLOOR",
    "BLUR_MAX",
    "BLUR_MIN",
    "DEFAULT_VEIL",
    "DayOut",
    "ExposureOut",
    "MySessionOut",
    "MySessionsOut",
    "SessionEndedOut",
    "Veil",
    "VeilIn",
    "VeilOut",
    "WeekOut",
    "WellbeingOut",
    "agency_wellbeing",
    "end_my_session",
    "my_exposure",
    "my_sessions",
    "my_week",
    "my_wellbeing",
    "set_agency_wellbeing",
    "set_my_wellbeing",
    "veil_of",
]

EVERY_ROLE = frozenset(Role)
ADMINS = frozenset({Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})
#: Lightest and strongest blur a user may choose (radius in pixels at 320 px); never 0, so a
#: veiled preview is never the picture itself, which only an audited reveal shows.
BLUR_MIN, BLUR_MAX = 2, 24
#: An agency default blurs at least this much: lighter only by the user's own choice.
AGENCY_BLUR_FLOOR = 8
#: Longest break reminder interval, in minutes (a working day).
BREAK_MAX = 600
#: Days the week shows, today included.
WEEK_DAYS = 7


@dataclass(frozen=True, slots=True)
class Veil:
    """How a veiled preview is made for one user."""

    blur: int
    greyscale: bool
    break_minutes: int


#: vident's own default: greyscale and strongly blurred, no break reminder.
DEFAULT_VEIL = Veil(blur=12, greyscale=True, break_minutes=0)


class VeilIn(Model):
    """Wellbeing settings as a user or an agency administrator sets them."""

    blur: int = Field(
        ge=BLUR_MIN, le=BLUR_MAX, description="Blur radius of veiled previews (at 320 px)."
    )
    greyscale: bool = Field(description="Veiled previews without colour.")
    break_minutes: int = Field(
        ge=0, le=BREAK_MAX, description="Suggest a break after this many minutes; 0: never."
    )


class VeilOut(Model):
    blur: int
    greyscale: bool
    break_minutes: int


class ExposureOut(Model):
    """What the current session has shown its user so far."""

    session_started_at: datetime
    seconds: int = Field(description="Seconds since the session began.")
    reveals: int = Field(description="Media revealed since the session began.")


class WellbeingOut(Model):
    """A user's effective settings, where they come from, and the current session's figures."""

    effective: VeilOut
    source: Literal["user", "agency", "default"]
    own: VeilOut | None
    agency_default: VeilOut | None
    agency_blur_floor: int = AGENCY_BLUR_FLOOR
    exposure: ExposureOut | None = None


class DayOut(Model):
    day: date
    reveals: int
    minutes: int = Field(description="Minutes signed in (sessions' first to last use).")


class WeekOut(Model):
    """The caller's last seven days, oldest first, today last."""

    days: list[DayOut]
    reveals: int
    minutes: int


class MySessionOut(Model):
    id: int
    created_at: datetime
    last_seen_at: datetime
    remote: str | None = Field(description="Where the session was opened from.")
    current: bool = Field(description="The session this request came with.")


class MySessionsOut(Model):
    sessions: list[MySessionOut]


class SessionEndedOut(Model):
    ended: bool = Field(description="False when no live session of the caller had that id.")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _out(veil: Veil) -> VeilOut:
    return VeilOut(blur=veil.blur, greyscale=veil.greyscale, break_minutes=veil.break_minutes)


def _veil(row: WellbeingSetting | None) -> Veil | None:
    if row is None:
        return None
    return Veil(blur=row.blur, greyscale=row.greyscale, break_minutes=row.break_minutes)


def _rows(
    session: Session, user_id: int | None, agency_id: int | None
) -> tuple[Veil | None, Veil | None]:
    own = agency = None
    if user_id is not None:
        own = _veil(
            session.scalar(select(WellbeingSetting).where(WellbeingSetting.user_id == user_id))
        )
    if agency_id is not None:
        agency = _veil(
            session.scalar(select(WellbeingSetting).where(WellbeingSetting.agency_id == agency_id))
        )
    return own, agency


def _effective(
    own: Veil | None, agency: Veil | None
) -> tuple[Veil, Literal["user", "agency", "default"]]:
    if own is not None:
        return own, "user"
    if agency is not None:
        floored = Veil(
            blur=max(agency.blur, AGENCY_BLUR_FLOOR),
            greyscale=agency.greyscale,
            break_minutes=agency.break_minutes,
        )
        return floored, "agency"
    return DEFAULT_VEIL, "default"


def veil_of(ctx: Context) -> Veil:
    """The caller's effective veil (the default for a principal without a user account)."""
    with ctx.store.reader() as session:
        own, agency = _rows(session, ctx.principal.user_id, ctx.principal.agency_id)
    return _effective(own, agency)[0]


def _wellbeing(ctx: Context, session: Session) -> WellbeingOut:
    own, agency = _rows(session, ctx.principal.user_id, ctx.principal.agency_id)
    effective, source = _effective(own, agency)
    return WellbeingOut(
        effective=_out(effective),
        source=source,
        own=_out(own) if own is not None else None,
        agency_default=_out(agency) if agency is not None else None,
    )


def _user_id(ctx: Context, action: str) -> int:
    user_id = ctx.principal.user_id
    if user_id is None:
        record(ctx, action, None, "failed", {"reason": "no user account"})
        raise NotFound(f"{ctx.principal.name} acts without a user account (the local operator)")
    return user_id


def my_wellbeing(
    ctx: Context, session_secret: str | None = None, *, now: datetime | None = None
) -> WellbeingOut:
    """The caller's settings, and with ``session_secret`` that session's exposure figures."""
    require(ctx, "wellbeing.show", None, EVERY_ROLE)
    with ctx.store.reader() as session:
        shown = _wellbeing(ctx, session)
    if session_secret is None:
        return shown
    exposure = my_exposure(ctx, session_secret, now=now)
    return shown.model_copy(update={"exposure": exposure})


def _store_veil(
    session: Session, row: WellbeingSetting | None, given: VeilIn, **owner: int
) -> None:
    if row is None:
        row = WellbeingSetting(**owner)
        session.add(row)
    row.blur = given.blur
    row.greyscale = given.greyscale
    row.break_minutes = given.break_minutes
    row.updated_at = utcnow()


def set_my_wellbeing(ctx: Context, given: VeilIn | None) -> WellbeingOut:
    """Set the caller's own settings; None: drop them (the agency's default applies again)."""
    require(ctx, "wellbeing.set", ctx.principal.name, EVERY_ROLE)
    user_id = _user_id(ctx, "wellbeing.set")
    with ctx.store.session() as session:
        row = session.scalar(select(WellbeingSetting).where(WellbeingSetting.user_id == user_id))
        if given is None:
            if row is not None:
                session.delete(row)
            detail: dict[str, int | bool | None] = {"reset": True}
        else:
            _store_veil(session, row, given, user_id=user_id)
            detail = given.model_dump()
        session.flush()
        record_in(session, ctx, "wellbeing.set", ctx.principal.name, "ok", dict(detail))
        return _wellbeing(ctx, session)


def _agency(ctx: Context, session: Session, action: str, name: str) -> Agency:
    agency = None if "\x00" in name else session.scalar(select(Agency).where(Agency.name == name))
    if agency is None:
        raise NotFound(f"no agency named {name!r}")
    if ctx.principal.role == Role.AGENCY_ADMIN and agency.id != ctx.principal.agency_id:
        record(ctx, action, name, "denied", {"reason": "other agency"})
        raise Forbidden("an agency administrator sets the defaults of their own agency only")
    return agency


def agency_wellbeing(ctx: Context, agency: str) -> VeilOut | None:
    """The default an agency's users get (None: vident's own); its administrators only."""
    require(ctx, "wellbeing.agency_show", agency, ADMINS)
    with ctx.store.reader() as session:
        found = _agency(ctx, session, "wellbeing.agency_show", agency)
        veil = _veil(
            session.scalar(select(WellbeingSetting).where(WellbeingSetting.agency_id == found.id))
        )
    return _out(veil) if veil is not None else None


def set_agency_wellbeing(ctx: Context, agency: str, given: VeilIn) -> VeilOut:
    """Set the default of ``agency``'s users who chose none (blur at least the floor)."""
    require(ctx, "wellbeing.agency_set", agency, ADMINS)
    if given.blur < AGENCY_BLUR_FLOOR:
        raise Invalid(
            f"an agency default blurs at least {AGENCY_BLUR_FLOOR}: lighter only by a user's "
            "own choice"
        )
    with ctx.store.session() as session:
        found = _agency(ctx, session, "wellbeing.agency_set", agency)
        row = session.scalar(select(WellbeingSetting).where(WellbeingSetting.agency_id == found.id))
        _store_veil(session, row, given, agency_id=found.id)
        record_in(session, ctx, "wellbeing.agency_set", agency, "ok", dict(given.model_dump()))
    return VeilOut(**given.model_dump())


def _reveals(session: Session, username: str, since: datetime) -> Sequence[datetime]:
    query = select(AuditEvent.at).where(
        AuditEvent.action == "media.reveal",
        AuditEvent.actor == username,
        AuditEvent.actor_kind != "operator",
        AuditEvent.outcome == "ok",
        AuditEvent.at >= since,
    )
    return [_utc(at) for at in session.scalars(query)]


def my_exposure(
    ctx: Context, session_secret: str, *, now: datetime | None = None
) -> ExposureOut | None:
    """Time spent and media revealed in the caller's session ``session_secret`` (None when
    that secret opens no session of theirs)."""
    require(ctx, "wellbeing.show", None, EVERY_ROLE)
    now = _utc(now or utcnow())
    with ctx.store.reader() as session:
        row = session.scalar(
            select(AuthSession).where(AuthSession.id_hash == tokens.digest(session_secret))
        )
        if row is None or row.user_id != ctx.principal.user_id:
            return None
        started = _utc(row.created_at)
        count = len(_reveals(session, ctx.principal.name, started))
    return ExposureOut(
        session_started_at=started,
        seconds=max(0, int((now - started).total_seconds())),
        reveals=count,
    )


def _overlap(start: datetime, end: datetime, day: date) -> float:
    lo = datetime.combine(day, time.min, tzinfo=UTC)
    hi = lo + timedelta(days=1)
    return max(0.0, (min(end, hi) - max(start, lo)).total_seconds())


def my_week(ctx: Context, *, now: datetime | None = None) -> WeekOut:
    """Per day of the last seven (UTC, today last): media revealed and minutes signed in.

    A session counts from its start to its last use. A principal without a user account (the
    local operator) has an empty week.
    """
    require(ctx, "wellbeing.week", None, EVERY_ROLE)
    now = _utc(now or utcnow())
    days = [now.date() - timedelta(days=back) for back in range(WEEK_DAYS - 1, -1, -1)]
    since = datetime.combine(days[0], time.min, tzinfo=UTC)
    reveals = dict.fromkeys(days, 0)
    seconds = dict.fromkeys(days, 0.0)
    user_id = ctx.principal.user_id
    if user_id is not None:
        with ctx.store.reader() as session:
            for at in _reveals(session, ctx.principal.name, since):
                if at.date() in reveals:
                    reveals[at.date()] += 1
            spans = session.execute(
                select(AuthSession.created_at, AuthSession.last_seen_at).where(
                    AuthSession.user_id == user_id, AuthSession.last_seen_at >= since
                )
            )
            for created, seen in spans:
                for day in days:
                    seconds[day] += _overlap(_utc(created), _utc(seen), day)
    out = [DayOut(day=d, reveals=reveals[d], minutes=round(seconds[d] / 60)) for d in days]
    return WeekOut(
        days=out,
        reveals=sum(d.reveals for d in out),
        minutes=sum(d.minutes for d in out),
    )


def _live(
    rows: Iterable[AuthSession], security: SecuritySettings, now: datetime
) -> list[AuthSession]:
    idle = timedelta(minutes=security.session_idle_minutes)
    absolute = timedelta(hours=security.session_absolute_hours)
    return [
        row
        for row in rows
        if row.revoked_at is None
        and _utc(row.last_seen_at) + idle > now
        and _utc(row.created_at) + absolute > now
    ]


def _remotes(session: Session, username: str, since: datetime) -> dict[int, str | None]:
    """Session id -> the address its login came from (recorded with ``session.start``)."""
    events = session.execute(
        select(AuditEvent.detail, AuditEvent.remote).where(
            AuditEvent.action == "session.start",
            AuditEvent.target == username,
            AuditEvent.at >= since - timedelta(minutes=1),
        )
    )
    found: dict[int, str | None] = {}
    for detail, remote in events:
        ident = detail.get("session") if isinstance(detail, dict) else None
        if isinstance(ident, int):
            found[ident] = remote
    return found


def my_sessions(
    ctx: Context, current_secret: str | None = None, *, now: datetime | None = None
) -> MySessionsOut:
    """The caller's live sessions, newest first; the one ``current_secret`` opens is marked."""
    require(ctx, "session.list_own", None, EVERY_ROLE)
    security = ctx.security or defaults()
    now = _utc(now or utcnow())
    user_id = ctx.principal.user_id
    if user_id is None:
        return MySessionsOut(sessions=[])
    current = tokens.digest(current_secret) if current_secret else None
    with ctx.store.reader() as session:
        query = select(AuthSession).where(
            AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
        )
        live = _live(session.scalars(query), security, now)
        oldest = min((_utc(row.created_at) for row in live), default=now)
        remotes = _remotes(session, ctx.principal.name, oldest)
        shown = [
            MySessionOut(
                id=row.id,
                created_at=_utc(row.created_at),
                last_seen_at=_utc(row.last_seen_at),
                remote=remotes.get(row.id),
                current=current is not None and row.id_hash == current,
            )
            for row in live
        ]
    shown.sort(key=lambda s: (s.created_at, s.id), reverse=True)
    return MySessionsOut(sessions=shown)


def end_my_session(ctx: Context, session_id: int, *, remote: str | None = None) -> SessionEndedOut:
    """End one of the caller's own sessions; another user's, or an ended one, is left alone
    (the answer is the same as for an unknown id, so nothing about others is revealed)."""
    require(ctx, "session.end_own", str(session_id), EVERY_ROLE)
    user_id = ctx.principal.user_id
    with ctx.store.session() as session:
        row = session.get(AuthSession, session_id)
        mine = row is not None and user_id is not None and row.user_id == user_id
        if row is None or not mine or row.revoked_at is not None:
            record_in(
                session,
                ctx,
                "session.end",
                ctx.principal.name,
                "failed",
                {"session": session_id, "reason": "no live session of the caller"},
                remote,
            )
            return SessionEndedOut(ended=False)
        row.revoked_at = utcnow()
        record_in(
            session, ctx, "session.end", ctx.principal.name, "ok", {"session": row.id}, remote
        )
    return SessionEndedOut(ended=True)
