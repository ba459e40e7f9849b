"""Agencies, users and API tokens, for administrators (auditors read them); and who am I.

An agency administrator manages their own agency's users and tokens only: the use cases check
it, so these routes pass every request on as it came.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import Field

from vident.service.agencies import AgencyListOut, AgencyOut, add_agency, list_agencies
from vident.service.context import Role
from vident.service.me import who_am_i
from vident.service.schemas import Model
from vident.service.tokens import (
    MAX_DAYS,
    TokenCreatedOut,
    TokenOut,
    create_token,
    list_tokens,
    revoke_token,
)
from vident.service.user_changes import update_user
from vident.service.users import EnrolmentOut, UserListOut, UserOut, add_user, list_users
from vident.web.deps import ContextDep, SecurityDep
from vident.web.paging import Page, PageDep, paged

router = APIRouter(tags=["admin"])

#: Token ids the store can hold (a signed 64-bit integer on both backends).
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class AgencyIn(Model):
    name: str = Field(min_length=1, max_length=200)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2: GB, DE.")
    contact: str | None = Field(
        default=None, max_length=200, description="Whom other agencies call about alert hits."
    )


class UserIn(Model):
    username: str = Field(min_length=1, max_length=100)
    agency: str = Field(min_length=1, max_length=200)
    role: Role
    certified_until: date = Field(description="End of the user's security certification.")
    password: str | None = Field(
        default=None,
        max_length=1024,
        description="The initial password; left out, one is generated and shown once.",
    )


class UserChangeIn(Model):
    role: Role | None = None
    certified_until: date | None = None
    disabled: bool | None = Field(default=None, description="True stops every login and token.")


class TokenIn(Model):
    username: str | None = Field(
        default=None, max_length=100, description="The user it acts as; left out, the caller."
    )
    name: str = Field(min_length=1, max_length=200, description="What the token is for.")
    days: int = Field(ge=1, le=MAX_DAYS, description="Days until it expires.")
    scopes: list[str] = Field(default=["read"], max_length=20)


@router.get("/agencies", response_model=AgencyListOut)
def get_agencies(ctx: ContextDep) -> AgencyListOut:
    """Every agency, by name."""
    return list_agencies(ctx)


@router.post("/agencies", response_model=AgencyOut)
def post_agency(body: AgencyIn, ctx: ContextDep) -> AgencyOut:
    """Add an agency (system administrators only)."""
    return add_agency(ctx, body.name, body.country, body.contact)


@router.get("/users", response_model=UserListOut)
def get_users(ctx: ContextDep) -> UserListOut:
    """Every user (an agency administrator sees their own agency's)."""
    return list_users(ctx)


@router.post("/users", response_model=EnrolmentOut)
def post_user(body: UserIn, ctx: ContextDep, security: SecurityDep) -> EnrolmentOut:
    """Add a user; the answer holds their secrets, shown this once and never again.

    Hand the user the TOTP enrolment (``totp_uri``, or ``totp_qr_svg`` to scan), the recovery
    codes and, when none was given, the generated password.
    """
    return add_user(
        ctx,
        body.username,
        body.agency,
        body.role,
        body.certified_until,
        body.password,
        security=security,
    )


@router.patch("/users/{username}", response_model=UserOut)
def patch_user(username: str, body: UserChangeIn, ctx: ContextDep) -> UserOut:
    """Change a user's role, certification expiry or whether the account is disabled; all of
    the changes given are made, or none."""
    return update_user(
        ctx,
        username,
        role=body.role,
        certified_until=body.certified_until,
        disabled=body.disabled,
    )


@router.get("/tokens", response_model=Page[TokenOut])
def get_tokens(ctx: ContextDep, page: PageDep) -> Page[TokenOut]:
    """API tokens, newest first (never their secrets)."""
    return paged(list_tokens(ctx).tokens, page)


@router.post("/tokens", response_model=TokenCreatedOut)
def post_token(body: TokenIn, ctx: ContextDep) -> TokenCreatedOut:
    """Create an API token; its secret is in this answer only."""
    username = body.username or ctx.principal.name
    return create_token(ctx, username, body.name, body.days, body.scopes)


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def delete_token(token_id: TokenId, ctx: ContextDep) -> TokenOut:
    """Revoke an API token at once (it stays listed, with the time it was revoked)."""
    return revoke_token(ctx, token_id)


@router.get("/me", response_model=UserOut)
def get_me(ctx: ContextDep) -> UserOut:
    """The caller's own account: username, role, agency and certification expiry."""
    return who_am_i(ctx)
