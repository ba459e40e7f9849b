"""Every table of the store in one metadata: what migrations create and are checked against.

The table families are separate modules sharing :class:`vident.store.base.Base`; importing
them here registers each on the one metadata.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from vident.store import (
    generation,
    models,
    models_cases,
    models_exchange,
    models_jobs,
    models_security,
)
from vident.store.base import Base

#: The modules whose tables make up the store.
TABLE_MODULES = (
    models,
    models_security,
    models_cases,
    models_jobs,
    generation,
    models_exchange,
)

#: Every table of the store.
metadata: MetaData = Base.metadata
