"""Where the forensic stream stops working (issue 26, item 5): its AUC on undegraded faces
re-saved as JPEG at falling quality, and shrunk to smaller face widths.

    .venv/bin/python benchmarks/forensic_limits.py --manifest runs/forensic-data-v2/manifest.jsonl \
        --model runs/forensic3/model [--write] [--limit 250] [--markdown out.md]

Undegraded fakes (edits, reenactments, swaps) against undegraded reals of one split, each
scored on its own pixel grid inside the hull of its landmarks (as `forensic_stream.py`). A
level *keeps* the stream when its AUC holds at least half of the clean AUC's margin over
chance (AUC >= 0.5 + (clean - 0.5) / 2): below that it has lost most of what it could tell.
The floors (the smallest face width and the lowest JPEG quality that keep it) are chosen on
`val`; `--write` stores them in the model's `config.json` (`limits`), which the analysis
reads to say "the pixel-level check could not be made" below them. `test` is only reported.

For a model with a warp-field head, the motion floor is set the same way: the largest
per-region displacement (95th percentile of its length in a region) that the head predicts on
the undegraded *genuine* val faces, at their 95th percentile; the analysis names a region as
moved only above it.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from forensic_stream import auc_with_ci, face_region, score

from opendfa.data.manifest import Manifest, read_manifest
from opendfa.data.sample import Sample
from opendfa.faces.regions import region_masks
from opendfa.models.forensic import load_forensic, predict_flow
from opendfa.safe_files import write_json_atomic

QUALITIES = (95, 90, 80, 70, 60, 50, 40)
FACE_WIDTHS = (192, 160, 128, 96, 80, 64, 48)


@dataclass
class Face:
    sample: Sample
    rgb: np.ndarray
    region: np.ndarray | None
    width: float  # of the landmarks, px
    landmarks: np.ndarray  # (N, 2) image px

    @property
    def fake(self) -> bool:
        return self.sample.label == "fake"


def load_faces(manifest: Manifest, split: str, limit: int) -> list[Face]:
    """Undegraded reals and fakes of `split`, shuffled (seeded), at most `limit` of each."""
    picked = [s for s in manifest.samples if s.split == split and not s.degradations]
    np.random.default_rng(0).shuffle(picked)
    faces: list[Face] = []
    counts = {"real": 0, "fake": 0}
    for sample in picked:
        if limit and counts[sample.label] >= limit:
            continue
        bgr = cv2.imread(str(manifest.resolve(sample.path)))
        landmarks = manifest.resolve(sample.meta.get("landmarks_path"))
        if bgr is None or landmarks is None or not landmarks.is_file():
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        points = np.load(landmarks)[:, :2]
        width = float(points[:, 0].max() - points[:, 0].min())
        region = face_region(manifest, sample, rgb.shape[:2])
        faces.append(Face(sample, rgb, region, width, points))
        counts[sample.label] += 1
    return faces


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Re-saved as a JPEG file would be (OpenCV encodes BGR: luma and chroma as in a file)."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    _, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def shrink(rgb: np.ndarray, scale: float) -> np.ndarray:
    height, width = rgb.shape[:2]
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def level_auc(model, faces: list[Face], change) -> dict | None:
    """AUC of the stream on `faces` after `change(face)` (None: the face cannot be made so)."""
    labels, values = [], []
    for face in faces:
        changed = change(face)
        if changed is None:
            continue
        labels.append(int(face.fake))
        values.append(score(model, changed, face.region))
    labels_array = np.asarray(labels)
    if labels_array.size < 20 or labels_array.min() == labels_array.max():
        return None
    auc, ci = auc_with_ci(labels_array, np.asarray(values))
    return {
        "auc": round(auc, 3),
        "ci": ci,
        "reals": int((labels_array == 0).sum()),
        "fakes": int(labels_array.sum()),
    }


def sweep(model, faces: list[Face]) -> dict:
    rows: dict = {"clean": level_auc(model, faces, lambda f: f.rgb)}
    if rows["clean"] is not None:
        rows["clean"]["median_face_px"] = round(float(np.median([f.width for f in faces])))
    for quality in QUALITIES:
        rows[f"jpeg{quality}"] = level_auc(model, faces, lambda f, q=quality: jpeg(f.rgb, q))
    for target in FACE_WIDTHS:
        # Only faces larger than the target are shrunk to it; the others would be upscaled.
        rows[f"face{target}"] = level_auc(
            model,
            faces,
            lambda f, t=target: shrink(f.rgb, t / f.width) if f.width > t else None,
        )
    return rows


def motion_floor(model, faces: list[Face]) -> float | None:
    """The displacement (px) the flow head predicts on genuine faces: per face the largest
    region's 95th percentile, then the 95th percentile over faces. None without the head."""
    if model.flow is None:
        return None
    peaks = []
    for face in faces:
        if face.fake:
            continue
        flow = predict_flow(model, face.rgb)
        length = np.hypot(flow[..., 0], flow[..., 1])
        try:
            masks = region_masks(face.landmarks, face.rgb.shape[1::-1])
        except ValueError:
            continue
        values = [
            float(np.percentile(length[masks.full(name)], 95))
            for name, mask in masks.masks.items()
            if name not in ("skin", "face_boundary") and mask.sum() >= 20
        ]
        if values:
            peaks.append(max(values))
    return round(float(np.percentile(peaks, 95)), 2) if len(peaks) >= 10 else None


def floors(rows: dict) -> dict:
    """The lowest JPEG quality and smallest face width whose AUC keeps half the clean margin
    (walking down from the mildest level, stopping at the first that does not)."""
    if rows.get("clean") is None:
        raise SystemExit("too few clean faces (fewer than 20) to measure floors")
    clean = rows["clean"]["auc"]
    keep = 0.5 + (clean - 0.5) / 2
    result: dict = {"keep_auc": round(keep, 3), "clean_auc": clean}
    quality = _last_kept(rows, "jpeg", QUALITIES, keep)
    width = _last_kept(rows, "face", FACE_WIDTHS, keep)
    result["min_jpeg_quality"] = quality if quality is not None else 100
    # No shrunk level keeps it: the faces as they came are the smallest known to work.
    result["min_face_px"] = width if width is not None else rows["clean"]["median_face_px"]
    return result


def _last_kept(rows: dict, prefix: str, levels: tuple[int, ...], keep: float) -> int | None:
    """The last level, mildest first, before the first whose AUC falls under `keep`; levels
    with too few faces (none larger than a target width) are passed over."""
    kept = None
    for level in levels:
        row = rows.get(f"{prefix}{level}")
        if row is None:
            continue
        if row["auc"] < keep:
            break
        kept = level
    return kept


def markdown(results: dict) -> str:
    lines = [
        f"Model `{results['model']}`; undegraded faces of each split; AUC [95 % CI] "
        f"({results['seconds']} s on a 2-core CPU).",
        "",
        "| level | " + " | ".join(results["splits"]) + " |",
        "| --- |" + " --- |" * len(results["splits"]),
    ]
    names = list(next(iter(results["splits"].values())))
    for name in names:
        cells = []
        for rows in results["splits"].values():
            row = rows.get(name)
            if row is None:
                cells.append("–")
                continue
            ci = row["ci"]
            shown = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
            cells.append(f"{row['auc']:.3f}{shown} ({row['reals']}+{row['fakes']})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    found = results["floors"]
    lines += [
        "",
        f"Floors chosen on val (AUC >= {found['keep_auc']}, half the clean margin of "
        f"{found['clean_auc']}): face width >= {found['min_face_px']} px, JPEG quality >= "
        f"{found['min_jpeg_quality']}."
        + (
            f" Motion floor (genuine val faces): {found['motion_floor_px']} px."
            if found.get("motion_floor_px") is not None
            else ""
        ),
    ]
    return "\n".join(lines) + "\n"


def write_limits(folder: Path, clean: dict, found: dict) -> None:
    """Store the val floors in the model's config.json, only where the stream tells fakes
    from reals at all on clean val faces (CI above chance): a floor of noise is no floor."""
    ci = clean.get("ci")
    if not ci or ci[0] <= 0.5:
        raise SystemExit(f"clean val AUC {clean['auc']} (CI {ci}) is not above chance: not written")
    path = folder / "config.json"
    config = json.loads(path.read_text())
    limits = {k: v for k, v in config.get("limits", {}).items() if k != "motion_floor_px"}
    limits.update(
        min_face_px=found["min_face_px"],
        min_jpeg_quality=found["min_jpeg_quality"],
        chosen_on="val",
    )
    if found["motion_floor_px"] is not None:
        limits["motion_floor_px"] = found["motion_floor_px"]
    config["limits"] = limits
    write_json_atomic(path, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--limit", type=int, default=250, help="faces per label and split")
    parser.add_argument("--write", action="store_true", help="store the val floors")
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    manifest = read_manifest(args.manifest)
    model, info = load_forensic(args.model)
    splits, val_faces = {}, []
    for split in ("val", "test"):
        faces = load_faces(manifest, split, args.limit)
        val_faces = faces if split == "val" else val_faces
        splits[split] = sweep(model, faces)
        print(f"{split}: {json.dumps(splits[split])}", flush=True)
    found = floors(splits["val"])
    found["motion_floor_px"] = motion_floor(model, val_faces)
    results = {
        "model": info.get("name"),
        "splits": splits,
        "floors": found,
        "seconds": round(time.perf_counter() - start),
    }
    if args.write:
        write_limits(Path(args.model), splits["val"]["clean"], found)
    text = markdown(results)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
