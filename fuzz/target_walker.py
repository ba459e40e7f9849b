"""Fuzz target: the ingest walker on one file of fuzzed bytes (zip, tar, gz, bz2, xz seeds).

Contract: ``walk_source`` on an existing file never raises; every item has exactly one of
``fs_path``, ``data`` or ``error``; errors are one line; paths are storable text; nothing is
left in the temporary folder once spooled items are deleted.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from fuzz.contract import one_line_message, require
from vident.config import Limits
from vident.ingest.walk import walk_source


def make(scratch: Path) -> Callable[[bytes], None]:
    root = scratch / "evidence.bin"
    tmp = scratch / "tmp"
    limits = Limits()

    def one_input(data: bytes) -> None:
        root.write_bytes(data)
        try:
            for item in walk_source(root, limits, tmp):
                given = [item.fs_path is not None, item.data is not None, item.error is not None]
                require(sum(given) == 1, f"item {item.path!r} sets {given}")
                require(bool(item.path), "an item without a path")
                item.path.encode("utf-8")  # lone surrogates would break the store
                require("\x00" not in item.path, f"NUL in item path {item.path!r}")
                if item.error is not None:
                    one_line_message(item.error)
                if item.data is not None:
                    require(len(item.data) <= limits.max_file_bytes, "a member over the limit")
                if item.spooled and item.fs_path is not None:
                    Path(item.fs_path).unlink()
            leftovers = list(tmp.iterdir()) if tmp.exists() else []
            require(not leftovers, f"files left in the temporary folder: {leftovers}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    return one_input
