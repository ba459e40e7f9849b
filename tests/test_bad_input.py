"""Bad input is expected input: each bad file is an error item with a reason, the job goes on."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
import zlib
from pathlib import Path

from tests.conftest import jpeg_bytes, write_jpeg
from tests.test_cli import vident


def _outside(root: Path, data: Path) -> set[Path]:
    """Everything under ``root`` except the data directory and its contents."""
    return {p for p in root.rglob("*") if p != data and data not in p.parents}


def test_a_hostile_seizure_is_triaged_with_reasons(tmp_path: Path) -> None:
    seizure = tmp_path / "seizure"
    write_jpeg(seizure / "good.jpg", 1)
    (seizure / "zero.jpg").write_bytes(b"")
    (seizure / "letter.jpg").write_text("Dear Sir,\nthis is text.\n")
    (seizure / "cut.jpg").write_bytes(jpeg_bytes(2)[:2500])
    (seizure / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4000))
    # A PNG header claiming 100000 x 100000 pixels.
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "PNG")
    png = bytearray(buffer.getvalue())
    png[16:24] = (100000).to_bytes(4, "big") * 2
    png[29:33] = zlib.crc32(bytes(png[12:29])).to_bytes(4, "big")
    (seizure / "bomb.png").write_bytes(bytes(png))
    (seizure / "passwd.jpg").symlink_to("/etc/passwd")
    with zipfile.ZipFile(seizure / "archive.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner/ok.jpg", jpeg_bytes(3))
        archive.writestr("../escape.jpg", jpeg_bytes(4))
        archive.writestr("/abs.jpg", jpeg_bytes(5))
        archive.writestr("zeros.bin", b"\0" * (8 * 1024 * 1024))
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        payload = jpeg_bytes(6)
        info = tarfile.TarInfo("deep/n.jpg")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    with zipfile.ZipFile(seizure / "nested.zip", "w") as archive:
        archive.writestr("photos.tar.gz", inner.getvalue())

    data = tmp_path / "data"
    outside_before = _outside(tmp_path, data)
    vident(data, "init")
    os.environ["VIDENT_MAX_COMPRESSION_RATIO"] = "100"
    try:
        code, _, err = vident(data, "ingest", str(seizure), "--source", "s", "--workers", "2")
    finally:
        del os.environ["VIDENT_MAX_COMPRESSION_RATIO"]
    assert code == 0, err
    _, out, _ = vident(data, "triage", "--source", "s", "--format", "json")
    items = {i["path"]: i for i in json.loads(out)["items"]}

    def error(path: str) -> str:
        assert items[path]["verdict"] == "error", items[path]
        return str(items[path]["error"])

    assert items["good.jpg"]["verdict"] == "new"
    assert items["archive.zip/inner/ok.jpg"]["verdict"] == "new"
    assert items["nested.zip/photos.tar.gz/deep/n.jpg"]["verdict"] == "new"
    assert "empty" in error("zero.jpg")
    assert "text" in error("letter.jpg")
    assert "truncated" in error("cut.jpg")
    assert error("corrupt.jpg")
    assert "100000" in error("bomb.png") and "bomb" in error("bomb.png")
    assert "outside the source" in error("passwd.jpg")
    assert "unsafe path" in error("archive.zip/../escape.jpg")
    assert "unsafe path" in error("archive.zip//abs.jpg")
    assert "ratio" in error("archive.zip/zeros.bin")
    assert all("\n" not in str(i["error"] or "") for i in items.values())
    # Nothing was written outside the data directory.
    assert _outside(tmp_path, data) == outside_before
