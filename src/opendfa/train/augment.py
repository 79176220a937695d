"""Augmentations of aligned training crops: mirror flips and online self-blending (SBI).

`opendfa.forge.self_blend` needs the face's 478 landmarks, which the crop cache does not keep
(it stores the crop, its mask and the 12 region masks). Online SBI here therefore builds the
blending mask from the crop's region masks, which the dataset derives from those landmarks:

- `full`: the `skin` region (the whole face inside the mesh outline),
- `lower`: the skin from the top of the nose down,
- `inner`: the skin without the `face_boundary` band,
- `oval`: the convex hull of the skin.

Then, as in the SBI recipe (`opendfa.forge.selfblend.sbi_mask`), the mask is elastically
deformed, eroded or dilated, blurred and scaled by a blend ratio, and the crop is blended with
`sbi_source(crop)`: a recoloured, resharpened or blurred, slightly shifted copy of itself.
Crops without region masks (pre-aligned inputs, whose regions are all-ones) use an ellipse
around the canonical face position instead. The result is a `face_swap`-category fake whose
mask is exactly the blending weight.

Benign processing (`benign_process`) is what honest photos go through on their way to an
analyst: a JPEG re-save, a down-and-up resize, a phone-like sharpening, a denoise or a mild
blur. It is applied to reals and fakes alike with the label kept, so that none of it is a cue
for "fake": a detector trained without it took a denoised genuine face for skin smoothing
(`benchmarks/benign_false_positives.md`). WebP is left out on purpose, so that one benign
operation stays unseen in training and its false-positive rate is a held-out figure.

A user's phone or editor processes the whole photo, at the face's own resolution, before
anything is aligned; the analysis then upsamples a ~100 px face to the crop. Processing the
224 px crop instead is a milder operation than the one users apply (a 3 px median on the crop
is a 1.3 px median on the face). So `benign_process` takes the face's scale (source pixels
per crop pixel, `native_scale`) and works at that resolution: the crop goes down to the
face's own size, the operation runs there, and only its change comes back up (resampling the
crop down and up again would blur it by itself). Denoisers, the worst false-positive row of
the benchmark, are drawn twice as often as each other operation (`BENIGN_WEIGHTS`).
"""

from __future__ import annotations

import cv2
import numpy as np

from opendfa.faces.regions import MIRRORED_REGIONS, REGION_NAMES
from opendfa.forge.selfblend import BLEND_RATIOS, elastic_deform, sbi_source
from opendfa.forge.warp import composite

_INDEX = {name: i for i, name in enumerate(REGION_NAMES)}
HULL_TYPES = ("full", "lower", "inner", "oval")
BENIGN_OPERATIONS = ("jpeg", "resize", "sharpen", "denoise", "blur")
BENIGN_WEIGHTS = np.array([1.0, 1.0, 1.0, 2.0, 1.0]) / 6.0  # per BENIGN_OPERATIONS
NATIVE_SCALE_RANGE = (0.25, 1.0)  # below 0.25 the face is tiny (abstention's floor is 64 px)
DENOISERS = ("median", "bilateral", "nlmeans", "gaussian")
_INTERPOLATIONS = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_CUBIC)


def flip_crop(
    image: np.ndarray, mask: np.ndarray, regions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror a crop (S,S,3), its mask (S,S) and regions (12,S,S); left and right swap names."""
    return (
        np.ascontiguousarray(image[:, ::-1]),
        np.ascontiguousarray(mask[:, ::-1]),
        np.ascontiguousarray(regions[list(MIRRORED_REGIONS)][:, :, ::-1]),
    )


def face_hull(regions: np.ndarray, hull: str) -> np.ndarray:
    """uint8 {0,1} mask of the face area to blend, from the crop's region masks."""
    size = regions.shape[-1]
    skin = regions[_INDEX["skin"]].astype(bool)
    if not skin.any() or skin.mean() > 0.9:  # no usable regions: canonical ellipse
        out = np.zeros((size, size), np.uint8)
        centre = (size // 2, int(size * 0.53))
        cv2.ellipse(out, centre, (int(size * 0.27), int(size * 0.34)), 0, 0, 360, 1, -1)
        return out
    if hull == "lower":
        nose_rows = np.nonzero(regions[_INDEX["nose"]].any(1))[0]
        top = int(nose_rows.min()) if nose_rows.size else size // 2
        chosen = skin.copy()
        chosen[:top] = False
        return chosen.astype(np.uint8)
    if hull == "inner":
        inner = skin & ~regions[_INDEX["face_boundary"]].astype(bool)
        return (inner if inner.any() else skin).astype(np.uint8)
    if hull == "oval":
        points = cv2.findNonZero(skin.astype(np.uint8))
        out = np.zeros((size, size), np.uint8)
        cv2.fillConvexPoly(out, cv2.convexHull(points), 1)
        return out
    return skin.astype(np.uint8)


def crop_sbi_mask(regions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A deformed, eroded or dilated, blurred face-hull blending mask, float32 in [0, 1]."""
    size = regions.shape[-1]
    mask = face_hull(regions, str(rng.choice(HULL_TYPES))).astype(np.float32)
    xs = np.nonzero(mask)[1]
    width = float(np.ptp(xs)) if xs.size else size * 0.5
    mask = elastic_deform(mask, rng, alpha=float(rng.uniform(0.02, 0.06)) * width)
    kernel_size = max(3, int(width * rng.uniform(0.02, 0.08)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    morph = str(rng.choice(["erode", "dilate", "none"]))
    if morph == "erode":
        mask = cv2.erode(mask, kernel)
    elif morph == "dilate":
        mask = cv2.dilate(mask, kernel)
    blur = max(width * float(rng.uniform(0.01, 0.06)), 0.5)
    mask = cv2.GaussianBlur(mask, (0, 0), blur)
    return np.clip(mask * float(rng.choice(BLEND_RATIOS)), 0.0, 1.0).astype(np.float32)


def crop_self_blend(
    image: np.ndarray, regions: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """An SBI fake of an aligned real crop: (uint8 image, float32 mask in [0, 1])."""
    source, _ = sbi_source(image, rng)
    mask = crop_sbi_mask(regions, rng)
    return composite(image, source, mask), mask


def native_scale(face_width_source: float | None, regions: np.ndarray) -> float:
    """Source pixels per crop pixel: the face's width in its photo (`face_box` of the sample)
    over its width in the crop (the `skin` region's extent); 1.0 when either is unknown.
    Clipped to `NATIVE_SCALE_RANGE`: a face larger in its photo than in the crop was already
    downsampled, so the crop is its native grid."""
    if not face_width_source or face_width_source <= 0:
        return 1.0
    xs = np.nonzero(regions[_INDEX["skin"]].any(0))[0]
    if xs.size < 2 or regions[_INDEX["skin"]].mean() > 0.9:  # no landmarks: unknown
        return 1.0
    width_crop = float(xs[-1] - xs[0] + 1)
    low, high = NATIVE_SCALE_RANGE
    return float(np.clip(face_width_source / width_crop, low, high))


def benign_process(
    image: np.ndarray,
    rng: np.random.Generator,
    operation: str | None = None,
    *,
    scale: float = 1.0,
) -> np.ndarray:
    """One innocent operation on a uint8 RGB crop, at a random strength, applied at `scale`
    (source pixels per crop pixel; see the module)."""
    operation = operation or str(rng.choice(BENIGN_OPERATIONS, p=BENIGN_WEIGHTS))
    image = np.ascontiguousarray(image)
    if scale >= 0.95:
        return _benign_at_crop_scale(image, rng, operation)
    height, width = image.shape[:2]
    small = (max(8, round(width * scale)), max(8, round(height * scale)))
    native = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
    # Only the operation's change is brought back up: resampling the crop down and up again
    # would blur it by itself, and that blur is no part of what the user's phone did.
    change = _benign_at_crop_scale(native, rng, operation).astype(np.float32) - native
    change = cv2.resize(change, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(np.rint(image + change), 0, 255).astype(np.uint8)


def _benign_at_crop_scale(
    image: np.ndarray, rng: np.random.Generator, operation: str
) -> np.ndarray:
    if operation == "jpeg":
        quality = int(rng.integers(60, 99))
        # OpenCV's encoder takes BGR: a crop handed over as RGB gets the wrong luma weights
        # and its chroma subsampled on the wrong colour differences.
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            return image
        return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    if operation == "resize":
        height, width = image.shape[:2]
        scale = float(rng.uniform(0.5, 0.9))
        small = (max(8, round(width * scale)), max(8, round(height * scale)))
        down = cv2.resize(image, small, interpolation=int(rng.choice(_INTERPOLATIONS)))
        return cv2.resize(down, (width, height), interpolation=int(rng.choice(_INTERPOLATIONS)))
    if operation == "sharpen":  # unsharp mask
        blurred = cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.8, 2.0)))
        amount = float(rng.uniform(0.2, 1.0))
        return cv2.addWeighted(image, 1.0 + amount, blurred, -amount, 0)
    if operation == "denoise":
        return _denoise(image, rng, str(rng.choice(DENOISERS)))
    if operation == "blur":
        return cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.4, 1.2)))
    raise ValueError(f"unknown benign operation {operation!r}; known: {BENIGN_OPERATIONS}")


def _denoise(image: np.ndarray, rng: np.random.Generator, denoiser: str) -> np.ndarray:
    """A camera- or editor-style noise reduction of the whole crop."""
    if denoiser == "median":
        return cv2.medianBlur(image, 3)
    if denoiser == "bilateral":
        sigma_colour = float(rng.uniform(15, 45))
        return cv2.bilateralFilter(image, 5, sigma_colour, float(rng.uniform(2, 5)))
    if denoiser == "nlmeans":
        strength = float(rng.uniform(2, 7))
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)  # it converts to Lab assuming BGR
        out = cv2.fastNlMeansDenoisingColored(bgr, None, strength, strength, 5, 11)
        return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return cv2.GaussianBlur(image, (0, 0), float(rng.uniform(0.5, 1.0)))
