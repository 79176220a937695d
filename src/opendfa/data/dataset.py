"""A torch `Dataset` of aligned face crops with masks, region masks and labels.

Each sample is aligned once (landmarks from the manifest's `meta.landmarks_path` when the
synthesizer saved them, otherwise detected) and cached as an `.npz` of uint8 arrays, so
epochs after the first read small files instead of decoding photos and running MediaPipe.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from opendfa.data.manifest import Manifest, read_manifest
from opendfa.data.sample import Sample
from opendfa.faces import REGION_NAMES, Face, FaceDetector, align_face, region_masks
from opendfa.media import MediaError, iter_video_frames, load_image, media_kind
from opendfa.safe_files import replacing
from opendfa.taxonomy import CATEGORIES


@dataclass(frozen=True)
class CropConfig:
    size: int = 256
    margin: float = 0.25


@dataclass
class FaceCrop:
    """One aligned training example as uint8 arrays (what the cache stores)."""

    image: np.ndarray  # (S, S, 3)
    mask: np.ndarray  # (S, S) 0..255
    regions: np.ndarray  # (12, S, S) bool


class CropError(RuntimeError):
    """A sample that cannot be turned into a crop (unreadable file, no face)."""


class FaceForgeryDataset(Dataset):
    """Items: image (3,S,S) float in [0,1], mask (1,S,S), regions (12,S,S), label, category."""

    def __init__(
        self,
        manifest: Manifest | str | Path,
        *,
        split: str | None = None,
        crop: CropConfig = CropConfig(),
        cache_dir: str | Path | None = None,
    ) -> None:
        self.manifest = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
        self.samples = [s for s in self.manifest.samples if split is None or s.split == split]
        self.crop = crop
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._detector: FaceDetector | None = None

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        crop = self.load_crop(sample)
        return {
            "id": sample.id,
            "image": torch.from_numpy(crop.image).permute(2, 0, 1).float() / 255.0,
            "mask": torch.from_numpy(crop.mask).float().unsqueeze(0) / 255.0,
            "regions": torch.from_numpy(crop.regions.astype(np.float32)),
            "label": torch.tensor(float(sample.label == "fake")),
            "category": torch.tensor(CATEGORIES.index(sample.category)),
        }

    def load_crop(self, sample: Sample) -> FaceCrop:
        cached = self._cache_path(sample)
        if cached is not None and cached.exists():
            with np.load(cached, allow_pickle=False) as data:
                regions = np.unpackbits(data["regions"], axis=0)[: len(REGION_NAMES)].astype(bool)
                return FaceCrop(image=data["image"], mask=data["mask"], regions=regions)
        crop = self._make_crop(sample)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            regions = np.packbits(crop.regions, axis=0)
            with replacing(cached) as tmp:
                np.savez_compressed(tmp, image=crop.image, mask=crop.mask, regions=regions)
        return crop

    def _cache_path(self, sample: Sample) -> Path | None:
        if self.cache_dir is None:
            return None
        key = f"{sample.id}|{sample.path}|{self.crop.size}|{self.crop.margin}"
        margin = sample.meta.get("crop_margin") if sample.meta.get("aligned") else None
        if margin is not None and abs(float(margin) - self.crop.margin) > 1e-6:
            key += f"|reframed-from-{float(margin)}"  # older caches held it unreframed
        return self.cache_dir / f"{hashlib.sha1(key.encode()).hexdigest()}.npz"

    def _make_crop(self, sample: Sample) -> FaceCrop:
        rgb = _read_rgb(self.manifest.resolve(sample.path), sample)
        mask = _read_mask(self.manifest.resolve(sample.mask_path), rgb.shape[:2], sample)
        size = self.crop.size
        if sample.meta.get("aligned"):
            margin = float(sample.meta.get("crop_margin", self.crop.margin))
            rgb, mask = reframe(rgb, mask, margin, self.crop.margin)
            image = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
            full = np.ones((len(REGION_NAMES), size, size), dtype=bool)
            return FaceCrop(image=image, mask=cv2.resize(mask, (size, size)), regions=full)
        face = self._face_for(sample, rgb)
        aligned = align_face(rgb, face, size=size, margin=self.crop.margin)
        crop_mask = aligned.alignment.warp(mask, border=cv2.BORDER_CONSTANT)
        regions = region_masks(aligned.landmarks, (size, size))
        stacked = np.stack([regions.full(name) for name in REGION_NAMES])
        return FaceCrop(image=aligned.crop, mask=crop_mask, regions=stacked)

    def _face_for(self, sample: Sample, rgb: np.ndarray) -> Face:
        landmarks_file = self.manifest.resolve(sample.meta.get("landmarks_path"))
        if landmarks_file is not None and landmarks_file.exists():
            landmarks = np.load(landmarks_file, allow_pickle=False).astype(np.float32)
            box = tuple(float(v) for v in sample.meta.get("face_box", _box_of(landmarks)))
            return Face(box=box, score=1.0, landmarks=landmarks)
        if self._detector is None:
            self._detector = FaceDetector()  # created lazily: one per DataLoader worker
        faces = self._detector.detect(rgb)
        if not faces:
            raise CropError(f"no face found in {sample.path}")
        return faces[0]


def reframe(
    rgb: np.ndarray, mask: np.ndarray, margin: float, target_margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """An aligned crop made with `margin` re-cut to `target_margin` around the same face, so a
    tightly framed generated face (DCGAN, margin 0) is not bigger in the crop than a real one
    (a framing shortcut the detector would otherwise learn). Padding mirrors the border."""
    if abs(margin - target_margin) < 1e-6:
        return rgb, mask
    side = rgb.shape[0]
    wanted = round(side * (1.0 + 2.0 * target_margin) / (1.0 + 2.0 * margin))
    if wanted > side:
        pad = (wanted - side) // 2
        extra = wanted - side - pad
        rgb = cv2.copyMakeBorder(rgb, pad, extra, pad, extra, cv2.BORDER_REFLECT_101)
        # The padding repeats the crop's own pixels, so it is as forged as they are.
        mask = cv2.copyMakeBorder(mask, pad, extra, pad, extra, cv2.BORDER_REFLECT_101)
    elif wanted < side:
        cut = (side - wanted) // 2
        rgb = rgb[cut : cut + wanted, cut : cut + wanted]
        mask = mask[cut : cut + wanted, cut : cut + wanted]
    return rgb, mask


def _box_of(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    xs, ys = landmarks[:, 0], landmarks[:, 1]
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def _read_rgb(path: Path | None, sample: Sample) -> np.ndarray:
    if path is None:
        raise CropError(f"sample {sample.id} has no path")
    try:
        if media_kind(str(path)) == "video":
            wanted = sample.meta.get("frame_index")
            for frame in iter_video_frames(path, num_frames=None):  # streams: stops early
                if wanted is None or frame.index >= int(wanted):
                    return frame.rgb
            raise CropError(f"frame {wanted} not found in {path}")
        return load_image(path).rgb
    except MediaError as err:
        raise CropError(str(err)) from None


def _read_mask(path: Path | None, shape: tuple[int, int], sample: Sample) -> np.ndarray:
    height, width = shape
    if path is None or not path.exists():
        # No mask file: a real face is untouched; a fake without a mask is unknown (zeros).
        return np.zeros((height, width), dtype=np.uint8)
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise CropError(f"unreadable mask {path} for {sample.id}")
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
    return mask
