"""Choose a detector's operating point on validation reals (`opendfa.models.operating_point`).

    .venv/bin/python scripts/fit_operating_point.py --model FOLDER \
        [--manifest .cache/detector-v3/synth/manifest.jsonl] [--target 0.05] [--rule pooled]

Faces: the `val` split of the detector's own training manifest (identities disjoint from its
train and test identities; the test split is never read). Each genuine val face is scored as
it is and after each innocent operation of `opendfa.train.augment.BENIGN_OPERATIONS` (JPEG
60-98, down-and-up resize, sharpening, denoising, blur), once, seeded, on its aligned crop at
the face's own resolution (`opendfa.train.augment.native_scale`; since 2026-12-08, before that
at the crop's).
WebP is left out on purpose: it stays a held-out row of `benchmarks/benign_false_positives.py`.

The threshold is the lowest P(fake), never below 0.5, at which at most `--target` of the
genuine faces are called fake: of all of them together (`--rule pooled`) or of every
condition on its own (`--rule worst`). The record keeps, per condition, the val false-positive
rate at the chosen threshold and at 0.5 (95 % Wilson intervals), and the share of val fakes
missed at both, so the card can say what the caution costs.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import zlib
from pathlib import Path

import numpy as np

from opendfa.data.manifest import read_manifest
from opendfa.metrics.detection import wilson_interval
from opendfa.models.detector_base import predict_crops, read_detector_info, resolve_detector
from opendfa.models.operating_point import (
    DEFAULT_THRESHOLD,
    OperatingPoint,
    choose_threshold,
    save_operating_point,
)
from opendfa.models.runtime import load_for_inference
from opendfa.taxonomy import REAL
from opendfa.train.augment import BENIGN_OPERATIONS, benign_process
from opendfa.train.data import crop_native_scale, load_crops
from opendfa.train.experiment import subset

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".cache" / "detector-v3" / "synth" / "manifest.jsonl"
CLEAN = "as_is"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="detector name or folder")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--target", type=float, default=0.05, help="false-positive share")
    parser.add_argument("--rule", choices=("pooled", "worst"), default="pooled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    args = parser.parse_args(argv)

    threshold, record = fit(args.model, args.manifest, args.target, args.rule, args.seed)
    print(f"threshold {threshold:.4f}")
    print_table(record)
    if args.dry_run:
        return 0
    folder = resolve_detector(args.model)  # the weights' record, without loading them again
    sha = read_detector_info(folder)["weights_sha256"]
    path = save_operating_point(folder, OperatingPoint(threshold=threshold), sha, record)
    print(f"wrote {path}")
    return 0


def fit(
    model: str | Path,
    manifest_path: Path = MANIFEST,
    target: float = 0.05,
    rule: str = "pooled",
    seed: int = 0,
) -> tuple[float, dict]:
    """The operating threshold of `model` and the record of how it was chosen (see above)."""
    detector = load_for_inference(str(model))
    manifest = read_manifest(manifest_path)
    val = subset(manifest, "val")
    crops = load_crops(
        val,
        None,
        size=detector.config.input_size,
        margin=detector.config.crop_margin,
        cache_dir=manifest.root / "crop-cache",
    )
    reals, real_scales, fakes = [], [], []
    for sample in crops.samples:
        crop = crops.load_crop(sample)
        if sample.category != REAL:
            fakes.append(crop.image)
            continue
        reals.append(crop.image)
        # Processed at the face's own resolution, as a phone processes the whole photo.
        real_scales.append(crop_native_scale(sample, crop.regions))
    fake_scores = scores(detector, fakes)
    real_scores = {CLEAN: scores(detector, reals)}
    for operation in BENIGN_OPERATIONS:
        rng = np.random.default_rng([seed, zlib.crc32(operation.encode())])
        processed = [
            benign_process(image, rng, operation, scale=scale)
            for image, scale in zip(reals, real_scales, strict=True)
        ]
        real_scores[operation] = scores(detector, processed)
    threshold = pick(real_scores, target, rule)
    record = describe(real_scores, fake_scores, threshold, manifest_path, target, rule, seed)
    return threshold, record


def scores(detector, crops: list[np.ndarray]) -> np.ndarray:
    """Calibrated P(fake) of aligned crops, as the analysis computes them."""
    if not crops:
        return np.zeros(0)
    return np.array([p.fake_probability for p in predict_crops(detector, np.stack(crops))])


def pick(real_scores: dict[str, np.ndarray], target: float, rule: str) -> float:
    """The operating threshold: the pooled reals' (`pooled`) or every condition's (`worst`)."""
    if rule == "pooled":
        return choose_threshold(np.concatenate(list(real_scores.values())), target)
    return max(choose_threshold(s, target) for s in real_scores.values())


def describe(
    real_scores: dict[str, np.ndarray],
    fake_scores: np.ndarray,
    threshold: float,
    manifest: Path,
    target: float,
    rule: str,
    seed: int,
) -> dict:
    """What the choice was made on and what it costs on val, for `operating_point.json`."""
    conditions = {}
    for name, values in real_scores.items():
        conditions[name] = {
            "n": int(values.size),
            "false_positive": rate(values, threshold),
            "false_positive_at_0.5": rate(values, DEFAULT_THRESHOLD),
        }
    missed = {
        "n": int(fake_scores.size),
        "missed": rate(fake_scores, threshold, below=True),
        "missed_at_0.5": rate(fake_scores, DEFAULT_THRESHOLD, below=True),
    }
    return {
        "chosen_on": f"val split of {display(manifest)}: genuine faces as they are and "
        "after each benign operation (aligned crops; WebP held out)",
        "target_false_positive": target,
        "rule": rule,
        "floor": DEFAULT_THRESHOLD,
        "val_reals": conditions,
        "val_fakes": missed,
        "seed": seed,
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()} {platform.system()}",
    }


def rate(values: np.ndarray, threshold: float, *, below: bool = False) -> dict:
    """The share of `values` at or above `threshold` (below it with `below`), with its CI."""
    hits = int((values < threshold).sum() if below else (values >= threshold).sum())
    low, high = wilson_interval(hits, int(values.size))
    return {"hits": hits, "rate": hits / max(values.size, 1), "ci95": [low, high]}


def display(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def print_table(record: dict) -> None:
    print(f"threshold rule {record['rule']}, target {record['target_false_positive']:.3f}")
    print(f"{'condition':<10} {'n':>4} {'FP at t':>16} {'FP at 0.5':>16}")
    for name, row in record["val_reals"].items():
        print(
            f"{name:<10} {row['n']:>4} {_cell(row['false_positive']):>16} "
            f"{_cell(row['false_positive_at_0.5']):>16}"
        )
    fakes = record["val_fakes"]
    print(
        f"{'fakes missed':<10} {fakes['n']:>4} {_cell(fakes['missed']):>16} "
        f"{_cell(fakes['missed_at_0.5']):>16}"
    )


def _cell(entry: dict) -> str:
    low, high = entry["ci95"]
    return f"{100 * entry['rate']:.1f} [{100 * low:.0f}-{100 * high:.0f}]"


if __name__ == "__main__":
    raise SystemExit(main())
