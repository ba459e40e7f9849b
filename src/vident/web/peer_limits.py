"""How often each peer may call: a sliding minute per peer, kept by the running server.

A peer that asks too often (a loop gone wrong, a compromised instance probing hashes) gets 429
and its caller backs off; other peers and the analysts are not slowed by it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class PeerLimits:
    """At most ``per_minute`` requests of one peer in any 60 seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, peer: str, per_minute: int) -> bool:
        """Count a call of ``peer``; False (not counted) when it made ``per_minute`` already."""
        now = self._clock()
        with self._lock:
            calls = self._recent(peer, now)
            if len(calls) >= per_minute:
                return False
            calls.append(now)
            return True

    def exceeded(self, key: str, per_minute: int) -> bool:
        """Whether ``key`` was counted ``per_minute`` times in the last minute (no count)."""
        now = self._clock()
        with self._lock:
            return len(self._recent(key, now)) >= per_minute

    def note(self, key: str) -> None:
        """Count one event of ``key`` (a refused request from an address)."""
        now = self._clock()
        with self._lock:
            self._recent(key, now).append(now)

    def _recent(self, key: str, now: float) -> deque[float]:
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - 60.0:
            calls.popleft()
        return calls
