"""Copy-move detection (opt-in): parts of the image that appear twice.

ORB keypoints are matched against the image itself; a keypoint's best match other than
itself is kept when it is clearly better than the next one (the generalised 2-nearest-
neighbour test) and lies some distance away. Pairs from a copied region share one offset,
so pairs are grouped by their offset vector (in `OFFSET_BIN` pixel bins); a group of at
least `MIN_PAIRS` pairs is reported as a copied region. Repetitive content (tiles, fences,
text, symmetric objects) also repeats: a finding is a place to look, not proof.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import cv2
import numpy as np

MAX_PIXELS = 1_000_000
FEATURES = 4000
MAX_HAMMING = 48
RATIO = 0.6
MIN_SHIFT = 24  # pixels between a keypoint and its match
OFFSET_BIN = 6  # pixels
MIN_PAIRS = 8


@dataclass(frozen=True)
class CopyMoveRegion:
    """One group of matched pairs: source and target boxes (x0, y0, x1, y1) in image pixels."""

    offset: tuple[int, int]
    pairs: int
    source_box: tuple[int, int, int, int]
    target_box: tuple[int, int, int, int]

    def to_dict(self) -> dict:
        return {
            "offset": list(self.offset),
            "pairs": self.pairs,
            "source_box": list(self.source_box),
            "target_box": list(self.target_box),
        }


@dataclass(frozen=True)
class CopyMoveRecord:
    detected: bool
    regions: tuple[CopyMoveRegion, ...] = ()
    keypoints: int = 0
    matches: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {
            "detected": self.detected,
            "regions": [region.to_dict() for region in self.regions],
            "keypoints": self.keypoints,
            "matches": self.matches,
            "warnings": list(self.warnings),
        }


def detect_copy_move(rgb: np.ndarray) -> CopyMoveRecord:
    """Copied regions of an RGB (or grey) uint8 image; never raises on small images."""
    grey = rgb if rgb.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    height, width = grey.shape
    scale = min(1.0, math.sqrt(MAX_PIXELS / max(1, height * width)))
    if scale < 1.0:
        grey = cv2.resize(grey, (int(width * scale), int(height * scale)), cv2.INTER_AREA)
    if min(grey.shape) < 64:
        return CopyMoveRecord(False, warnings=("image too small for copy-move detection",))
    orb = cv2.ORB_create(nfeatures=FEATURES, fastThreshold=7, edgeThreshold=15, patchSize=15)
    keypoints, descriptors = orb.detectAndCompute(grey, None)
    if descriptors is None or len(keypoints) < 3:
        return CopyMoveRecord(False, keypoints=len(keypoints or ()))
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32)
    groups: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)
    matches = 0
    for candidates in matcher.knnMatch(descriptors, descriptors, k=3):
        others = [m for m in candidates if m.trainIdx != m.queryIdx]
        if len(others) < 2 or others[0].distance > MAX_HAMMING:
            continue
        if others[0].distance > RATIO * max(others[1].distance, 1.0):
            continue
        a, b = others[0].queryIdx, others[0].trainIdx
        if a > b:
            continue  # each pair once
        dx, dy = points[b] - points[a]
        if math.hypot(dx, dy) < MIN_SHIFT:
            continue
        if dx < 0 or (dx == 0 and dy < 0):
            a, b, dx, dy = b, a, -dx, -dy
        matches += 1
        groups[(round(dx / OFFSET_BIN), round(dy / OFFSET_BIN))].append((a, b))
    regions = _regions(_merge_neighbours(groups), points, 1.0 / scale)
    return CopyMoveRecord(
        detected=bool(regions), regions=regions, keypoints=len(keypoints), matches=matches
    )


def _merge_neighbours(
    groups: dict[tuple[int, int], list[tuple[int, int]]],
) -> list[list[tuple[int, int]]]:
    """Each offset bin with the pairs of its eight neighbours (an offset on a bin border
    splits otherwise), largest first, every pair used once."""
    merged = []
    used: set[tuple[int, int]] = set()
    for key in sorted(groups, key=lambda k: -len(groups[k])):
        pairs = [
            pair
            for dx in (-1, 0, 1)
            for dy in (-1, 0, 1)
            for pair in groups.get((key[0] + dx, key[1] + dy), [])
            if pair not in used
        ]
        if len(pairs) >= MIN_PAIRS:
            used.update(pairs)
            merged.append(pairs)
    return merged


def _regions(
    clusters: list[list[tuple[int, int]]], points: np.ndarray, factor: float
) -> tuple[CopyMoveRegion, ...]:
    found = []
    for pairs in clusters:
        source = points[[a for a, _ in pairs]] * factor
        target = points[[b for _, b in pairs]] * factor
        offset = np.median(target - source, axis=0)
        found.append(
            CopyMoveRegion(
                offset=(round(float(offset[0])), round(float(offset[1]))),
                pairs=len(pairs),
                source_box=_box(source),
                target_box=_box(target),
            )
        )
    return tuple(found)


def _box(points: np.ndarray) -> tuple[int, int, int, int]:
    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
    return int(x0), int(y0), int(x1), int(y1)


def copy_move_line(record: dict | None) -> str:
    """One line for a report's `copy_move` record (its `to_dict()` form, None when the opt-in
    check was not run): what was found, never a verdict."""
    if record is None:
        return "not run (opt-in: opendfa analyze --copy-move, opendfa serve --copy-move)"
    if record["warnings"] and not record["keypoints"]:
        return f"could not be made: {record['warnings'][0]}"
    if not record["detected"]:
        return (
            f"no region found twice ({record['keypoints']} keypoints, "
            f"{record['matches']} distant matches)"
        )
    regions = record["regions"]
    shown = "; ".join(
        f"offset {r['offset'][0]}, {r['offset'][1]} px ({r['pairs']} matched points)"
        for r in regions[:3]
    )
    more = f" and {len(regions) - 3} more" if len(regions) > 3 else ""
    return (
        f"{len(regions)} region(s) appear twice: {shown}{more}; repetitive content also repeats, "
        "so look at the boxes"
    )
