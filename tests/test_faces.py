"""Face detection and embedding: both built-in backends, a user's ONNX model, the signal.

Corpus pictures are small ones (kit_with_rose.jpg is 501x700 with two faces), and each is
analysed once per model (module-scoped caches), so the file stays fast on a busy machine.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import pytest
from bench.quality_faces import at_far, roc_auc
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from tests.conftest import CORPUS
from vident.config import Limits
from vident.media.faces import (
    DEFAULT_FACE_MODEL,
    FaceModel,
    FaceResult,
    configured_face_model,
    load_face_model,
)
from vident.media.faces.select import parse_onnx_spec, use_face_model
from vident.media.image import decode_image
from vident.media.types import DecodedImage
from vident.signals.face import Face

needs_corpus = pytest.mark.skipif(
    CORPUS is None or not (CORPUS / "faces").is_dir(), reason="shared corpus not available"
)
GROUP = "faces/_group/kit_with_rose.jpg"  # Rose Leslie on the left, Kit Harington on the right
ROSE = "faces/rose_leslie/img2.jpg"
KIT = "faces/kit_harington/john2.jpeg"
BACKENDS = ("facenet", "dlib")

Analyse = Callable[[str, str], FaceResult]


def _decode(data: bytes) -> DecodedImage:
    return decode_image(data, Limits())


def _corpus_bytes(rel: str) -> bytes:
    assert CORPUS is not None
    return (CORPUS / rel).read_bytes()


def _tripled_jpeg(rel: str) -> bytes:
    """The picture at three times its size: decoded reduced, so boxes must be scaled back."""
    with Image.open(io.BytesIO(_corpus_bytes(rel))) as img:
        big = img.convert("RGB").resize((img.width * 3, img.height * 3), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    big.save(out, "JPEG", quality=92)
    return out.getvalue()


@pytest.fixture(scope="module")
def analyse() -> Analyse:
    """detect_and_embed of (backend, picture), each computed once for the whole module."""
    cache: dict[tuple[str, str], FaceResult] = {}

    def run(backend: str, rel: str) -> FaceResult:
        if (backend, rel) not in cache:
            data = _tripled_jpeg(GROUP) if rel == "tripled" else _corpus_bytes(rel)
            cache[backend, rel] = load_face_model(backend).detect_and_embed(_decode(data))
        return cache[backend, rel]

    return run


def _centre_x(box: tuple[float, float, float, float]) -> float:
    return box[0] + box[2] / 2


@needs_corpus
@pytest.mark.parametrize("backend", BACKENDS)
def test_group_photo_has_two_faces_in_full_image_pixels(backend: str, analyse: Analyse) -> None:
    found = analyse(backend, GROUP)
    assert len(found) == 2
    model = load_face_model(backend)
    for face, vector in found:
        x, y, w, h = face.box
        assert x >= 0 and y >= 0 and x + w <= 501 * 1.05 and y + h <= 700 * 1.05
        assert 60 < w < 160 and 60 < h < 160  # both faces are about 100 px wide
        assert len(face.landmarks) == 5
        assert all(x - w * 0.2 <= px <= x + w * 1.2 for px, _ in face.landmarks)
        assert 0 <= face.quality <= 100
        assert vector.shape == (model.dim,) and vector.dtype == np.float32
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)


@needs_corpus
@pytest.mark.parametrize("backend", BACKENDS)
def test_same_person_is_closer_than_another(backend: str, analyse: Analyse) -> None:
    group = sorted(analyse(backend, GROUP), key=lambda item: _centre_x(item[0].box))
    rose_in_group, kit_in_group = group[0][1], group[1][1]
    rose = analyse(backend, ROSE)[0][1]
    kit = analyse(backend, KIT)[0][1]
    assert rose @ rose_in_group > rose @ kit_in_group
    assert kit @ kit_in_group > kit @ rose_in_group
    threshold = load_face_model(backend).min_similarity
    assert rose @ rose_in_group >= threshold and kit @ kit_in_group >= threshold
    assert rose @ kit < threshold


@needs_corpus
@pytest.mark.parametrize("backend", BACKENDS)
def test_boxes_follow_the_stored_size(backend: str, analyse: Analyse) -> None:
    small = sorted(analyse(backend, GROUP), key=lambda item: _centre_x(item[0].box))
    big = sorted(analyse(backend, "tripled"), key=lambda item: _centre_x(item[0].box))
    assert len(big) == len(small) == 2
    for (a, va), (b, vb) in zip(small, big, strict=True):
        for s, t in zip(a.box, b.box, strict=True):
            assert t == pytest.approx(3 * s, abs=0.15 * max(a.box[2], a.box[3]) * 3)
        assert va @ vb > 0.85  # the same face, whatever the size it was stored at


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_face_gives_an_empty_answer(backend: str) -> None:
    ramp = np.linspace(0, 255, 512, dtype=np.float32)
    pixels = np.stack([np.add.outer(ramp, ramp) / 2] * 3, axis=2).astype(np.uint8)
    image = DecodedImage(Image.fromarray(pixels), 512, 512, "PNG")
    assert load_face_model(backend).detect_and_embed(image) == []


def test_face_signal_on_a_picture_without_faces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDENT_FACE_MODEL", raising=False)
    image = DecodedImage(Image.new("RGB", (300, 200), (90, 140, 200)), 3000, 2000, "JPEG")
    value = Face().compute(image)
    assert value is not None
    assert value.kind == "face" and value.version == 1 and value.value == b""
    assert value.detail == {"faces": []}
    assert value.model == load_face_model(DEFAULT_FACE_MODEL).name
    assert Face().vectors(value.value).shape == (0, Face().dim)
    assert Face.min_similarity == load_face_model("facenet").min_similarity


def test_configured_model_follows_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The model comes from the injected settings; media code never reads the environment."""
    from vident.config import Settings
    from vident.media.runtime import keep_inside

    monkeypatch.setenv("VIDENT_FACE_MODEL", "dlib")  # ignored: only Settings reads it
    assert configured_face_model() is load_face_model(DEFAULT_FACE_MODEL)
    undo = keep_inside(Settings(data=tmp_path / "data", face_model="dlib"))
    try:
        assert configured_face_model() is load_face_model("dlib")
        assert Face().model == "dlib-resnet-v1" and Face().dim == 128
    finally:
        undo()
    assert configured_face_model() is load_face_model(DEFAULT_FACE_MODEL)
    previous = use_face_model(" ")
    try:
        assert configured_face_model() is load_face_model(DEFAULT_FACE_MODEL)
    finally:
        use_face_model(previous)


@needs_corpus
def test_face_signal_value_and_detail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDENT_FACE_MODEL", raising=False)
    kind = Face()
    value = kind.compute(_decode(_corpus_bytes(GROUP)))
    assert value is not None
    assert value.kind == "face" and value.version == 1 and value.quality is None
    assert value.model == kind.model == "facenet-mtcnn-v1"
    assert len(value.value) == 2 * kind.dim * 4
    vectors = kind.vectors(value.value)
    assert vectors.shape == (2, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert value.detail is not None
    faces = value.detail["faces"]
    assert len(faces) == 2
    for face in faces:
        assert set(face) == {"box", "landmarks", "score", "quality"}
        assert len(face["box"]) == 4 and len(face["landmarks"]) == 5
        assert isinstance(face["quality"], int) and 0 <= face["quality"] <= 100
    assert kind.similarity(value.value, value.value) == pytest.approx(1.0, abs=1e-4)
    assert kind.model_min_similarity == kind.min_similarity


def _tiny_embedder(path: Path, size: int, dim: int, channels_last: bool = False) -> None:
    """An ONNX "face model": a fixed random projection of the pixels (batch size free)."""
    shape: list[str | int] = ["N", size, size, 3] if channels_last else ["N", 3, size, size]
    weights = np.random.default_rng(7).standard_normal((3 * size * size, dim)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["pixels"], ["flat"], axis=1),
            helper.make_node("MatMul", ["flat", "w"], ["embedding"]),
        ],
        "tiny_face_embedder",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])],
        [numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@needs_corpus
def test_user_onnx_model(tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    _tiny_embedder(path, 32, 16)
    model: FaceModel = load_face_model(f"{path}?size=32&mean=127.5&std=128&threshold=0.5")
    assert model.dim == 16 and model.min_similarity == 0.5
    assert model.name.startswith("onnx-") and "-32-127.5-128-rgb" in model.name
    found = model.detect_and_embed(_decode(_corpus_bytes(GROUP)))
    assert len(found) == 2
    for _, vector in found:
        assert vector.shape == (16,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
    other = load_face_model(f"{path}?size=32&std=64")
    assert other.name != model.name  # another normalisation gives other vectors


def test_user_onnx_model_channels_last(tmp_path: Path) -> None:
    from vident.media.faces.onnx_model import OnnxModel

    path = tmp_path / "nhwc.onnx"
    _tiny_embedder(path, 24, 8, channels_last=True)
    model = OnnxModel(parse_onnx_spec(f"{path}?size=24&order=bgr&mean=0,0,0&std=1,1,1"))
    crops: list[npt.NDArray[np.uint8]] = [
        np.full((24, 24, 3), 10 * i, dtype=np.uint8) for i in range(1, 4)
    ]
    vectors = model.embed_crops(crops)
    assert vectors.shape == (3, 8)
    # A constant picture projects onto one direction whatever its brightness.
    assert np.allclose(vectors @ vectors.T, 1.0, atol=1e-4)


def test_user_onnx_model_of_another_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fixed.onnx"
    _tiny_embedder(path, 32, 8)  # Flatten + MatMul fixes the input at 32x32
    graph = onnx.load(str(path))
    dims = graph.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = 32, 32
    onnx.save(graph, str(path))
    with pytest.raises(ValueError, match="size=24"):
        _ = load_face_model(f"{path}?size=24").dim


@pytest.mark.parametrize(
    "spec",
    ["model.pt", "/x/model.onnx?size=abc", "/x/model.onnx?colour=1", "/x/m.onnx?order=gbr"],
)
def test_bad_model_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        load_face_model(spec)


def test_verification_figures() -> None:
    positives = [0.9, 0.8, 0.7, 0.2]
    negatives = [0.1 * i for i in range(100)]  # 0.0 .. 9.9: only the top one may pass
    tar, threshold = at_far(positives, negatives, far=0.01)
    assert threshold == pytest.approx(9.8)  # one negative (9.9) may pass: FAR 1%
    assert tar == 0.0
    assert roc_auc([1.0, 2.0], [0.0, 1.0]) == pytest.approx(0.875)
