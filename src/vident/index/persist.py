"""On-disk snapshots of a binary index: one file, replaced atomically, checked on load.

The index is a cache of the store, so a snapshot only has to be either right or visibly
wrong: everything (codes, refs, the store watermarks it reflects) lives in one ``.npz`` file
with a SHA-256 over its contents. It is written beside its final name and moved over it with
``os.replace``, so a crash leaves the old snapshot or the new one, never a mixture; a file
that fails any check is reported as corrupt and the caller rebuilds from the store.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vident.index.hamming import Codes, Rows

FILE_NAME = "binary_index.npz"
FORMAT_VERSION = 1
_MEMBERS = frozenset({"header", "codes", "refs", "meta_keys", "meta_values", "digest"})


class CorruptSnapshot(Exception):
    """The snapshot file exists but cannot be trusted."""


@dataclass(frozen=True)
class Snapshot:
    bits: int
    codes: Codes
    refs: Rows
    meta: dict[str, int]


def _digest(
    header: np.ndarray, codes: Codes, refs: Rows, keys: list[str], values: np.ndarray
) -> bytes:
    h = hashlib.sha256()
    for part in (header, codes, refs, values):
        h.update(np.ascontiguousarray(part).tobytes())
    h.update("\0".join(keys).encode("utf-8"))
    return h.digest()


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_snapshot(directory: Path, snapshot: Snapshot) -> Path:
    """Write the snapshot into ``directory`` (created if needed); returns the file's path."""
    for key, value in snapshot.meta.items():
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"meta must map str to int, got {key!r}: {value!r}")
    directory.mkdir(parents=True, exist_ok=True)
    keys = list(snapshot.meta)
    values = np.array([snapshot.meta[k] for k in keys], dtype=np.int64)
    header = np.array([FORMAT_VERSION, snapshot.bits], dtype=np.int64)
    digest = _digest(header, snapshot.codes, snapshot.refs, keys, values)
    target = directory / FILE_NAME
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{FILE_NAME}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(
                fh,
                header=header,
                codes=snapshot.codes,
                refs=snapshot.refs,
                meta_keys=np.array(keys, dtype=np.str_),
                meta_values=values,
                digest=np.frombuffer(digest, dtype=np.uint8),
            )
            fh.flush()
            os.fsync(fh.fileno())
        temp.replace(target)  # os.replace: atomic on POSIX
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)
    return target


def read_snapshot(directory: Path) -> Snapshot | None:
    """The snapshot in ``directory``, None if there is none; CorruptSnapshot if untrustworthy."""
    path = directory / FILE_NAME
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            if set(npz.files) != _MEMBERS:
                raise CorruptSnapshot(f"unexpected members {sorted(npz.files)}")
            arrays = {name: npz[name] for name in _MEMBERS}
    except CorruptSnapshot:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise CorruptSnapshot(f"unreadable: {exc}") from exc
    header, codes, refs = arrays["header"], arrays["codes"], arrays["refs"]
    keys_array, values = arrays["meta_keys"], arrays["meta_values"]
    if header.dtype != np.int64 or header.shape != (2,) or int(header[0]) != FORMAT_VERSION:
        raise CorruptSnapshot("unknown format")
    bits = int(header[1])
    if bits <= 0 or bits % 8:
        raise CorruptSnapshot(f"bad code length {bits}")
    if codes.dtype != np.uint8 or codes.ndim != 2 or codes.shape[1] != bits // 8:
        raise CorruptSnapshot(f"bad codes array {codes.dtype} {codes.shape}")
    if refs.dtype != np.int64 or refs.shape != (codes.shape[0],):
        raise CorruptSnapshot(f"bad refs array {refs.dtype} {refs.shape}")
    if keys_array.dtype.kind != "U" or values.dtype != np.int64:
        raise CorruptSnapshot("bad meta arrays")
    if keys_array.ndim != 1 or values.shape != keys_array.shape:
        raise CorruptSnapshot("bad meta arrays")
    keys = [str(k) for k in keys_array.tolist()]
    expected = _digest(header, codes, refs, keys, values)
    if arrays["digest"].tobytes() != expected:
        raise CorruptSnapshot("digest mismatch")
    meta = dict(zip(keys, (int(v) for v in values.tolist()), strict=True))
    return Snapshot(bits=bits, codes=codes, refs=refs, meta=meta)
