"""Indexes over signal values: caches of the store, rebuilt from it when missing or damaged.

FAISS runs its scans on OpenMP threads that by default spin while they wait for work. On a
small machine shared with ingest workers those spinning threads take the cores the others
need, and a single PDQ query against a small FAISS index measured 9-24 ms instead of 0.1 ms.
Passive waiting costs nothing measurable on large batches, so it is the default here unless
the environment already chose; it only takes effect if set before OpenMP starts, which is why
it lives in the package that imports FAISS.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
