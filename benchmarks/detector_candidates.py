"""Candidate detectors side by side on the *validation* split: where a retrain is chosen.

    .venv/bin/python benchmarks/detector_candidates.py NAME=FOLDER [NAME=FOLDER ...] \
        [--manifest .cache/detector-v3/synth/manifest.jsonl] [--out benchmarks/x.md]

For each candidate, on the same val crops (the detector's own identity splits, never test):
AUC of all fakes and of each family and edit operation against all val reals (95 %
bootstrap intervals, stratified by label), then the operating point each would get by the
shipped rule (`scripts/fit_operating_point.py`: at most 5 % of genuine val faces called
fake, as they are and after each benign operation, pooled) and the share of val fakes it
misses there, overall and per family. Test figures are measured only for the candidate
chosen here.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import platform
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from opendfa.data.manifest import read_manifest
from opendfa.forge.techniques import technique_group
from opendfa.metrics.bootstrap import bootstrap_ci
from opendfa.metrics.detection import wilson_interval
from opendfa.models.runtime import load_for_inference
from opendfa.taxonomy import REAL
from opendfa.train.data import load_crops
from opendfa.train.experiment import subset

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".cache" / "detector-v3" / "synth" / "manifest.jsonl"
MIN_FAKES = 15  # a row needs this many fakes to be shown


def _fit_module():
    """scripts/fit_operating_point.py, whose rule and benign conditions this reuses."""
    path = ROOT / "scripts" / "fit_operating_point.py"
    spec = importlib.util.spec_from_file_location("fit_operating_point", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("candidates", nargs="+", metavar="NAME=FOLDER")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    pairs = [c.split("=", 1) for c in args.candidates]
    if any(len(p) != 2 for p in pairs):
        parser.error("candidates are NAME=FOLDER")
    fit = _fit_module()
    rows = {name: measure(folder, args.manifest, fit) for name, folder in pairs}
    text = render(rows, args.manifest)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


def measure(folder: str, manifest_path: Path, fit) -> dict:
    """AUCs by group and the misses at the candidate's own operating point, on val."""
    detector = load_for_inference(folder)
    manifest = read_manifest(manifest_path)
    crops = load_crops(
        subset(manifest, "val"),
        None,
        size=detector.config.input_size,
        margin=detector.config.crop_margin,
        cache_dir=manifest.root / "crop-cache",
    )
    images = [crops.load_crop(s).image for s in crops.samples]
    scores = fit.scores(detector, images)
    fake = np.array([s.category != REAL for s in crops.samples])
    groups = [_groups(s) for s in crops.samples]
    threshold, record = fit.fit(folder, manifest_path)
    result = {"threshold": threshold, "record": record, "auc": {}, "missed": {}}
    for key in sorted({g for gs in groups for g in gs}):
        chosen = np.array([key in gs for gs in groups])
        if chosen.sum() < MIN_FAKES:
            continue
        result["auc"][key] = _auc(scores, fake, chosen)
        hits = int((scores[chosen] < threshold).sum())
        result["missed"][key] = (hits, int(chosen.sum()), wilson_interval(hits, int(chosen.sum())))
    return result


def _groups(sample) -> set[str]:
    """The rows a fake counts in: all, its family, each of its operations (edits)."""
    if sample.category == REAL:
        return set()
    names = {"all", f"family:{sample.category}"}
    group = technique_group(sample.technique, (sample.meta or {}).get("params"))
    if group.get("family") == "edit":
        names |= {f"edit:{op}" for op in group["operation"].split("+")}
    if group.get("family") == "reenact":
        names |= {f"reenact:{op}" for op in group["operation"].split("+")}
    return names


def _auc(scores: np.ndarray, fake: np.ndarray, chosen: np.ndarray):
    keep = chosen | ~fake
    values, labels = scores[keep], fake[keep].astype(int)
    point = float(roc_auc_score(labels, values))

    def statistic(pick: np.ndarray) -> float | None:
        if labels[pick].min() == labels[pick].max():
            return None
        return float(roc_auc_score(labels[pick], values[pick]))

    return point, bootstrap_ci(statistic, len(values), labels, resamples=500)


def render(rows: dict[str, dict], manifest: Path) -> str:
    names = list(rows)
    keys = sorted({k for r in rows.values() for k in r["auc"]}, key=_order)
    lines = [
        "## Candidates on validation (AUC against all val reals; misses at each one's own "
        "operating point)",
        "",
        f"Manifest {manifest}, split val; {datetime.date.today().isoformat()}, "
        f"{platform.machine()}, {sys.platform}.",
        "",
        "| val fakes | n | "
        + " | ".join(f"{n} AUC" for n in names)
        + " | "
        + " | ".join(f"{n} missed" for n in names)
        + " |",
        "| --- | --- | " + " | ".join("---" for _ in names * 2) + " |",
    ]
    for key in keys:
        n = next((r["missed"][key][1] for r in rows.values() if key in r["missed"]), 0)
        aucs = [_auc_cell(rows[name]["auc"].get(key)) for name in names]
        missed = [_missed_cell(rows[name]["missed"].get(key)) for name in names]
        lines.append(f"| {key} | {n} | " + " | ".join(aucs + missed) + " |")
    lines += ["", "| candidate | threshold | val reals called fake (pooled, per condition) |"]
    lines.append("| --- | --- | --- |")
    for name in names:
        conditions = rows[name]["record"]["val_reals"]
        shares = ", ".join(
            f"{c} {v['false_positive']['rate'] * 100:.1f} %" for c, v in conditions.items()
        )
        lines.append(f"| {name} | {rows[name]['threshold']:.3f} | {shares} |")
    return "\n".join(lines) + "\n"


def _order(key: str) -> tuple[int, str]:
    return (0 if key == "all" else 1 if key.startswith("family:") else 2, key)


def _auc_cell(value) -> str:
    if value is None:
        return "–"
    point, ci = value
    return f"{point:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _missed_cell(value) -> str:
    if value is None:
        return "–"
    hits, n, (low, high) = value
    return f"{hits / n * 100:.1f} % [{low * 100:.0f}, {high * 100:.0f}]"


if __name__ == "__main__":
    raise SystemExit(main())
