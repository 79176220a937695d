"""The forensic stream on the protocol's test identities: AUC per forgery family, per edit
operation, per warp/resampling filter, and false positives on reals after innocent processing.

    .venv/bin/python benchmarks/forensic_stream.py --manifest runs/forensic-data/manifest.jsonl \
        --model runs/forensic/model [--split test] [--limit 600] [--markdown out.md]

Each face is scored on its stored image's own pixel grid, inside the hull of its landmarks
(the face, not the background). AUCs are fakes of a group against all reals of the split,
with 95 % bootstrap intervals. The false-positive threshold is chosen on the *validation*
reals (the score at which 5 % of them would be called manipulated), never on the test data;
each benign operation is then applied to the test reals and the share above it reported.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

from opendfa.data.manifest import Manifest, read_manifest
from opendfa.data.sample import Sample, load_flow
from opendfa.forge.techniques import technique_tags
from opendfa.metrics.bootstrap import bootstrap_ci
from opendfa.models.forensic import face_score, load_forensic, predict_flow, predict_map
from opendfa.train.forensic import end_point_error


def benign(name: str, rgb: np.ndarray) -> np.ndarray:
    """Innocent processing an honest photo goes through (issue 26's list)."""
    if name.startswith("jpeg"):
        quality = int(name[4:])
        _, data = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if name.startswith("resize"):
        scale = int(name[6:]) / 100
        height, width = rgb.shape[:2]
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    if name == "sharpen":  # phone-like unsharp mask
        blurred = cv2.GaussianBlur(rgb, (0, 0), 1.2)
        return cv2.addWeighted(rgb, 1.6, blurred, -0.6, 0)
    if name == "denoise":
        return cv2.fastNlMeansDenoisingColored(rgb, None, 3, 3, 5, 15)
    if name == "png":
        return rgb.copy()
    raise ValueError(name)


BENIGN = (
    "png",
    "jpeg95",
    "jpeg90",
    "jpeg80",
    "jpeg70",
    "resize75",
    "resize50",
    "sharpen",
    "denoise",
)


def face_region(manifest: Manifest, sample: Sample, shape: tuple[int, int]) -> np.ndarray | None:
    path = manifest.resolve(sample.meta.get("landmarks_path"))
    if path is None or not path.is_file():
        return None
    points = np.load(path)[:, :2]
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    region = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(region, hull, 1)
    return region.astype(bool)


def score(model, rgb: np.ndarray, region: np.ndarray | None) -> float:
    if region is not None and region.shape != rgb.shape[:2]:
        region = cv2.resize(region.astype(np.uint8), rgb.shape[1::-1]) > 0
    return face_score(predict_map(model, rgb), region, model.config.top_fraction)


def auc_with_ci(labels: np.ndarray, scores: np.ndarray) -> tuple[float, tuple[float, float] | None]:
    auc = float(roc_auc_score(labels, scores))

    def statistic(pick: np.ndarray) -> float | None:
        if labels[pick].min() == labels[pick].max():
            return None
        return float(roc_auc_score(labels[pick], scores[pick]))

    return auc, bootstrap_ci(statistic, len(labels), strata=labels, resamples=300)


def run(args: argparse.Namespace) -> dict:
    manifest = read_manifest(args.manifest)
    model, info = load_forensic(args.model)
    rng = np.random.default_rng(0)
    chosen = [s for s in manifest.samples if s.split == args.split]
    rng.shuffle(chosen)
    chosen = chosen[: args.limit] if args.limit else chosen
    val_reals = [s for s in manifest.samples if s.split == "val" and s.label == "real"]
    rows: list[tuple[Sample, float]] = []
    start = time.perf_counter()
    for sample in chosen:
        bgr = cv2.imread(str(manifest.resolve(sample.path)))
        if bgr is None:
            continue
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        rows.append((sample, score(model, rgb, face_region(manifest, sample, rgb.shape[:2]))))
    per_face_ms = (time.perf_counter() - start) * 1e3 / max(len(rows), 1)
    reals = np.array([s for _, s in ((a, b) for a, b in rows if a.label == "real")] or [0.0])
    results: dict = {"model": info.get("name"), "split": args.split, "faces": len(rows)}
    results["ms_per_face"] = round(per_face_ms, 1)
    groups: dict[str, list[float]] = defaultdict(list)
    for sample, value in rows:
        if sample.label == "real":
            continue
        groups[f"family:{sample.category}"].append(value)
        for tag in technique_tags(sample.technique, sample.meta.get("params")):
            groups[tag].append(value)
        for degradation in sample.degradations:
            groups[f"degradation:{degradation.get('name', '?')}"].append(value)
        if not sample.degradations:
            groups["degradation:none"].append(value)
    table = {}
    for name, fakes in sorted(groups.items()):
        if len(fakes) < 5:
            continue
        labels = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
        auc, ci = auc_with_ci(labels, np.r_[reals, np.array(fakes)])
        table[name] = {"n": len(fakes), "auc": round(auc, 3), "ci": ci}
    all_fakes = [v for s, v in rows if s.label == "fake"]
    labels = np.r_[np.zeros(len(reals)), np.ones(len(all_fakes))]
    auc, ci = auc_with_ci(labels, np.r_[reals, np.array(all_fakes)])
    table["all"] = {"n": len(all_fakes), "auc": round(auc, 3), "ci": ci}
    results["auc"] = table
    results["flow"] = flow_errors(manifest, model, [s for s, _ in rows])
    results["false_positives"] = false_positives(args, manifest, model, val_reals, rows)
    return results


def flow_errors(manifest: Manifest, model, samples: list[Sample]) -> dict | None:
    """End-point error (px) of the flow head where the forge recorded a warp, over the pixels
    that moved by more than 0.5 px, against the "nothing moved" baseline; None without the
    head or without recorded flows."""
    if model.flow is None:
        return None
    predicted, baseline, moved_px = [], [], []
    for sample in samples:
        truth = load_flow(sample, manifest.root) if sample.label == "fake" else None
        if truth is None:
            continue
        moved = np.linalg.norm(truth, axis=2) > 0.5
        if not moved.any():
            continue
        rgb = cv2.cvtColor(cv2.imread(str(manifest.resolve(sample.path))), cv2.COLOR_BGR2RGB)
        predicted.append(end_point_error(predict_flow(model, rgb), truth, moved))
        baseline.append(end_point_error(np.zeros_like(truth), truth, moved))
        moved_px.append(int(moved.sum()))
    if not predicted:
        return None
    return {
        "fakes": len(predicted),
        "epe": round(float(np.mean(predicted)), 3),
        "epe_zero_flow": round(float(np.mean(baseline)), 3),
        "median_moved_px": int(np.median(moved_px)),
    }


def false_positives(args, manifest: Manifest, model, val_reals: list[Sample], rows) -> dict:
    """Share of test reals above the validation threshold (5 % of validation reals above)."""
    val_scores = []
    for sample in val_reals[: args.limit or None]:
        rgb = cv2.cvtColor(cv2.imread(str(manifest.resolve(sample.path))), cv2.COLOR_BGR2RGB)
        val_scores.append(score(model, rgb, face_region(manifest, sample, rgb.shape[:2])))
    if len(val_scores) < 10:
        return {"note": "fewer than 10 validation reals: no threshold"}
    threshold = float(np.quantile(val_scores, 0.95))
    reals = [s for s, _ in rows if s.label == "real"][: args.fp_limit]
    out: dict = {
        "threshold": round(threshold, 4),
        "reals": len(reals),
        "val_reals": len(val_scores),
    }
    for name in BENIGN:
        hits = []
        for sample in reals:
            rgb = cv2.cvtColor(cv2.imread(str(manifest.resolve(sample.path))), cv2.COLOR_BGR2RGB)
            processed = benign(name, rgb)
            region = face_region(manifest, sample, rgb.shape[:2])
            hits.append(score(model, processed, region) > threshold)
        out[name] = round(float(np.mean(hits)), 3)
    return out


def markdown(results: dict) -> str:
    lines = [
        f"Model `{results['model']}`, split `{results['split']}`, {results['faces']} faces, "
        f"{results['ms_per_face']} ms per face (2-core CPU).",
        "",
        "| group | fakes | AUC | 95 % CI |",
        "| --- | --- | --- | --- |",
    ]
    for name, row in results["auc"].items():
        ci = row["ci"]
        shown = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "–"
        lines.append(f"| {name} | {row['n']} | {row['auc']:.3f} | {shown} |")
    flow = results.get("flow")
    if flow:
        lines += [
            "",
            f"Flow head on {flow['fakes']} warped fakes (pixels that moved > 0.5 px, median "
            f"{flow['median_moved_px']} per face): end-point error {flow['epe']} px against "
            f'{flow["epe_zero_flow"]} px for "nothing moved".',
        ]
    fp = results["false_positives"]
    if "threshold" in fp:
        lines += [
            "",
            f"False positives of {fp['reals']} test reals at the threshold that flags 5 % of "
            f"{fp['val_reals']} validation reals ({fp['threshold']}):",
            "",
            "| processing | " + " | ".join(BENIGN) + " |",
            "| --- |" + " --- |" * len(BENIGN),
            "| share flagged | " + " | ".join(f"{fp[n]:.3f}" for n in BENIGN) + " |",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0, help="at most this many faces (0: all)")
    parser.add_argument("--fp-limit", type=int, default=150, help="reals for the benign rows")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--markdown", default=None, help="also write the table here")
    args = parser.parse_args()
    results = run(args)
    text = markdown(results)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
