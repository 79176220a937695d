"""Similarity alignment of a face to a canonical crop, and the way back.

The five keypoints are fitted (least squares, Umeyama) to the ArcFace template scaled into a
square crop with a configurable margin. The inverse transform maps anything computed on the
crop (masks, heatmaps, points) back onto the original image.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from opendfa.faces.types import Face

# ArcFace 112x112 template, normalised to the unit square, same order as mesh.KEYPOINT_NAMES.
_TEMPLATE = (
    np.array(
        [
            [38.2946, 51.6963],
            [73.5318, 51.5014],
            [56.0252, 71.7366],
            [41.5493, 92.3655],
            [70.7299, 92.2041],
        ]
    )
    / 112.0
)


def canonical_keypoints(size: int, margin: float) -> np.ndarray:
    """Template keypoints in a `size` crop; `margin` is extra border per side, as a fraction."""
    if size < 16:
        raise ValueError(f"crop size must be at least 16, got {size}")
    if not 0.0 <= margin < 2.0:
        raise ValueError(f"margin must be in [0, 2), got {margin}")
    return (_TEMPLATE - 0.5) * (size / (1.0 + 2.0 * margin)) + size / 2.0


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity (rotation, uniform scale, translation) taking src to dst."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rotation = u @ np.diag(d) @ vt
    variance = (src_c**2).sum() / len(src)
    scale = float((s * d).sum() / variance) if variance > 0 else 1.0
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


@dataclass(frozen=True)
class Alignment:
    """The image-to-crop similarity transform of one face."""

    matrix: np.ndarray
    size: int

    @property
    def inverse(self) -> np.ndarray:
        return cv2.invertAffineTransform(self.matrix)

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return _apply(self.matrix, points)

    def to_image(self, points: np.ndarray) -> np.ndarray:
        return _apply(self.inverse, points)

    # `matrix` is in OpenCV's pixel-centre convention (what warpAffine uses); points are in
    # the pixel-edge convention of `Face` (pixel i spans [i, i+1)): `_apply` converts.

    def warp(self, image: np.ndarray, *, border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
        """Cut the aligned crop out of the image."""
        flags = cv2.INTER_AREA if self.scale < 1.0 else cv2.INTER_LINEAR
        return cv2.warpAffine(
            image, self.matrix, (self.size, self.size), flags=flags, borderMode=border
        )

    def unwarp(self, crop_values: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
        """Map a crop-sized array (mask, heatmap) onto a (width, height) image; 0 outside."""
        return cv2.warpAffine(
            crop_values,
            self.matrix,
            image_size,
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )


@dataclass
class AlignedFace:
    """A canonical crop of a face, its transform, and its landmarks in crop pixels."""

    crop: np.ndarray
    alignment: Alignment
    landmarks: np.ndarray


def alignment_for(face: Face, size: int = 256, margin: float = 0.25) -> Alignment:
    matrix = estimate_similarity(face.keypoints - 0.5, canonical_keypoints(size, margin) - 0.5)
    return Alignment(matrix=matrix, size=size)


def align_face(image: np.ndarray, face: Face, size: int = 256, margin: float = 0.25) -> AlignedFace:
    """Aligned `size` x `size` crop of `face` from the RGB `image` (common sizes: 224, 256, 380)."""
    alignment = alignment_for(face, size, margin)
    landmarks = face.landmarks.astype(np.float64).copy()
    landmarks[:, :2] = alignment.to_crop(landmarks[:, :2])
    if landmarks.shape[1] > 2:
        landmarks[:, 2] *= alignment.scale
    return AlignedFace(crop=alignment.warp(image), alignment=alignment, landmarks=landmarks)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map pixel-edge points through a pixel-centre matrix."""
    points = np.asarray(points, dtype=np.float64)[..., :2] - 0.5
    return points @ matrix[:, :2].T + matrix[:, 2] + 0.5


# ----------------------------------------------------------------------------- crop fallback

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "assets" / "faces" / "template_478.npy"
CROP_FALLBACK_MAX_SIDE = 512  # larger images are photos, not face crops
CROP_FALLBACK_ASPECT = (2 / 3, 3 / 2)  # width / height of a "roughly square" crop
CROP_FALLBACK_MARGIN = 0.2  # the margin a face crop is assumed to have around the face


def looks_like_face_crop(rgb: np.ndarray) -> bool:
    """Small, roughly square and face-like: the shape and content of an aligned face crop
    (CelebA, LFW, Olivetti, FF++ crops) that the landmark detector may miss when tiny or grey.

    Face-like means OpenCV's Haar frontal-face cascade, run permissively on the crop upscaled
    with a border (a tight crop has no context around the face), finds a face-sized window:
    on LFW's 25 px faces it fires on 99 of 100, on its 100 background patches on 1.
    """
    height, width = rgb.shape[:2]
    if min(width, height) < 16 or max(width, height) > CROP_FALLBACK_MAX_SIDE:
        return False
    low, high = CROP_FALLBACK_ASPECT
    if not low <= width / height <= high:
        return False
    cascade = _haar_cascade()
    if cascade is None:
        return False
    grey = rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (160, 160), interpolation=cv2.INTER_CUBIC)
    grey = cv2.equalizeHist(cv2.copyMakeBorder(grey, 40, 40, 40, 40, cv2.BORDER_REPLICATE))
    found = cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=2, minSize=(64, 64))
    return len(found) > 0


@functools.cache
def _mean_face_template() -> np.ndarray:
    template = np.load(TEMPLATE_PATH).astype(np.float64)
    template.flags.writeable = False  # shared by every call
    return template


@functools.cache
def _haar_cascade() -> cv2.CascadeClassifier | None:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(folder or "/nonexistent") / "haarcascade_frontalface_default.xml"
    if not path.is_file():  # OpenCV 5 wheels ship no cascades: no fallback then
        return None
    cascade = cv2.CascadeClassifier(str(path))
    return None if cascade.empty() else cascade


def face_from_crop(width: int, height: int, margin: float = CROP_FALLBACK_MARGIN) -> Face:
    """A `Face` for an image taken to be a centred face crop: the mean face mesh (from the
    bundled public-domain portraits, `scripts/make_face_template.py`) placed where
    `align_face` would put it with `margin`. Used when detection finds nothing in a small,
    square image, so a plain face crop (tiny, grey, low-contrast) still gets a score."""
    template = _mean_face_template()
    side = float(min(width, height))
    scale = side / (1.0 + 2.0 * margin)
    landmarks = np.empty_like(template)
    landmarks[:, 0] = (template[:, 0] - 0.5) * scale + width / 2.0
    landmarks[:, 1] = (template[:, 1] - 0.5) * scale + height / 2.0
    landmarks[:, 2] = template[:, 2] * scale
    x0, y0 = np.clip(landmarks[:, :2].min(0), 0, [width, height])
    x1, y1 = np.clip(landmarks[:, :2].max(0), 0, [width, height])
    return Face(box=(float(x0), float(y0), float(x1), float(y1)), score=0.0, landmarks=landmarks)
