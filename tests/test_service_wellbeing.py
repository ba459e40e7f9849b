"""Wellbeing through the service layer on a real store: whose veil a preview gets, agency
defaults and their floor, the exposure of a session, the week's figures, and sessions that
only their own user may list and end."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from sqlalchemy import select

from tests.conftest import write_jpeg
from vident.config import Settings
from vident.service.agencies import add_agency
from vident.service.context import (
    Context,
    Principal,
    PrincipalKind,
    Role,
    local_operator,
    open_context,
)
from vident.service.errors import Forbidden, Invalid, Unauthenticated
from vident.service.previews import preview
from vident.service.sessions import login, touch_session
from vident.service.sources import ingest_source
from vident.service.users import add_user
from vident.service.wellbeing import (
    DEFAULT_VEIL,
    VeilIn,
    agency_wellbeing,
    end_my_session,
    my_exposure,
    my_sessions,
    my_week,
    my_wellbeing,
    set_agency_wellbeing,
    set_my_wellbeing,
    veil_of,
)
from vident.store.models_security import AuditEvent, AuthSession

PASSWORD = "a fine long password for wellbeing"


@dataclass
class People:
    op: Context
    contexts: dict[str, Context]
    recovery: dict[str, list[str]]
    ids: dict[str, int]

    def __getitem__(self, name: str) -> Context:
        return self.contexts[name]


@pytest.fixture
def people(settings: Settings) -> People:
    """Met: ana (analyst), vic (viewer), adam (agency admin); BKA: bea (agency admin)."""
    op = open_context(settings, local_operator(settings))
    agencies = {"Met": add_agency(op, "Met", "gb").id, "BKA": add_agency(op, "BKA", "de").id}
    until = date.today() + timedelta(days=30)
    contexts, recovery, ids = {}, {}, {}
    for name, agency, role in (
        ("ana", "Met", Role.ANALYST),
        ("vic", "Met", Role.VIEWER),
        ("adam", "Met", Role.AGENCY_ADMIN),
        ("bea", "BKA", Role.AGENCY_ADMIN),
    ):
        made = add_user(op, name, agency, role, until, PASSWORD)
        principal = Principal(name, PrincipalKind.USER, role, agencies[agency], made.user.id)
        contexts[name] = Context(settings=settings, store=op.store, principal=principal)
        recovery[name] = list(made.recovery_codes)
        ids[name] = made.user.id
    return People(op, contexts, recovery, ids)


def _veil(blur: int, greyscale: bool = True, minutes: int = 0) -> VeilIn:
    return VeilIn(blur=blur, greyscale=greyscale, break_minutes=minutes)


def test_defaults_then_agency_default_then_own_choice(people: People) -> None:
    ana = people["ana"]
    shown = my_wellbeing(ana)
    assert shown.source == "default" and shown.own is None
    assert (shown.effective.blur, shown.effective.greyscale) == (12, True)
    assert veil_of(ana) == DEFAULT_VEIL
    # Met's administrator sets a default for Met's users; BKA's may not, nor may a viewer.
    set_agency_wellbeing(people["adam"], "Met", _veil(16, greyscale=False, minutes=45))
    with pytest.raises(Forbidden):
        set_agency_wellbeing(people["bea"], "Met", _veil(20))
    with pytest.raises(Forbidden):
        agency_wellbeing(people["bea"], "Met")
    with pytest.raises(Forbidden):
        set_agency_wellbeing(people["vic"], "Met", _veil(20))
    with pytest.raises(Invalid, match="at least"):
        set_agency_wellbeing(people["adam"], "Met", _veil(4))
    assert agency_wellbeing(people["adam"], "Met") is not None
    shown = my_wellbeing(ana)
    assert shown.source == "agency"
    assert (shown.effective.blur, shown.effective.greyscale, shown.effective.break_minutes) == (
        16,
        False,
        45,
    )
    assert my_wellbeing(people["bea"]).source == "default"  # BKA is untouched
    # The user's own choice wins, below the agency floor too; dropping it restores the default.
    chosen = set_my_wellbeing(ana, _veil(2, greyscale=True, minutes=1))
    assert chosen.source == "user" and chosen.effective.blur == 2
    assert veil_of(ana).blur == 2 and veil_of(people["vic"]).blur == 16
    assert set_my_wellbeing(ana, None).source == "agency"
    with people.op.store.reader() as session:
        actions = set(session.scalars(select(AuditEvent.action)))
    assert {"wellbeing.set", "wellbeing.agency_set"} <= actions


def test_a_veiled_preview_follows_the_callers_setting(
    people: People, settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "seized"
    sha = hashlib.sha256(write_jpeg(folder / "a.jpg", 31).read_bytes()).hexdigest()
    ingest_source(people.op, folder, "WB-1", workers=1, signals=("pdq",))
    ana, vic = people["ana"], people["vic"]
    default = preview(ana, sha, reveal=False).content
    assert preview(vic, sha, reveal=False).content == default
    with Image.open(io.BytesIO(default)) as shown:
        assert shown.mode == "L"
    set_my_wellbeing(ana, _veil(2, greyscale=False))
    light = preview(ana, sha, reveal=False).content
    assert light != default
    with Image.open(io.BytesIO(light)) as shown:
        assert shown.mode == "RGB"
        sharper = ImageStat.Stat(shown.convert("L")).stddev[0]
    with Image.open(io.BytesIO(default)) as shown:
        assert sharper > ImageStat.Stat(shown).stddev[0]  # less blur keeps more contrast
    assert preview(vic, sha, reveal=False).content == default  # others keep theirs
    revealed = preview(ana, sha, reveal=True).content
    assert revealed not in (light, default)


def test_exposure_and_week_count_the_callers_reveals_and_time(
    people: People, tmp_path: Path
) -> None:
    folder = tmp_path / "seized"
    shas = [
        hashlib.sha256(write_jpeg(folder / f"{i}.jpg", 40 + i).read_bytes()).hexdigest()
        for i in range(2)
    ]
    ingest_source(people.op, folder, "WB-2", workers=1, signals=("pdq",))
    opened = login(people.op, "ana", PASSWORD, people.recovery["ana"][0], remote="10.1.2.3")
    ana = people["ana"]
    for sha in shas:
        preview(ana, sha, reveal=True)
    preview(ana, shas[0], reveal=False)  # a veiled view is no reveal
    preview(people["vic"], shas[0], reveal=True)  # someone else's reveal
    exposure = my_exposure(ana, opened.secret)
    assert exposure is not None and exposure.reveals == 2 and exposure.seconds >= 0
    assert my_exposure(people["vic"], opened.secret) is None  # not vic's session
    assert my_wellbeing(ana, opened.secret).exposure == exposure
    # A session of 90 minutes yesterday evening and another of 30 crossing midnight.
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date(), datetime.min.time(), tzinfo=UTC)
    with people.op.store.session() as session:
        for start, minutes, key in (
            (midnight - timedelta(hours=4), 90, b"a"),
            (midnight - timedelta(minutes=10), 30, b"b"),
        ):
            session.add(
                AuthSession(
                    user_id=people.ids["ana"],
                    id_hash=hashlib.sha256(key).digest(),
                    created_at=start,
                    last_seen_at=start + timedelta(minutes=minutes),
                )
            )
    week = my_week(ana, now=now)
    assert [d.day for d in week.days][-1] == now.date() and len(week.days) == 7
    today, yesterday = week.days[-1], week.days[-2]
    assert today.reveals == 2 and yesterday.reveals == 0 and week.reveals == 2
    assert yesterday.minutes == 100  # 90 + the 10 before midnight
    assert today.minutes >= 20
    # Seen from tomorrow, today's reveals are the day before's.
    later = my_week(ana, now=now + timedelta(days=1))
    assert later.days[-2].reveals == 2 and later.days[-1].reveals == 0
    assert my_week(people["adam"]).reveals == 0
    assert my_week(people.op).days[-1].reveals == 0  # the operator has no account


def test_a_user_lists_and_ends_only_their_own_sessions(people: People) -> None:
    first = login(people.op, "ana", PASSWORD, people.recovery["ana"][0], remote="10.0.0.1")
    second = login(people.op, "ana", PASSWORD, people.recovery["ana"][1], remote="10.0.0.2")
    other = login(people.op, "vic", PASSWORD, people.recovery["vic"][0], remote="10.0.0.9")
    ana, vic = people["ana"], people["vic"]
    listed = my_sessions(ana, first.secret).sessions
    assert len(listed) == 2
    assert [s.current for s in listed] == [False, True]  # newest first
    assert {s.remote for s in listed} == {"10.0.0.1", "10.0.0.2"}
    vics = my_sessions(vic).sessions
    assert len(vics) == 1 and vics[0].remote == "10.0.0.9" and not vics[0].current
    # ana cannot end vic's session: the answer is the same as for an unknown id.
    assert not end_my_session(ana, vics[0].id).ended
    assert not end_my_session(ana, 999_999).ended
    assert touch_session(people.op, other.secret).user.username == "vic"
    mine = next(s for s in listed if not s.current)
    assert end_my_session(ana, mine.id).ended
    assert not end_my_session(ana, mine.id).ended  # ended already
    with pytest.raises(Unauthenticated):
        touch_session(people.op, second.secret)
    assert touch_session(people.op, first.secret).user.username == "ana"
    assert [s.id for s in my_sessions(ana).sessions] == [s.id for s in listed if s.current]
