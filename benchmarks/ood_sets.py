"""The data of the OOD score: in-distribution crops, the stress sets made from them, features.

Shared by `scripts/fit_ood.py` (fit on train, choose on val) and `benchmarks/ood.py` (report
on test). In-distribution: the aligned 224 px crops of DFA-Instruct v3
(`.cache/instruct-v3/images`, margin 0.25 like the analysis' crops), one row per image
(records deduplicated), each with its split, label and category; read only, never written.

Stress sets are made here, deterministically, from the crops of one split (seeded per set
and image): out-of-distribution ones (cartoon, pencil sketch, colour inversion, heavy noise,
extreme blur, JPEG quality 5, patches of scikit-image's bundled non-face photos) and benign
ones a real photo often goes through (JPEG 70, half resolution, grey scale) that should stay
inside. Features (the detector's pooled, mirror-averaged backbone features), P(fake) and the
category probabilities come from `predict_crops`, the analysis' own path, and are cached in
`.cache/ood/<model.onnx sha256>/<set>.npz`.
"""

from __future__ import annotations

import json
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from opendfa.models.detector_base import DetectorRuntime, predict_crops  # noqa: E402
from opendfa.taxonomy import CATEGORIES  # noqa: E402

DATA = ROOT / ".cache" / "instruct-v3"
CACHE = ROOT / ".cache" / "ood"
SIDE = 224
VERSION = 1  # of the transforms: part of every cache key
OOD_KINDS = ("cartoon", "sketch", "inverted", "noise", "blur", "jpeg5", "nonface")
BENIGN_KINDS = ("jpeg70", "half", "grey")
# Non-face photos bundled with scikit-image (no download); the astronaut and the cameraman,
# who have faces, are left out. Alternate ones go to val and to test.
NONFACE_SOURCES = (
    "brick.png",
    "cell.png",
    "chelsea.png",
    "chessboard_RGB.png",
    "clock_motion.png",
    "coffee.png",
    "coins.png",
    "color.png",
    "grass.png",
    "gravel.png",
    "horse.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "logo.png",
    "microaneurysms.png",
    "moon.png",
    "motorcycle_left.png",
    "page.png",
    "phantom.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
)


@dataclass(frozen=True)
class Crop:
    image: str  # relative to DATA
    split: str
    label: str
    category: str


def read_split(split: str) -> list[Crop]:
    """One row per image of a DFA-Instruct split (its records repeat images), sorted."""
    records = json.loads((DATA / f"{split}.json").read_text(encoding="utf-8"))
    rows = {r["image"]: Crop(r["image"], r["split"], r["label"], r["category"]) for r in records}
    return [rows[name] for name in sorted(rows)]


def load_crop(crop: Crop) -> np.ndarray:
    bgr = cv2.imread(str(DATA / crop.image), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[:2] != (SIDE, SIDE):
        raise ValueError(f"not a {SIDE} px crop: {crop.image}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def sample(crops: list[Crop], count: int, seed: int) -> list[Crop]:
    """`count` crops drawn without replacement (all when there are fewer), in sorted order."""
    if count >= len(crops):
        return list(crops)
    pick = np.random.default_rng(seed).choice(len(crops), count, replace=False)
    return [crops[i] for i in sorted(pick)]


# ----------------------------------------------------------------------------- transforms


def _seed(kind: str, image: str) -> int:
    return zlib.crc32(f"{VERSION}:{kind}:{image}".encode())


def cartoon(rgb: np.ndarray) -> np.ndarray:
    """Bilateral smoothing, colours posterised to 4 levels a channel, dark edge lines."""
    smooth = rgb
    for _ in range(5):
        smooth = cv2.bilateralFilter(smooth, 9, 75, 75)
    flat = (smooth // 64) * 64 + 32
    grey = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 7)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 2)
    return cv2.bitwise_and(flat, flat, mask=edges).astype(np.uint8)


def sketch(rgb: np.ndarray) -> np.ndarray:
    """A pencil drawing: the grey image divided by its blurred negative (colour dodge)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(255 - grey, (21, 21), 0)
    drawing = cv2.divide(grey, 255 - blurred, scale=256)
    return cv2.cvtColor(drawing, cv2.COLOR_GRAY2RGB)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def noise(rgb: np.ndarray, seed: int, sigma: float = 50.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rgb + rng.normal(0, sigma, rgb.shape), 0, 255).astype(np.uint8)


def half(rgb: np.ndarray) -> np.ndarray:
    """Half the resolution, brought back to the crop's size (a face half as wide)."""
    small = cv2.resize(rgb, (SIDE // 2, SIDE // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)


def transform(kind: str, rgb: np.ndarray, image: str) -> np.ndarray:
    """`rgb` under one stress kind (`nonface` is made by `nonface_patches` instead)."""
    if kind == "clean":
        return rgb
    if kind == "cartoon":
        return cartoon(rgb)
    if kind == "sketch":
        return sketch(rgb)
    if kind == "inverted":
        return 255 - rgb
    if kind == "noise":
        return noise(rgb, _seed(kind, image))
    if kind == "blur":
        return cv2.GaussianBlur(rgb, (0, 0), 8)
    if kind == "jpeg5":
        return jpeg(rgb, 5)
    if kind == "jpeg70":
        return jpeg(rgb, 70)
    if kind == "half":
        return half(rgb)
    if kind == "grey":
        return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    raise ValueError(f"unknown stress kind {kind!r}")


def nonface_sources(split: str) -> list[str]:
    """The non-face photos of a split: alternate ones for val and test."""
    return list(NONFACE_SOURCES[0 if split == "val" else 1 :: 2])


def nonface_patches(split: str, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """`count` square patches (a quarter to all of the shorter side) of the split's non-face
    photos, at random places, resized to the crop size."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    photos = []
    for name in nonface_sources(split):
        bgr = cv2.imread(str(folder / name), cv2.IMREAD_COLOR)
        photos.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    rng = np.random.default_rng(seed)
    for _ in range(count):
        photo = photos[rng.integers(len(photos))]
        height, width = photo.shape[:2]
        side = int(rng.integers(min(height, width) // 4, min(height, width) + 1))
        y, x = int(rng.integers(0, height - side + 1)), int(rng.integers(0, width - side + 1))
        patch = photo[y : y + side, x : x + side]
        method = cv2.INTER_AREA if side > SIDE else cv2.INTER_LINEAR
        yield cv2.resize(patch, (SIDE, SIDE), interpolation=method)


# ----------------------------------------------------------------------------- features


@dataclass
class Scored:
    """What the detector made of one set: features, P(fake), category probabilities."""

    name: str
    features: np.ndarray  # (N, C) float32
    fake_probability: np.ndarray  # (N,)
    categories: np.ndarray  # (N, len(CATEGORIES))
    labels: np.ndarray  # (N,) the crops' categories ("" for non-faces)

    @property
    def fake(self) -> np.ndarray:
        return self.labels != "real"


def stress_set(split: str, kind: str, crops: list[Crop]) -> Iterator[tuple[str, np.ndarray]]:
    """(label, rgb) of every crop under `kind`; `nonface` ignores `crops` but for its size."""
    if kind == "nonface":
        for rgb in nonface_patches(split, len(crops)):
            yield "", rgb
        return
    for crop in crops:
        yield crop.category, transform(kind, load_crop(crop), crop.image)


def score_set(
    detector: DetectorRuntime,
    name: str,
    items: Callable[[], Iterator[tuple[str, np.ndarray]]],
    *,
    batch: int = 32,
) -> Scored:
    """`predict_crops` over `items()` (label, rgb crop), cached by model export and name."""
    digest = detector.info.get("onnx", {}).get("sha256", detector.weights_sha256)[:16]
    path = CACHE / digest / f"v{VERSION}-{name}.npz"
    if path.exists():
        data = np.load(path)
        return Scored(name, *(data[k] for k in ("features", "p", "categories", "labels")))
    start, features, p, categories, labels = time.perf_counter(), [], [], [], []
    pending: list[tuple[str, np.ndarray]] = []

    def flush() -> None:
        for prediction in predict_crops(detector, np.stack([rgb for _, rgb in pending])):
            if prediction.features is None:
                raise RuntimeError("this detector's runtime gives no pooled features")
            features.append(prediction.features)
            p.append(prediction.fake_probability)
            categories.append([prediction.category_probabilities[c] for c in CATEGORIES])
        labels.extend(label for label, _ in pending)
        pending.clear()

    for item in items():
        pending.append(item)
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    scored = Scored(
        name,
        np.asarray(features, np.float32),
        np.asarray(p, np.float64),
        np.asarray(categories, np.float64),
        np.asarray(labels),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        features=scored.features,
        p=scored.fake_probability,
        categories=scored.categories,
        labels=scored.labels,
    )
    tmp.replace(path)
    print(f"  {name}: {len(labels)} crops, {time.perf_counter() - start:.0f} s", flush=True)
    return scored


def score_split(detector: DetectorRuntime, split: str, kind: str, count: int) -> Scored:
    """The detector on `count` crops of `split` (all: count 0) under `kind` (or "clean")."""
    crops = read_split(split)
    chosen = crops if count <= 0 else sample(crops, count, seed=_seed("sample", split))
    name = f"{split}-{kind}-{count or 'all'}"
    return score_set(detector, name, lambda: stress_set(split, kind, chosen))
