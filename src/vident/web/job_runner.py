"""The server's background thread that runs queued ingest jobs one after another.

One job at a time: ingest already uses every core through its worker pool, and one data
directory has one set of index files. The thread starts with the app (after queuing again
the jobs a previous run left running), wakes when a job is submitted or every few seconds,
and stops between jobs when the app shuts down; a job cut off mid-way stays ``running`` in the
store and is resumed at the next start. A job that fails is recorded as failed with its
one-line reason (by the service) and the runner goes on with the next.
"""

from __future__ import annotations

import logging
import threading

from vident.config import Settings
from vident.security.settings import SecuritySettings
from vident.service.jobs import requeue_interrupted, run_next_job
from vident.store.db import Store

log = logging.getLogger(__name__)
#: Seconds between two looks for queued jobs when nobody wakes the runner.
POLL_SECONDS = 5.0


class JobRunner:
    def __init__(
        self, settings: Settings, store: Store, security: SecuritySettings | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.security = security
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="vident-jobs", daemon=True)
        self.users = 0

    def start(self) -> None:
        """Start the thread (again after a stop: an app may be entered more than once)."""
        self.users += 1
        if self.thread.is_alive():
            return
        requeue_interrupted(self.store)
        self.stopping.clear()
        self.thread = threading.Thread(target=self._loop, name="vident-jobs", daemon=True)
        self.thread.start()

    def notify(self) -> None:
        """A job was queued: look now."""
        self.wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop once the last of those who started it stops it."""
        self.users = max(self.users - 1, 0)
        if self.users:
            return
        self.stopping.set()
        self.wake.set()
        self.thread.join(timeout)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                ran = run_next_job(self.settings, self.store, self.security)
            except Exception as exc:
                log.error("cannot look for ingest jobs: %s", exc)
                ran = False
            if not ran:
                self.wake.wait(POLL_SECONDS)
