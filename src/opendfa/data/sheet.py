"""Contact sheets: a grid of samples, each with its image, its mask and its label."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from opendfa.data.manifest import Manifest
from opendfa.data.sample import Sample
from opendfa.media import MediaError, load_image

TILE = 160


def contact_sheet(manifest: Manifest, samples: list[Sample], columns: int = 4) -> np.ndarray:
    """RGB image: per sample the (face-centred) image, its mask beside it, and a caption."""
    cells = [_cell(manifest, sample) for sample in samples]
    if not cells:
        raise ValueError("no samples to draw")
    rows = [cells[i : i + columns] for i in range(0, len(cells), columns)]
    blank = np.full_like(cells[0], 255)
    return np.vstack([np.hstack(row + [blank] * (columns - len(row))) for row in rows])


def _cell(manifest: Manifest, sample: Sample) -> np.ndarray:
    canvas = np.full((TILE + 34, 2 * TILE + 6, 3), 255, dtype=np.uint8)
    try:
        image = load_image(manifest.resolve(sample.path)).rgb
    except MediaError as err:
        _caption(canvas, [sample.id[:40], f"unreadable: {err.reason}"[:40]])
        return canvas
    box = sample.meta.get("face_box")
    crop_box = _square_around(box, image.shape) if box else (0, 0, image.shape[1], image.shape[0])
    x0, y0, x1, y1 = crop_box
    canvas[:TILE, :TILE] = cv2.resize(
        image[y0:y1, x0:x1], (TILE, TILE), interpolation=cv2.INTER_AREA
    )
    mask_file = manifest.resolve(sample.mask_path)
    if mask_file is not None and mask_file.exists():
        mask = cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE)
        if mask is not None and mask.shape == image.shape[:2]:
            tile = cv2.resize(mask[y0:y1, x0:x1], (TILE, TILE), interpolation=cv2.INTER_AREA)
            canvas[:TILE, TILE + 6 :] = np.repeat(tile[:, :, None], 3, axis=2)
    else:
        cv2.putText(
            canvas,
            "no mask",
            (TILE + 40, TILE // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (120, 120, 120),
            1,
            cv2.LINE_AA,
        )
    label = f"{sample.label} / {sample.category}"
    _caption(canvas, [label, sample.technique[:44]])
    return canvas


def _caption(canvas: np.ndarray, lines: list[str]) -> None:
    for number, text in enumerate(lines):
        y = TILE + 14 + 15 * number
        cv2.putText(canvas, text, (3, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)


def _square_around(box: list[float], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    side = 1.8 * max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    height, width = shape[:2]
    left = int(np.clip(cx - side / 2, 0, width - 1))
    top = int(np.clip(cy - side / 2, 0, height - 1))
    right = int(np.clip(cx + side / 2, left + 1, width))
    bottom = int(np.clip(cy + side / 2, top + 1, height))
    return left, top, right, bottom


def write_sheet(path: str | Path, sheet: np.ndarray) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
