"""Who am I: the account a caller of the API acts as, read back by the caller themselves.

Every role may ask, the auditor included: a client shows whose name it works under and when
their certification runs out (after which every login and token is refused).
"""

from __future__ import annotations

from vident.service.context import Context, Role
from vident.service.errors import NotFound
from vident.service.use_case import use_case
from vident.service.users import UserOut, user_out
from vident.store.models_security import User

__all__ = ["who_am_i"]

EVERY_ROLE = frozenset(Role)


@use_case("user.me", EVERY_ROLE)
def who_am_i(ctx: Context) -> UserOut:
    """The caller's own account: username, role, agency and certification expiry."""
    user_id = ctx.principal.user_id
    with ctx.store.reader() as session:
        user = session.get(User, user_id) if user_id is not None else None
        if user is None:
            raise NotFound(f"{ctx.principal.name} acts without a user account (the local operator)")
        return user_out(session, user)
