"""How visible are the forge's edits and reenactments, and how does the detector's AUC depend
on it (issue 26: what its AUC goals can mean on this data).

    .venv/bin/python benchmarks/edit_strength.py [--manifest runs/forensic-data/manifest.jsonl] \
        [--markdown benchmarks/edit_strength.md]

A fake's *visibility* is measured against its own source photo (the undegraded real sample
made from the same `meta.origin` photo, on the same pixel grid): the mean absolute change in
grey levels (0-255, mean of the three channels) inside the forge's mask, and the 99th
percentile of the change over the whole image. Only undegraded fakes have it (a degradation
changes every pixel). Fakes of the val and test identities of `runs/forensic-data` (inside
the bundled detector's own test identities) are scored through the whole default analysis
and compared with all undegraded reals of the same identities: AUC per visibility band, with
95 % bootstrap intervals.
Rows are cached in `runs/edit-strength/<model>-<sha>/rows.jsonl` (resumable, per detector).
"""

from __future__ import annotations

import datetime
import platform
import sys
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from cached_analysis import (  # noqa: E402
    DEFAULT_MODEL,
    analyse_all,
    cache_path,
    parser_for,
    publish,
)

from opendfa.data.manifest import read_manifest  # noqa: E402
from opendfa.metrics.bootstrap import bootstrap_ci  # noqa: E402

FAMILIES = ("face_editing", "face_reenactment")
BANDS = ((0.0, 1.0), (1.0, 2.5), (2.5, 5.0), (5.0, 256.0))  # mean grey-level change in the mask


def visibility(fake: np.ndarray, source: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(mean change inside the mask, 99th percentile of the change) in grey levels."""
    change = np.abs(fake.astype(np.float32) - source.astype(np.float32)).mean(axis=2)
    inside = float(change[mask].mean()) if mask.any() else 0.0
    return inside, float(np.percentile(change, 99))


def score(manifest_path: Path, model: str = DEFAULT_MODEL) -> list[dict]:
    """Every wanted sample's P(fake) through the analysis (cached), with its visibility."""
    manifest = read_manifest(manifest_path)
    wanted = [
        s
        for s in manifest.samples
        if s.split in ("val", "test")
        and (s.category in FAMILIES or (s.label == "real" and not s.degradations))
    ]
    analysed = analyse_all(
        wanted,
        ["as_made"],
        cache=cache_path("edit-strength", model),
        model=model,
        load=lambda sample: None,  # the file is analysed as the forge wrote it
        make_input=lambda sample, condition, image: manifest.resolve(sample.path),
        make_row=lambda sample, condition, report: {
            "category": sample.category,
            "degraded": bool(sample.degradations),
            "p": report.fake_probability,
        },
        every=50,
    )
    rows = {row["id"]: row for row in analysed}
    twins = {
        s.meta.get("origin"): s
        for s in manifest.samples
        if s.label == "real" and not s.degradations
    }
    scored = []
    for sample in wanted:
        row = dict(rows[sample.id], inside=None, p99=None)
        twin = twins.get(sample.meta.get("origin"))
        if sample.label == "fake" and not sample.degradations and twin is not None:
            row["inside"], row["p99"] = _visibility_of(manifest, sample, twin)
        scored.append(row)
    return scored


def _visibility_of(manifest, fake_sample, twin) -> tuple[float | None, float | None]:
    """Against the undegraded real made from the same source photo (the forge's input, on
    the same pixel grid)."""
    fake = cv2.imread(str(manifest.resolve(fake_sample.path)), cv2.IMREAD_COLOR)
    source = cv2.imread(str(manifest.resolve(twin.path)), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(manifest.resolve(fake_sample.mask_path)), cv2.IMREAD_GRAYSCALE)
    if fake is None or source is None or mask is None or source.shape != fake.shape:
        return None, None
    return visibility(fake, source, mask > 25)


def auc_row(label: str, fakes: list[dict], reals: list[dict]) -> str:
    if len(fakes) < 5:
        return f"| {label} | {len(fakes)} | – |"
    labels = np.array([1] * len(fakes) + [0] * len(reals))
    scores = np.array([r["p"] for r in fakes + reals], dtype=float)
    auc = roc_auc_score(labels, scores)
    ci = bootstrap_ci(
        lambda pick: (
            roc_auc_score(labels[pick], scores[pick])
            if 0 < labels[pick].sum() < len(pick)
            else None
        ),
        len(labels),
        strata=labels,
    )
    interval = "" if ci is None else f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"| {label} | {len(fakes)} | {auc:.3f}{interval} |"


def build(rows: list[dict]) -> str:
    reals = [r for r in rows if r["category"] == "real" and r["p"] is not None]
    lines = [
        "# Edit visibility and the detector's AUC",
        "",
        f"Made by `benchmarks/edit_strength.py` on {datetime.date.today()} "
        f"({platform.machine()}, {platform.python_version()}). Bundled `opendfa-lite0` through "
        f"the default analysis; fakes of the val and test identities of `runs/forensic-data` "
        f"against their {len(reals)} undegraded reals. *Visibility*: mean absolute change "
        "(grey levels) inside the forge's mask, against the fake's own source photo.",
        "",
    ]
    for family in FAMILIES:
        fakes = [r for r in rows if r["category"] == family and r["p"] is not None]
        clean = [r for r in fakes if r["inside"] is not None]
        change = np.array([r["inside"] for r in clean])
        p99 = np.array([r["p99"] for r in clean])
        lines += [
            f"## {family}",
            "",
            f"Undegraded fakes with a visibility: {len(clean)}. Mean change inside the mask: "
            f"quartiles {np.percentile(change, 25):.2f} / {np.median(change):.2f} / "
            f"{np.percentile(change, 75):.2f} grey levels; "
            f"{100 * np.mean(p99 <= 2.0):.0f} % change no pixel in 100 by more than 2 levels "
            "(99th percentile of the change ≤ 2).",
            "",
            "| fakes | n | AUC vs reals [95 % CI] |",
            "| --- | ---: | --- |",
            auc_row("all", fakes, reals),
            auc_row("degraded", [r for r in fakes if r["degraded"]], reals),
            auc_row("undegraded", [r for r in fakes if not r["degraded"]], reals),
        ]
        for low, high in BANDS:
            band = [r for r in clean if low <= r["inside"] < high]
            name = f"change {low:g}–{high:g}" if high < 256 else f"change ≥ {low:g}"
            name = f"undegraded, {name}"
            lines.append(auc_row(name, band, reals))
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parser_for(__doc__, "runs/forensic-data/manifest.jsonl").parse_args(argv)
    publish(build(score(args.manifest, args.model)), args.markdown)


if __name__ == "__main__":
    main()
