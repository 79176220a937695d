"""Calibrate the forensic stream and fit its fusion with the semantic detector on validation
faces, then compare semantic only / forensic only / fused on the test faces.

    .venv/bin/python benchmarks/forensic_fusion.py --manifest runs/forensic-data/manifest.jsonl \
        --model runs/forensic/model --fit [--limit 400] [--markdown out.md]

`--fit` writes `calibration` and `fusion` into the model's config.json from the `val` split
only; the test split is only ever scored. Each image goes through the real analysis (face
detection, the bundled semantic detector); the decisive face is then judged by the stream.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from forensic_stream import auc_with_ci  # the same AUC and interval as the stream table

from opendfa.data.manifest import read_manifest
from opendfa.evidence.fusion import Fusion, fit_calibration, fit_fusion
from opendfa.evidence.pipeline import Analyzer
from opendfa.evidence.stream import ForensicStream


def collect(analyzer: Analyzer, manifest, split: str, limit: int):
    """(sample, semantic P(fake), the stream's raw score or None) of the decisive face of each
    image of `split` (the analyzer runs the stream)."""
    samples = [s for s in manifest.samples if s.split == split]
    np.random.default_rng(0).shuffle(samples)
    stream = analyzer.stream
    rows = []
    for sample in samples[: limit or None]:
        report = analyzer.analyze_image(manifest.resolve(sample.path))
        if not report.faces:
            continue
        face = max(report.faces, key=lambda f: f.semantic_probability or 0.0)
        said = face.forensic_stream or {}
        raw = said["logit"] * stream.temperature + stream.bias if said.get("made") else None
        rows.append((sample, face.semantic_probability, raw))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--model", required=True, help="forensic-stream model folder")
    parser.add_argument("--fit", action="store_true", help="fit on val and write config.json")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--markdown", default=None)
    args = parser.parse_args()
    manifest = read_manifest(args.manifest)
    config_path = Path(args.model) / "config.json"
    if args.fit:
        with Analyzer(forensics=False, forensic_stream=args.model) as analyzer:
            rows = [r for r in collect(analyzer, manifest, "val", args.limit) if r[2] is not None]
            detector = analyzer.model_info.detector
        labels = [int(s.label == "fake") for s, _, _ in rows]
        calibration = fit_calibration([r for _, _, r in rows], labels)
        logits = [(r - calibration["bias"]) / calibration["temperature"] for _, _, r in rows]
        fusion = fit_fusion([p for _, p, _ in rows], logits, labels, detector=detector)
        config = json.loads(config_path.read_text())
        config["calibration"] = {**calibration, "faces": len(rows), "split": "val"}
        config["fusion"] = fusion.to_json()
        config_path.write_text(json.dumps(config, indent=1) + "\n")
        print(f"fitted on {len(rows)} validation faces: {calibration}, {fusion}")
    with Analyzer(forensics=False, forensic_stream=args.model) as analyzer:
        stream = analyzer.stream
        fusion = Fusion.from_json(stream.info.get("fusion"))
        rows = collect(analyzer, manifest, "test", args.limit)
    table = summarize(rows, stream, fusion)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table)


def summarize(rows, stream: ForensicStream, fusion: Fusion | None) -> str:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, (sample, _, _) in enumerate(rows):
        groups["all" if sample.label == "fake" else "real"].append(index)
        if sample.label == "fake":
            groups[sample.category].append(index)
    made = np.array([raw is not None for _, _, raw in rows])
    semantic = np.array([p for _, p, _ in rows])
    forensic = np.array(
        [(raw - stream.bias) / stream.temperature if raw is not None else 0.0 for *_, raw in rows]
    )
    fused = np.array(
        [
            fusion.combine(p, (raw - stream.bias) / stream.temperature if raw is not None else None)
            if fusion
            else p
            for _, p, raw in rows
        ]
    )
    lines = [
        f"{len(rows)} test faces, stream made on {int(made.sum())}.",
        "",
        "| fakes | n | semantic AUC | forensic AUC | fused AUC |",
        "| --- | --- | --- | --- | --- |",
    ]
    reals = groups["real"]
    for name in ["all", *sorted(k for k in groups if k not in ("all", "real"))]:
        pick = np.array(reals + groups[name])
        labels = np.r_[np.zeros(len(reals)), np.ones(len(groups[name]))]
        cells = []
        for scores in (semantic, forensic, fused):
            value, ci = auc_with_ci(labels, scores[pick])
            cells.append(f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{value:.3f}")
        lines.append(f"| {name} | {len(groups[name])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
