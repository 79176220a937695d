"""Abstention: size and quality floors, and the selective risk of the bundled detector.

    .venv/bin/python benchmarks/abstention.py [--manifest M] [--val 400] [--test 160]

Data: an `opendfa data synth` manifest split by identity (default
`runs/forensic-data-v2/manifest.jsonl`, git-ignored); its val and test identities lie inside the
bundled detector's own test identities, so neither was seen in training. A seeded sample,
stratified by category (reals and each fake family in equal numbers), is analysed by
`Analyzer(forensics=False)` (the bundled `opendfa-lite0`) clean and under degradations of the
whole image: downscaled (area) so the face is about 24/32/48/64/96 px wide (never upscaled),
and re-saved as JPEG at quality 10/20/35/50/75 (OpenCV, 4:2:0).

Floors are chosen on **val**: the smallest face width (quality) at which the AUC stays within
`TOLERANCE` of the clean AUC, with every larger width (quality) also within it. The margin
band (abstain when |P(fake) - threshold| is below it) is the one leaving 80 % of the clean val
faces. Everything is reported on **test**. Risk is the error rate at the detector's operating
point (0.5 without one); AUC has a stratified bootstrap 95 % CI. Scores are cached in
`runs/abstention/<model>-<sha>/rows.jsonl` (per detector; `--model` scores another one); the
tables go to `benchmarks/abstention.md`.
"""

from __future__ import annotations

import datetime
import platform
import random
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from cached_analysis import (  # noqa: E402
    DEFAULT_MODEL,
    analyse_all,
    cache_path,
    decision_threshold,
    model_label,
    parser_for,
)

from opendfa.data.manifest import read_manifest  # noqa: E402
from opendfa.metrics.bootstrap import bootstrap_ci  # noqa: E402
from opendfa.metrics.selective import (  # noqa: E402
    aurc,
    best_selective_risk,
    risk_at,
    risk_coverage,
)

SIZES = (24, 32, 48, 64, 96)
QUALITIES = (10, 20, 35, 50, 75)
TOLERANCE = 0.05
TARGET_COVERAGE = 0.8
THRESHOLD = 0.5
OUT = ROOT / "benchmarks" / "abstention.md"


def conditions() -> list[str]:
    return ["clean"] + [f"size{s}" for s in SIZES] + [f"jpeg{q}" for q in QUALITIES]


def degrade(bgr: np.ndarray, condition: str, face_width: float) -> bytes:
    """The image file (bytes) of `bgr` under one condition."""
    if condition.startswith("size"):
        scale = min(1.0, int(condition[4:]) / face_width)
        if scale < 1.0:
            height, width = bgr.shape[:2]
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
    if condition.startswith("jpeg"):
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(condition[4:])])
    else:
        ok, data = cv2.imencode(".png", bgr)
    if not ok:
        raise ValueError(f"cannot encode {condition}")
    return data.tobytes()


def pick(manifest, split: str, count: int, seed: int) -> list:
    by_category = defaultdict(list)
    for sample in manifest.samples:
        if sample.split == split:
            by_category[sample.category].append(sample)
    rng = random.Random(seed)
    per = count // len(by_category)
    chosen = []
    for category in sorted(by_category):
        items = sorted(by_category[category], key=lambda s: s.id)
        chosen.extend(rng.sample(items, min(per, len(items))))
    return chosen


def score(
    manifest_path: Path, val: int, test: int, seed: int, model: str = DEFAULT_MODEL
) -> list[dict]:
    """Analyse every sample under every condition; cached rows are reused."""
    manifest = read_manifest(manifest_path)
    samples = pick(manifest, "val", val, seed) + pick(manifest, "test", test, seed)

    def make_input(sample, condition: str, bgr: np.ndarray) -> bytes:
        box = sample.meta["face_box"]
        return degrade(bgr, condition, float(box[2] - box[0]))

    def make_row(sample, condition: str, report) -> dict:
        decisive = max(report.faces, key=lambda f: f.fake_probability, default=None)
        return {
            "split": sample.split,
            "label": int(sample.label == "fake"),
            "category": sample.category,
            "p": report.fake_probability,
            "face_px": None if decisive is None else decisive.box[2] - decisive.box[0],
        }

    return analyse_all(
        samples,
        conditions(),
        cache=cache_path("abstention", model, per_threshold=False),  # rows: P(fake), sizes
        model=model,
        load=lambda sample: cv2.imread(str(manifest.resolve(sample.path)), cv2.IMREAD_COLOR),
        make_input=make_input,
        make_row=make_row,
    )


def auc_ci(labels: np.ndarray, scores: np.ndarray) -> tuple[float, tuple[float, float] | None]:
    if len(set(labels.tolist())) < 2:
        return float("nan"), None

    def statistic(index: np.ndarray) -> float | None:
        return float(roc_auc_score(labels[index], scores[index]))

    auc = float(roc_auc_score(labels, scores))
    return auc, bootstrap_ci(statistic, len(labels), labels, resamples=500)


def arrays(rows: list[dict], split: str, condition: str | None = None):
    """(labels, scores, face widths) of the rows where a face was found."""
    chosen = [
        r
        for r in rows
        if r["split"] == split
        and (condition is None or r["condition"] == condition)
        and r["p"] is not None
    ]
    return (
        np.array([r["label"] for r in chosen], dtype=int),
        np.array([r["p"] for r in chosen], dtype=float),
        np.array([r["face_px"] for r in chosen], dtype=float),
    )


def choose_floor(aucs: dict[int, float], clean: float) -> int:
    """The smallest level whose AUC, and every larger level's, is within TOLERANCE of clean
    (the largest level measured when none is)."""
    floor = max(aucs)
    for level in sorted(aucs, reverse=True):
        if aucs[level] >= clean - TOLERANCE:
            floor = level
        else:
            break
    return floor


def fmt_auc(auc: float, ci) -> str:
    if auc != auc:
        return "n/a"
    return f"{auc:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f"{auc:.3f}"


def build(
    rows: list[dict],
    model: str = "opendfa-lite0@2",
    data: str = "runs/forensic-data",
    threshold: float = THRESHOLD,
) -> str:
    found = defaultdict(lambda: [0, 0])
    for r in rows:
        found[(r["split"], r["condition"])][0] += r["p"] is not None
        found[(r["split"], r["condition"])][1] += 1
    table = {}
    for split in ("val", "test"):
        for condition in conditions():
            labels, scores, widths = arrays(rows, split, condition)
            auc, ci = auc_ci(labels, scores)
            full = float(((scores >= threshold).astype(int) != labels).mean())
            table[(split, condition)] = {
                "auc": auc,
                "ci": ci,
                "n": len(labels),
                "found": found[(split, condition)],
                "width": float(np.median(widths)) if len(widths) else float("nan"),
                "error": full,
                "sel80": risk_at(labels, scores, TARGET_COVERAGE, threshold),
                "aurc": aurc(labels, scores, threshold),
            }
    clean_val = table[("val", "clean")]["auc"]
    size_floor = choose_floor({s: table[("val", f"size{s}")]["auc"] for s in SIZES}, clean_val)
    quality_floor = choose_floor(
        {q: table[("val", f"jpeg{q}")]["auc"] for q in QUALITIES}, clean_val
    )
    labels, scores, _ = arrays(rows, "val", "clean")
    band = float(np.quantile(np.abs(scores - threshold), 1 - TARGET_COVERAGE))

    lines = [
        f"# Abstention: floors and selective risk of `{model}`",
        "",
        f"Made by `benchmarks/abstention.py` on {datetime.date.today()} "
        f"({platform.machine()}, {platform.python_version()}). Data: `opendfa data synth` "
        "faces whose identities the detector never saw in training (the val and test "
        f"identities of `{data}`, inside the detector's own test identities); "
        "reals and the three fake families (face swap, reenactment, editing) in equal numbers. "
        f"`Analyzer(forensics=False)`, threshold {threshold:.2f}. AUC with a stratified "
        "bootstrap 95 % CI "
        "(500 resamples); *found*: images where a face was found (the others have no score "
        "and are left out of AUC and risk); *face px*: median width of the decisive face box.",
        "",
        "## AUC per face size and JPEG quality",
        "",
        "| condition | val found | val AUC | test found | test face px | test AUC | "
        "test error | test sel. error @80 % | test AURC |",
        "| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for condition in conditions():
        v, t = table[("val", condition)], table[("test", condition)]
        lines.append(
            f"| {condition} | {v['found'][0]}/{v['found'][1]} | {fmt_auc(v['auc'], v['ci'])} "
            f"| {t['found'][0]}/{t['found'][1]} | {t['width']:.0f} | "
            f"{fmt_auc(t['auc'], t['ci'])} | {100 * t['error']:.1f} % | "
            f"{100 * t['sel80']:.1f} % | {t['aurc']:.3f} |"
        )
    size_note = f"**{size_floor} px**"
    lines += [
        "",
        "## Floors (chosen on val)",
        "",
        f"Clean val AUC {clean_val:.3f}. A floor is the smallest level whose val AUC, and that "
        f"of every larger level, stays within {TOLERANCE} of the clean val AUC.",
        "",
        f"- size floor: {size_note} (decisive face narrower than this: `inconclusive`);",
        f"- JPEG quality floor: **{quality_floor}** (a JPEG whose estimated quality is below "
        "it: `inconclusive`);",
        f"- margin band: **{band:.3f}**: |P(fake) - {threshold:.2f}| below it is `inconclusive` "
        "(the band leaving 80 % of the clean val faces).",
        "",
    ]
    lines += selective_section(rows, size_floor, quality_floor, band, threshold)
    test = table[("test", "clean")]
    met = test["sel80"] <= test["error"] / 2
    lines += [
        "",
        "## Reading",
        "",
        f"- Goal (issue 25): at 80 % coverage the selective error at most half the full-coverage "
        f"error on clean test. Measured {100 * test['sel80']:.1f} % against "
        f"{100 * test['error']:.1f} %: **{'met' if met else 'not met'}**.",
        "- No abstention rule could meet it on this detector: withholding 20 % of the answers "
        "removes at most 20 % of them as errors, so the selective error at 80 % coverage is at "
        f"least {100 * best_selective_risk(test['error'], TARGET_COVERAGE):.1f} % (*floor* "
        "above). Halving the error needs a full error of at most 33.3 %: the detector must "
        "miss fewer fakes first (issue 26).",
        f"- The errors at threshold {threshold:.2f} are mostly fakes the detector scores "
        "confidently real "
        "(face editing and reenactment, see the per-family table): a margin cannot find "
        "confident misses, so abstaining on the uncertain band buys little here. The ranking "
        f"(AUC) is better than the {threshold:.2f} threshold suggests: the sample is 3 "
        "fakes to 1 real and "
        "has no entire-face synthesis, the family the detector catches best.",
        "- Faces already narrower than a target size are left as they are (never upscaled), "
        "so the size rows mix in some originally small faces; *test face px* is the median.",
        "- The floors keep every plain real/fake verdict at a face size and JPEG quality where "
        "the val AUC was within 0.05 of the clean AUC; they do not make the detector accurate.",
    ]
    return "\n".join(lines) + "\n"


def selective_section(rows, size_floor, quality_floor, band, threshold=THRESHOLD) -> list[str]:
    lines = [
        "## Selective risk on test",
        "",
        f"Ranked by the margin |P(fake) - {threshold:.2f}|. *error*: all faces answered; "
        "*sel. error "
        "@80 %*: the 80 % with the largest margin; *band*: the val-chosen band applied as it "
        "is; *rules*: band plus the size and quality floors (what `opendfa analyze` does); "
        "*floor @80 %*: the lowest selective error any abstention rule could reach at 80 % "
        "coverage with this full error (`opendfa.metrics.selective.best_selective_risk`: it "
        "withholds only wrong answers).",
        "",
        "| test data | n | error | sel. error @80 % | floor @80 % | AURC | band: coverage "
        "| band: sel. error | rules: coverage | rules: sel. error |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    groups = {
        "clean": ["clean"],
        "degraded (all 10)": [c for c in conditions() if c != "clean"],
        "clean + degraded": conditions(),
    }
    for name, chosen in groups.items():
        picked = [r for r in rows if r["split"] == "test" and r["condition"] in chosen]
        labels = np.array([r["label"] for r in picked if r["p"] is not None])
        scores = np.array([r["p"] for r in picked if r["p"] is not None])
        wrong = (scores >= threshold).astype(int) != labels
        margin = np.abs(scores - threshold) >= band
        ruled = np.array(
            [
                abs(r["p"] - threshold) >= band
                and r["face_px"] >= size_floor
                and not (
                    r["condition"].startswith("jpeg") and int(r["condition"][4:]) < quality_floor
                )
                for r in picked
                if r["p"] is not None
            ]
        )
        lines.append(
            f"| {name} | {len(labels)} | {100 * wrong.mean():.1f} % | "
            f"{100 * risk_at(labels, scores, TARGET_COVERAGE, threshold):.1f} % | "
            f"{100 * best_selective_risk(float(wrong.mean()), TARGET_COVERAGE):.1f} % | "
            f"{aurc(labels, scores, threshold):.3f} | "
            f"{100 * margin.mean():.1f} % | {100 * wrong[margin].mean():.1f} % | "
            f"{100 * ruled.mean():.1f} % | {100 * wrong[ruled].mean():.1f} % |"
        )
    lines += [
        "",
        "### Per family (clean test)",
        "",
        "| family | n | AUC vs reals | error | band: coverage | band: sel. error |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    clean = [r for r in rows if r["split"] == "test" and r["condition"] == "clean" and r["p"]]
    reals = [r["p"] for r in clean if not r["label"]]
    for family in sorted({r["category"] for r in clean}):
        p = np.array([r["p"] for r in clean if r["category"] == family])
        y = np.array([r["label"] for r in clean if r["category"] == family])
        wrong = (p >= threshold).astype(int) != y
        kept = np.abs(p - threshold) >= band
        auc = (
            ""
            if family == "real"
            else f"{roc_auc_score([0] * len(reals) + [1] * len(p), reals + p.tolist()):.3f}"
        )
        lines.append(
            f"| {family} | {len(p)} | {auc} | {100 * wrong.mean():.1f} % | "
            f"{100 * kept.mean():.1f} % | {100 * wrong[kept].mean():.1f} % |"
        )
    lines += ["", "### Risk-coverage curve (clean test)", "", "| coverage | selective error |"]
    lines += ["| ---: | ---: |"]
    labels, scores, _ = arrays(rows, "test", "clean")
    covered, risk = risk_coverage(labels, scores, threshold)
    for target in (0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        index = int(np.searchsorted(covered, target - 1e-9))
        lines.append(f"| {100 * target:.0f} % | {100 * risk[index]:.1f} % |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = parser_for(__doc__, "runs/forensic-data-v2/manifest.jsonl")
    # 400 val faces: with 120 (before 2026-12-08) the AUC's CI was about +-0.09, wider than the
    # 0.05 tolerance of the floor rule, and the size floor moved between models on noise.
    parser.add_argument("--val", type=int, default=400)
    parser.add_argument("--test", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(markdown=OUT)
    args = parser.parse_args(argv)
    rows = score(args.manifest, args.val, args.test, args.seed, args.model)
    data = args.manifest.parent
    data = data.relative_to(ROOT) if data.is_relative_to(ROOT) else data
    text = build(rows, model_label(args.model), str(data), decision_threshold(args.model))
    args.markdown.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
