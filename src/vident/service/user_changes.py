"""Changing an account in one request: its role, its certification, whether it is disabled.

The command line has one command per change; an API client edits a user as one resource and
expects all of the changes or none. So the changes are made in one transaction, each checked
by the rule of its own command (an agency administrator acts on their own agency only and
grants no role above theirs) and each recorded under that command's audit action.
"""

from __future__ import annotations

from datetime import date

from vident.service.audit import record_in, require
from vident.service.context import Context, Role
from vident.service.errors import Invalid
from vident.service.users import ADMINS, UserOut, _agency_scope, _find, _grantable, user_out

__all__ = ["update_user"]


def update_user(
    ctx: Context,
    username: str,
    *,
    role: Role | None = None,
    certified_until: date | None = None,
    disabled: bool | None = None,
) -> UserOut:
    """Apply every change given to ``username``; a change not given leaves that field alone."""
    require(ctx, "user.update", username, ADMINS)
    if role is None and certified_until is None and disabled is None:
        raise Invalid("nothing to change: give a role, a certification date or disabled")
    with ctx.store.session() as session:
        user = _find(session, username)
        _agency_scope(ctx, "user.update", username, user.agency_id)
        if role is not None:
            _grantable(ctx, "user.role", username, role)
            _grantable(ctx, "user.role", username, Role(user.role))
            if role.value != user.role:
                detail = {"from": user.role, "to": role.value}
                user.role = role.value
                record_in(session, ctx, "user.role", username, "ok", detail)
        if certified_until is not None:
            user.certification_expires = certified_until
            until = {"until": certified_until.isoformat()}
            record_in(session, ctx, "user.certify", username, "ok", until)
        if disabled is not None and disabled != user.disabled:
            user.disabled = disabled
            record_in(session, ctx, "user.disable" if disabled else "user.enable", username, "ok")
        return user_out(session, user)
