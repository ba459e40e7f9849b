"""Each agency's category scheme: what the triage grid's number keys vote for.

Agencies of different countries categorise material differently (UK CAID grades A, B and C;
other national programmes keep lists of their own), so vident does not hard-code one. An
agency administrator (or a system administrator) gives their agency a scheme: its name, which
is recorded with every vote, and up to ten categories, each on a number key ("0" to "9") with
the code a vote records and the label the grid's legend shows. An agency that chose none, and
a principal of no agency, vote in :data:`DEFAULT_SCHEME` (UK-CAID), as vident always did.

Reading the caller's own scheme (the grid does it on every load) is not audited; reading any
agency's scheme through the API is, as is every change. A scheme is a list of category names,
not material: any role may read any agency's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from vident.service.context import Context, Role
from vident.service.errors import Forbidden, Invalid, NotFound
from vident.service.schemas import Model
from vident.service.use_case import use_case
from vident.store.base import utcnow
from vident.store.models_cases import CategoryScheme
from vident.store.models_security import Agency

__all__ = [
    "CODE_LONGEST",
    "DEFAULT_CATEGORIES",
    "DEFAULT_SCHEME",
    "KEYS",
    "LABEL_LONGEST",
    "MOST_CATEGORIES",
    "NAME_LONGEST",
    "CategoryIn",
    "SchemeCategoryOut",
    "SchemeOut",
    "agency_scheme",
    "default_scheme",
    "parse_category_line",
    "set_agency_scheme",
    "show_agency_scheme",
]

#: The scheme of an agency that chose none: UK CAID's grades.
DEFAULT_SCHEME = "UK-CAID"
DEFAULT_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("1", "A", "Category A"),
    ("2", "B", "Category B"),
    ("3", "C", "Category C"),
    ("0", "not-indecent", "Not indecent"),
)
#: The number keys a category may sit on.
KEYS = "0123456789"
#: Most categories in one scheme: one per number key.
MOST_CATEGORIES = len(KEYS)
#: Longest scheme name and category code (as a vote stores them) and label.
NAME_LONGEST = 32
CODE_LONGEST = 64
LABEL_LONGEST = 100

EVERY_ROLE = frozenset(Role)
ADMINS = frozenset({Role.AGENCY_ADMIN, Role.SYSTEM_ADMIN})


class SchemeCategoryOut(Model):
    """One category of a scheme and the number key that votes for it."""

    key: str = Field(description='The number key, "0" to "9".')
    code: str = Field(description="What a vote records (such as A).")
    label: str = Field(description="What the grid's legend says (such as Category A).")


class SchemeOut(Model):
    """The category scheme an agency's number keys vote in."""

    agency: str | None = Field(description="The agency; null for a principal of none.")
    name: str = Field(description="The scheme's name, recorded with every vote.")
    categories: list[SchemeCategoryOut]
    default: bool = Field(description="True: the agency chose none and votes in vident's own.")


def _categories(rows: Iterable[Sequence[str]]) -> list[SchemeCategoryOut]:
    return [SchemeCategoryOut(key=key, code=code, label=label) for key, code, label in rows]


def default_scheme(agency: str | None = None) -> SchemeOut:
    """vident's own scheme (UK-CAID), as ``agency`` gets it when it chose none."""
    return SchemeOut(
        agency=agency,
        name=DEFAULT_SCHEME,
        categories=_categories(DEFAULT_CATEGORIES),
        default=True,
    )


def _stored(row: CategoryScheme, agency: str) -> SchemeOut:
    """A stored scheme as the service shows it (rows it cannot read give the default)."""
    found: list[SchemeCategoryOut] = []
    for item in row.categories:
        if not (isinstance(item, list) and len(item) == 3):
            return default_scheme(agency)
        key, code, label = item
        if not (isinstance(key, str) and isinstance(code, str) and isinstance(label, str)):
            return default_scheme(agency)
        found.append(SchemeCategoryOut(key=key, code=code, label=label))
    return SchemeOut(agency=agency, name=row.name, categories=found, default=False)


def _scheme_of(session: Session, agency: Agency) -> SchemeOut:
    row = session.get(CategoryScheme, agency.id)
    return default_scheme(agency.name) if row is None else _stored(row, agency.name)


def agency_scheme(ctx: Context) -> SchemeOut:
    """The scheme the caller's number keys vote in: their agency's, else the default.

    Not a use case: every role may read it, and the triage grid reads it on every load.
    """
    agency_id = ctx.principal.agency_id
    if agency_id is None:
        return default_scheme()
    with ctx.store.reader() as session:
        agency = session.get(Agency, agency_id)
        if agency is None:
            return default_scheme()
        return _scheme_of(session, agency)


def _agency(session: Session, name: str) -> Agency:
    agency = None if "\x00" in name else session.scalar(select(Agency).where(Agency.name == name))
    if agency is None:
        raise NotFound(f"no agency named {name!r}")
    return agency


@use_case("category_scheme.show", EVERY_ROLE)
def show_agency_scheme(ctx: Context, agency: str) -> SchemeOut:
    """The scheme ``agency``'s number keys vote in (the default when it chose none)."""
    with ctx.store.reader() as session:
        return _scheme_of(session, _agency(session, agency))


def _text(what: str, value: str, longest: int) -> str:
    value = value.strip()
    if not value or len(value) > longest or not value.isprintable():
        raise Invalid(f"a {what} needs 1 to {longest} printable characters, got {value[:80]!r}")
    return value


#: A category as (key, code, label), or as one line ``key=code=label``.
CategoryIn = tuple[str, str, str] | str


def _checked(categories: Sequence[CategoryIn]) -> list[tuple[str, str, str]]:
    """The categories with blanks trimmed, or Invalid saying what is wrong."""
    if not 1 <= len(categories) <= MOST_CATEGORIES:
        raise Invalid(f"a scheme has 1 to {MOST_CATEGORIES} categories, got {len(categories)}")
    checked: list[tuple[str, str, str]] = []
    keys: set[str] = set()
    codes: set[str] = set()
    for category in categories:
        key, code, label = parse_category_line(category) if isinstance(category, str) else category
        key = key.strip()
        if len(key) != 1 or key not in KEYS:
            raise Invalid(f"a category's key is one digit, 0 to 9, got {key!r}")
        if key in keys:
            raise Invalid(f"key {key} is given to two categories")
        code = _text("category code", code, CODE_LONGEST)
        if code in codes:
            raise Invalid(f"category {code!r} is on two keys")
        label = _text("category label", label, LABEL_LONGEST)
        keys.add(key)
        codes.add(code)
        checked.append((key, code, label))
    return checked


@use_case("category_scheme.set", ADMINS)
def set_agency_scheme(
    ctx: Context, agency: str, scheme_name: str, categories: Sequence[CategoryIn]
) -> SchemeOut:
    """Give ``agency`` the scheme ``scheme_name`` with ``categories`` as (key, code, label)
    or as lines ``key=code=label``: its number keys vote in it from now on (votes already
    cast keep their scheme). An agency administrator sets their own agency's only."""
    name = _text("scheme name", scheme_name, NAME_LONGEST)
    checked = _checked(categories)
    with ctx.store.session() as session:
        found = _agency(session, agency)
        if ctx.principal.role is Role.AGENCY_ADMIN and found.id != ctx.principal.agency_id:
            raise Forbidden("an agency administrator sets the scheme of their own agency only")
        row = session.get(CategoryScheme, found.id)
        if row is None:
            row = CategoryScheme(agency_id=found.id)
            session.add(row)
        row.name = name
        row.categories = [list(category) for category in checked]
        row.updated_by = ctx.principal.name
        row.updated_at = utcnow()
        session.flush()
        return _stored(row, found.name)


def parse_category_line(line: str) -> tuple[str, str, str]:
    """One category written ``key=code=label`` (the label may hold ``=``), or Invalid."""
    parts = line.split("=", 2)
    if len(parts) != 3:
        raise Invalid(f"write each category as key=code=label, got {line[:80]!r}")
    key, code, label = parts
    return key, code, label
