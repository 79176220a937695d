"""False accusations of the default analysis: genuine faces, as they are and after innocent
processing, per photo source (issue 26, item 6).

    .venv/bin/python benchmarks/benign_false_positives.py \
        [--manifest runs/forensic-data-v2/manifest.jsonl] \
        [--markdown benchmarks/benign_false_positives.md]

Faces: the undegraded reals of the val and test identities of `runs/forensic-data-v2`, which
lie inside the bundled detector's own test identities (neither it nor anything else was
trained or tuned on them; nothing is chosen here, so both splits are reported together).
Each is analysed through the whole default `Analyzer` (face detection, `opendfa-lite0`,
abstention rules; file forensics off, they give no verdict) as it is (PNG) and after each
operation of `forensic_stream.BENIGN` plus WebP 80. A *false positive* is a verdict of fake;
*inconclusive* answers are counted apart (they accuse nobody, but they do not clear anyone
either). 95 % Wilson intervals. Rows are cached in `runs/benign-fp/<model>-<sha>/rows.jsonl`
(resumable, per detector; `--model` scores another one).
"""

from __future__ import annotations

import datetime
import platform
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from cached_analysis import (  # noqa: E402
    DEFAULT_MODEL,
    analyse_all,
    cache_path,
    decision_threshold,
    model_label,
    parser_for,
    publish,
)
from forensic_stream import BENIGN, benign  # noqa: E402

from opendfa.data.manifest import read_manifest  # noqa: E402
from opendfa.metrics.detection import wilson_interval  # noqa: E402

PROCESSING = (*BENIGN, "webp80")


def process(name: str, bgr: np.ndarray) -> bytes:
    """The processed face as the bytes of a file, as a user would hand it to `analyze`."""
    if name == "webp80":
        ok, data = cv2.imencode(".webp", bgr, [cv2.IMWRITE_WEBP_QUALITY, 80])
    else:
        ok, data = cv2.imencode(".png", benign(name, bgr))
    if not ok:
        raise RuntimeError(f"could not encode {name}")
    return data.tobytes()


def source_of(identity: str) -> str:
    """The photo source, from the identity's prefix (celeba-c0001 -> celeba)."""
    return identity.split("-", 1)[0]


def score(manifest_path: Path, model: str = DEFAULT_MODEL) -> list[dict]:
    manifest = read_manifest(manifest_path)
    reals = [
        s
        for s in manifest.samples
        if s.label == "real" and s.split in ("val", "test") and not s.degradations
    ]
    rows = analyse_all(
        reals,
        PROCESSING,
        cache=cache_path("benign-fp", model),
        model=model,
        load=lambda sample: cv2.imread(str(manifest.resolve(sample.path)), cv2.IMREAD_COLOR),
        make_input=lambda sample, name, bgr: process(name, bgr),
        make_row=lambda sample, name, report: {
            "source": source_of(sample.identity or ""),
            "processing": name,
            "verdict": report.verdict,
            "p": report.fake_probability,
            "faces": len(report.faces),
        },
    )
    return rows


def rate(rows: list[dict], verdict: str) -> str:
    hits = sum(row["verdict"] == verdict for row in rows)
    low, high = wilson_interval(hits, len(rows))
    return f"{100 * hits / max(1, len(rows)):.1f} % [{100 * low:.1f}, {100 * high:.1f}]"


def build(rows: list[dict], model: str = DEFAULT_MODEL, threshold: float = 0.5) -> str:
    by_processing: dict[str, list[dict]] = defaultdict(list)
    by_source: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_processing[row["processing"]].append(row)
        if row["processing"] == "png":
            by_source[row["source"]].append(row)
    lines = [
        "# False accusations of the default analysis on genuine faces",
        "",
        f"Made by `benchmarks/benign_false_positives.py` on {datetime.date.today()} "
        f"({platform.machine()}, {platform.python_version()}); `{model}` "
        f"through the whole default analysis (threshold {threshold:.2f}, the detector's "
        "operating point; abstention rules on). Faces: the "
        "undegraded reals of the val and test identities of `runs/forensic-data-v2`, inside the "
        "detector's own test identities. False positive: a verdict of fake; inconclusive "
        "counted apart. 95 % Wilson intervals.",
        "",
        "## Per processing (all sources)",
        "",
        "| processing | faces | false positive | inconclusive | no face found | mean P(fake) |",
        "| --- | ---: | --- | --- | ---: | ---: |",
    ]
    for name in PROCESSING:
        group = by_processing.get(name, [])
        if not group:
            continue
        missing = sum(row["faces"] == 0 for row in group)
        mean = np.mean([row["p"] for row in group if row["p"] is not None] or [float("nan")])
        lines.append(
            f"| {name} | {len(group)} | {rate(group, 'fake')} | {rate(group, 'inconclusive')} "
            f"| {missing} | {mean:.3f} |"
        )
    lines += [
        "",
        "## Per photo source (as they are, PNG)",
        "",
        "| source | faces | false positive | inconclusive | mean P(fake) |",
        "| --- | ---: | --- | --- | ---: |",
    ]
    for source, group in sorted(by_source.items(), key=lambda kv: -len(kv[1])):
        mean = np.mean([row["p"] for row in group if row["p"] is not None] or [float("nan")])
        lines.append(
            f"| {source} | {len(group)} | {rate(group, 'fake')} | "
            f"{rate(group, 'inconclusive')} | {mean:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = parser_for(__doc__, "runs/forensic-data-v2/manifest.jsonl").parse_args(argv)
    rows = score(args.manifest, args.model)
    publish(build(rows, model_label(args.model), decision_threshold(args.model)), args.markdown)


if __name__ == "__main__":
    main()
