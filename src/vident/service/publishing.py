"""Publishing this instance's own shared material into the shared list, when it changed.

Every exchange (a pull served, a push, a match, a bundle, an alert scan) first brings the
shared list up to date; the store's generation says whether anything changed since the last
time, so an idle instance answers without reading its cases again.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from vident.exchange.shared import publish_local
from vident.service.context import Context
from vident.service.peers import load_identity
from vident.store.generation import current_generation
from vident.store.models_exchange import ExchangeState

_PUBLISHED = "published_generation"


def publish_if_changed(ctx: Context, session: Session) -> None:
    """Publish this instance's own shared material when the store changed since last time."""
    generation = current_generation(session)[1]
    state = session.get(ExchangeState, _PUBLISHED)
    if state is not None and state.value == generation:
        return
    publish_local(session, load_identity(ctx).name)
    if state is None:
        session.add(ExchangeState(name=_PUBLISHED, value=generation))
    else:
        state.value = generation
