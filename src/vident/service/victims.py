"""Victims and offenders: pseudonymous codes, identification, and personal details kept secret.

Everyone with access sees a code such as V-2026-0001, whether and by whom the person was
identified, and the series and media they appear in. The name, birth year and notes are one
value encrypted with the keyring and bound to the code (a ciphertext copied onto another row
does not decrypt), shown only to analysts and administrators.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vident.security.crypto import Keyring, KeyringError
from vident.service.context import Context
from vident.service.domain import (
    PERSONAL,
    READ,
    WRITE,
    acting_agency,
    checked_country,
    visible_media_id,
)
from vident.service.errors import Conflict, Invalid, NotFound
from vident.service.keys import KeyringUnavailable, open_keyring
from vident.service.schemas import Model
from vident.service.scope import check_subject, sight_of, visible_subjects
from vident.service.series import owned_series
from vident.service.use_case import use_case
from vident.store.models import Media, Person
from vident.store.models_cases import Series, Subject, SubjectMedia, SubjectSeries
from vident.store.models_security import Agency

KINDS = {"victim": "V", "offender": "O"}
#: The series status that identifying a subject of each kind gives an unidentified series.
_IDENTIFIED_STATUS = {"victim": "victim_identified", "offender": "offender_identified"}


class PersonalIn(Model):
    """What only analysts and administrators may read: encrypted at rest."""

    name: str | None = None
    birth_year: int | None = None
    notes: str | None = None


class SubjectOut(Model):
    kind: str
    code: str
    identified: bool
    identified_by: str | None
    identified_country: str | None
    identified_on: date | None
    series: list[str]
    media: list[str]
    person: int | None
    #: None when the principal may not see personal details, or none were recorded.
    personal: PersonalIn | None
    created_by: str
    created_at: datetime


class SubjectListOut(Model):
    subjects: list[SubjectOut]


def personal_purpose(code: str) -> bytes:
    """Binds a ciphertext of personal details to its subject's code."""
    return b"subject.personal:" + code.encode("utf-8")


def _seal(keyring: Keyring, code: str, personal: PersonalIn) -> bytes | None:
    if personal == PersonalIn():
        return None
    plain = personal.model_dump_json(exclude_none=True).encode("utf-8")
    return keyring.encrypt(plain, personal_purpose(code))


def _open(keyring: Keyring, code: str, sealed: bytes) -> PersonalIn:
    try:
        plain = keyring.decrypt(sealed, personal_purpose(code))
        return PersonalIn.model_validate(json.loads(plain))
    except KeyringError as exc:
        raise KeyringUnavailable(f"cannot read the details of {code}: {exc}") from None
    except (ValueError, ValidationError):
        raise KeyringUnavailable(f"the details of {code} are damaged") from None


def _next_code(session: Session, kind: str) -> str:
    prefix = f"{KINDS[kind]}-{datetime.now(UTC).year}-"
    count = session.scalar(
        select(func.count()).select_from(Subject).where(Subject.code.startswith(prefix))
    )
    return f"{prefix}{(count or 0) + 1:04d}"


def _find(session: Session, kind: str, code: str) -> Subject:
    found = session.scalar(select(Subject).where(Subject.code == code, Subject.kind == kind))
    if found is None:
        raise NotFound(f"no {kind} with code {code!r}")
    return found


def _out(ctx: Context, session: Session, subject: Subject, keyring: Keyring | None) -> SubjectOut:
    series = session.scalars(
        select(Series.name)
        .join(SubjectSeries, SubjectSeries.series_id == Series.id)
        .where(SubjectSeries.subject_id == subject.id)
        .order_by(Series.name)
    ).all()
    media = session.scalars(
        select(Media.sha256)
        .join(SubjectMedia, SubjectMedia.media_id == Media.id)
        .where(SubjectMedia.subject_id == subject.id)
        .order_by(Media.sha256)
    ).all()
    agency = (
        session.get(Agency, subject.identified_by_agency_id)
        if subject.identified_by_agency_id is not None
        else None
    )
    personal = None
    # Personal details stay with the agency that recorded them (and the operator).
    sight = sight_of(ctx, session)
    mine = sight.everything or subject.agency_id in (None, sight.agency_id)
    if keyring is not None and subject.personal is not None and mine:
        personal = _open(keyring, subject.code, subject.personal)
    return SubjectOut(
        kind=subject.kind,
        code=subject.code,
        identified=subject.identified,
        identified_by=agency.name if agency else None,
        identified_country=subject.identified_country,
        identified_on=subject.identified_on,
        series=list(series),
        media=[bytes(m).hex() for m in media],
        person=subject.person_id,
        personal=personal,
        created_by=subject.created_by,
        created_at=subject.created_at,
    )


def _keyring_if_allowed(ctx: Context) -> Keyring | None:
    return open_keyring(ctx) if ctx.principal.role in PERSONAL else None


def _add(
    ctx: Context,
    kind: str,
    personal: PersonalIn,
    series: list[str],
    media: list[str],
    person: int | None,
) -> SubjectOut:
    if personal.birth_year is not None and not 1900 <= personal.birth_year <= date.today().year:
        raise Invalid(f"the birth year {personal.birth_year} is not a plausible year")
    keyring = open_keyring(ctx)
    with ctx.store.session() as session:
        if person is not None and session.get(Person, person) is None:
            raise NotFound(f"no person {person}: see the person clusters for their numbers")
        in_series = [owned_series(ctx, session, name) for name in dict.fromkeys(series)]
        media_ids = [visible_media_id(ctx, session, sha) for sha in dict.fromkeys(media)]
        code = _next_code(session, kind)
        subject = Subject(
            kind=kind,
            code=code,
            identified=False,
            personal=_seal(keyring, code, personal),
            person_id=person,
            agency_id=ctx.principal.agency_id,
            created_by=ctx.principal.name,
        )
        session.add(subject)
        session.flush()
        session.add_all(SubjectSeries(subject_id=subject.id, series_id=s.id) for s in in_series)
        session.add_all(SubjectMedia(subject_id=subject.id, media_id=m) for m in media_ids)
        session.flush()
        return _out(ctx, session, subject, keyring)


def _list(ctx: Context, kind: str) -> SubjectListOut:
    keyring = _keyring_if_allowed(ctx)
    with ctx.store.reader() as session:
        sight = sight_of(ctx, session)
        rows = session.scalars(
            select(Subject)
            .where(Subject.kind == kind, visible_subjects(sight))
            .order_by(Subject.code)
        )
        return SubjectListOut(subjects=[_out(ctx, session, s, keyring) for s in rows.all()])


def _show(ctx: Context, kind: str, code: str) -> SubjectOut:
    keyring = _keyring_if_allowed(ctx)
    with ctx.store.reader() as session:
        subject = check_subject(ctx, session, _find(session, kind, code))
        return _out(ctx, session, subject, keyring)


def _identify(
    ctx: Context, kind: str, code: str, agency: str | None, country: str | None, on: date | None
) -> SubjectOut:
    country = checked_country(country)
    keyring = _keyring_if_allowed(ctx)
    with ctx.store.session() as session:
        subject = check_subject(ctx, session, _find(session, kind, code))
        if subject.identified:
            raise Conflict(f"{code} is identified already")
        by = acting_agency(ctx, session, agency)
        if by is None:
            raise Invalid(f"say which agency identified {code}: you belong to none")
        subject.identified = True
        subject.identified_by_agency_id = by.id
        subject.identified_country = country or by.country
        subject.identified_on = on or date.today()
        # The series the person appears in follow, unless an analyst already moved them on.
        for series in session.scalars(
            select(Series)
            .join(SubjectSeries, SubjectSeries.series_id == Series.id)
            .where(SubjectSeries.subject_id == subject.id, Series.status == "unidentified")
        ):
            series.status = _IDENTIFIED_STATUS[kind]
        session.flush()
        return _out(ctx, session, subject, keyring)


@use_case("victim.add", WRITE)
def add_victim(
    ctx: Context,
    *,
    personal: PersonalIn | None = None,
    series: list[str] | None = None,
    media: list[str] | None = None,
    person: int | None = None,
) -> SubjectOut:
    """Record a victim under a new code, seen in ``series`` and ``media`` (SHA-256).

    ``personal`` is keyword-only so that the audit trail, which records a use case's first
    argument, never holds a name.
    """
    return _add(ctx, "victim", personal or PersonalIn(), series or [], media or [], person)


@use_case("offender.add", WRITE)
def add_offender(
    ctx: Context,
    *,
    personal: PersonalIn | None = None,
    series: list[str] | None = None,
    media: list[str] | None = None,
    person: int | None = None,
) -> SubjectOut:
    """Record an offender under a new code, seen in ``series`` and ``media`` (SHA-256)."""
    return _add(ctx, "offender", personal or PersonalIn(), series or [], media or [], person)


@use_case("victim.list", READ)
def list_victims(ctx: Context) -> SubjectListOut:
    return _list(ctx, "victim")


@use_case("offender.list", READ)
def list_offenders(ctx: Context) -> SubjectListOut:
    return _list(ctx, "offender")


@use_case("victim.show", READ)
def show_victim(ctx: Context, code: str) -> SubjectOut:
    return _show(ctx, "victim", code)


@use_case("offender.show", READ)
def show_offender(ctx: Context, code: str) -> SubjectOut:
    return _show(ctx, "offender", code)


@use_case("victim.identify", WRITE)
def identify_victim(
    ctx: Context,
    code: str,
    *,
    agency: str | None = None,
    country: str | None = None,
    on: date | None = None,
) -> SubjectOut:
    """Mark a victim identified by ``agency`` (default: the principal's), in ``country``
    (default: the agency's) on ``on`` (default: today); their unidentified series become
    victim_identified, which triage then reports to whoever meets that material."""
    return _identify(ctx, "victim", code, agency, country, on)


@use_case("offender.identify", WRITE)
def identify_offender(
    ctx: Context,
    code: str,
    *,
    agency: str | None = None,
    country: str | None = None,
    on: date | None = None,
) -> SubjectOut:
    """Mark an offender identified; their unidentified series become offender_identified."""
    return _identify(ctx, "offender", code, agency, country, on)
