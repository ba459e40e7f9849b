"""The plain records that flow through the ingest pipeline.

Work items go from the walker (parent process) to workers; results come back to the single
writer. Both are small, picklable dataclasses so the same pipeline runs in one process, in a
process pool or on a distributed engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vident.store.results import FileTimes, ItemResult

__all__ = ["FileTimes", "ItemResult", "WorkItem"]


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One file of a source, found by the walker.

    ``path`` is the path inside the source, ``/``-separated; a member of an archive is
    ``archive.zip/inner/path``. Exactly one of ``fs_path`` (a regular file the worker reads
    itself), ``data`` (bytes of an archive member, read under the limits) or ``error`` (the
    walker already knows this item cannot be read, and why) is set. ``spooled`` marks an
    ``fs_path`` that is a temporary copy of a large archive member inside the data directory,
    deleted once the item's result is stored. ``deleted`` marks a file read from a disk
    image through its file system's record of a deleted file.
    """

    path: str
    size: int | None = None
    times: FileTimes = field(default_factory=FileTimes)
    fs_path: str | None = None
    data: bytes | None = None
    error: str | None = None
    spooled: bool = False
    deleted: bool = False
