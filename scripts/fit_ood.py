"""Fit the bundled detector's out-of-distribution statistics (`opendfa.models.ood`).

    .venv/bin/python scripts/fit_ood.py [--model src/opendfa/assets/models/opendfa-lite0]
                                        [--grey-share 0.25] [--grey-class auto|same|own]

Features: the detector's pooled, mirror-averaged backbone features from `predict_crops` on its
ONNX export (the analysis' own path), on DFA-Instruct v3's aligned 224 px crops
(`.cache/instruct-v3`, see `benchmarks/ood_sets.py`), one row per image.

- **grey copies**: every training synthesis is in colour, so without them a grey synthesised
  face lies outside (issue 25). A seeded `--grey-share` of the train images joins the fit a
  second time in grey (RGB -> grey -> 3 channels), and grey copies of the same share of the val
  images join the val images the variant and threshold are chosen on; the grey copies of the
  other val images are held out to measure the grey flag rate. A grey copy keeps its category's
  class mean (`same`) or all grey copies share one mean of their own (`own`);
- **fit** on the train images (reals and the four fake families): mean, principal
  directions, a Ledoit-Wolf covariance of the projected features shared by the classes (or
  one Gaussian), and for the residual variants the mean variance left off the directions
  (probabilistic PCA: the energy off them counts as isotropic noise of that variance);
- **choose** the variant (raw or L2-normalised features, 16/32/64 directions, one Gaussian or
  the nearest of the class means, grey copies in their category's mean or their own, with or
  without the residual): the highest mean AUROC of the val images (grey copies included)
  against four stress sets made from val images (cartoon, colour-inverted, heavy noise,
  non-face patches), among the variants whose threshold flags at most `--grey-flag-max` of
  the held-out grey val images in every category (all variants compete when none does);
  sketch, extreme blur and JPEG 5 are left out of the choice, so `benchmarks/ood.py` can show
  how the score does on kinds it was not chosen on. Only variants whose arrays stay under
  500 KB compete;
- **threshold**: the val score that keeps `--coverage` (99 %) of the val images (grey copies
  included) answered;
- write `ood.safetensors` and `ood.json` (threshold, variant, the table of every variant's
  val AUROCs and grey flag rates, the data's counts) into the model folder. Test images are
  not read here: `benchmarks/ood.py` reports on them.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import ood_sets  # noqa: E402

from opendfa.models.detector_base import MODELS_DIR  # noqa: E402
from opendfa.models.ood import OOD_FILE, OodStats, save_ood  # noqa: E402
from opendfa.models.runtime import load_for_inference  # noqa: E402

CHOICE_KINDS = ("cartoon", "inverted", "noise", "nonface")
VAL_STRESS = 200  # val images per stress set
MAX_BYTES = 500 * 1024
GREY = "grey"  # the class of the grey copies when they have a mean of their own


@dataclass(frozen=True)
class Variant:
    normalise: bool
    dims: int
    classes: bool
    residual: bool
    grey_class: str = "same"  # "own": the grey copies get a class mean of their own

    @property
    def name(self) -> str:
        return (
            f"{'l2' if self.normalise else 'raw'}-k{self.dims}-"
            f"{'classes' if self.classes else 'one'}-{'residual' if self.residual else 'sub'}"
            + ("-grey" if self.grey_class == "own" else "")
        )


@dataclass(frozen=True)
class Rows:
    """Feature rows of one split: its clean crops, then the grey copies of some of them."""

    features: np.ndarray  # (N, C)
    labels: np.ndarray  # (N,) category, or GREY for grey copies with a mean of their own
    grey: int  # how many of the last rows are grey copies

    def relabelled(self, grey_class: str) -> Rows:
        if grey_class != "own" or not self.grey:
            return self
        labels = self.labels.copy()
        labels[len(labels) - self.grey :] = GREY
        return Rows(self.features, labels, self.grey)


@dataclass(frozen=True)
class Candidate:
    """One variant fitted, thresholded and measured on val."""

    variant: Variant
    stats: OodStats
    choice: float  # mean val AUROC on CHOICE_KINDS
    aucs: dict[str, float]
    grey_flagged: dict[str, float]  # held-out grey val copies flagged, per category and "all"

    @property
    def grey_worst(self) -> float:
        return max((v for k, v in self.grey_flagged.items() if k != "all"), default=0.0)


def variants(grey_classes: tuple[str, ...] = ("same",)) -> list[Variant]:
    """Simplest first: on equal AUROC the earlier one is kept. A grey mean of its own only
    matters with class means."""
    return [
        Variant(normalise, dims, classes, residual, grey_class)
        for grey_class in grey_classes
        for residual in (False, True)
        for classes in (False, True)
        for normalise in (False, True)
        for dims in (16, 32, 64)
        if classes or grey_class == "same"
    ]


def grey_pick(count: int, share: float, split: str) -> np.ndarray:
    """Sorted indices of the `share` of a split's `count` images that get a grey copy, drawn
    with a seed of the split's name (the same on every run)."""
    if share <= 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(zlib.crc32(f"grey-share:{split}".encode()))
    return np.sort(rng.choice(count, round(share * count), replace=False))


def with_grey(clean: ood_sets.Scored, grey: ood_sets.Scored | None, pick: np.ndarray) -> Rows:
    """The clean rows followed by the grey copies of the rows `pick` (same crops, same order)."""
    if grey is None or not len(pick):
        return Rows(clean.features, clean.labels, 0)
    if not np.array_equal(clean.labels, grey.labels):
        raise ValueError("the grey features are not of the same crops as the clean ones")
    return Rows(
        np.concatenate([clean.features, grey.features[pick]]),
        np.concatenate([clean.labels, grey.labels[pick]]),
        len(pick),
    )


def prepare(features: np.ndarray, normalise: bool) -> np.ndarray:
    x = features.astype(np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12) if normalise else x


def fit(features: np.ndarray, labels: np.ndarray, variant: Variant) -> OodStats:
    """`OodStats` of one variant fitted on training features (its threshold is set later)."""
    x = prepare(features, variant.normalise)
    mean = x.mean(axis=0)
    centred = x - mean
    _, singular, rows = np.linalg.svd(centred, full_matrices=False)
    basis = rows[: variant.dims].T
    projected = centred @ basis
    names = sorted(set(labels.tolist())) if variant.classes else ["all"]
    if variant.classes:
        means = np.stack([projected[labels == name].mean(axis=0) for name in names])
        within = projected - means[np.searchsorted(names, labels)]
    else:
        means, within = np.zeros((1, variant.dims)), projected
    values, vectors = np.linalg.eigh(LedoitWolf().fit(within).covariance_)
    whiten = vectors @ np.diag(values**-0.5) @ vectors.T
    variances = singular**2 / (len(x) - 1)
    residual = 1.0 / variances[variant.dims :].mean() if variant.residual else 0.0
    return OodStats(
        mean=mean.astype(np.float32),
        basis=basis.astype(np.float32),
        whiten=whiten.astype(np.float32),
        centres=(means @ whiten).astype(np.float32),
        threshold=0.0,
        classes=tuple(names),
        normalise=variant.normalise,
        residual_weight=float(residual),
    )


def size_bytes(stats: OodStats) -> int:
    return sum(a.size * 4 for a in (stats.mean, stats.basis, stats.whiten, stats.centres))


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    labels = np.r_[np.zeros(len(inside)), np.ones(len(outside))]
    return float(roc_auc_score(labels, np.r_[inside, outside]))


def threshold_for(scores: np.ndarray, coverage: float) -> float:
    """The smallest score that leaves at least `coverage` of `scores` at or below it."""
    return float(np.quantile(scores, coverage, method="higher"))


def flag_rates(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, float]:
    """The share of `scores` above `threshold`, over all and per category."""
    if not len(scores):
        return {}
    flagged = scores > threshold
    rates = {"all": float(flagged.mean())}
    rates |= {name: float(flagged[labels == name].mean()) for name in sorted(set(labels))}
    return rates


def measure(
    variant: Variant,
    train: Rows,
    inside: Rows,
    stress: dict[str, ood_sets.Scored],
    held_out: ood_sets.Scored,
    coverage: float,
) -> Candidate | None:
    """One variant fitted on train, thresholded on the val rows, measured on val (None when
    its arrays are too large)."""
    fitted = train.relabelled(variant.grey_class)
    stats = fit(fitted.features, fitted.labels, variant)
    if size_bytes(stats) > MAX_BYTES:
        return None
    scores = stats.score(inside.features)
    stats = replace(stats, threshold=threshold_for(scores, coverage))
    aucs = {kind: auroc(scores, stats.score(s.features)) for kind, s in stress.items()}
    choice = float(np.mean([aucs[kind] for kind in CHOICE_KINDS]))
    grey = flag_rates(stats.score(held_out.features), held_out.labels, stats.threshold)
    return Candidate(variant, stats, choice, aucs, grey)


def choose(candidates: list[Candidate], grey_flag_max: float) -> Candidate:
    """The highest choice AUROC among the candidates that flag at most `grey_flag_max` of the
    held-out grey val copies of every category; all compete when none does. Earlier
    (simpler) candidates win ties."""
    eligible = [c for c in candidates if c.grey_worst <= grey_flag_max] or candidates
    return max(eligible, key=lambda c: c.choice)  # max keeps the first of equals


def info_record(args, best: Candidate, data: dict, table: list[dict], detector) -> dict:
    """`ood.json`'s description of the chosen statistics, their data and val figures."""
    variant, stats = best.variant, best.stats
    inside = stats.score(data["inside"].features)
    grey_mean = (
        " (grey copies of the train images in one mean of their own)"
        if variant.classes and variant.grey_class == "own"
        else ""
    )
    train, val = data["train"], data["inside"]
    return {
        "score": (
            "Mahalanobis distance of the detector's pooled, mirror-averaged backbone features "
            "(the ONNX output `features`"
            + (", L2-normalised" if variant.normalise else "")
            + f") to the nearest of {len(stats.classes)} class mean(s){grey_mean} within their "
            f"{variant.dims} principal directions (Ledoit-Wolf covariance shared by the classes)"
            + (
                ", plus the energy off those directions over their mean variance "
                "(probabilistic PCA)"
                if variant.residual
                else ""
            )
        ),
        "variant": variant.name,
        "dims": variant.dims,
        "threshold_rule": (
            f"the smallest val score leaving {100 * args.coverage:g} % of the val images "
            "(clean, reals and fakes"
            + (", and the grey copies of a share of them" if val.grey else "")
            + ") at or below it"
        ),
        "choice_rule": (
            "the highest mean val AUROC on the choice kinds among the variants flagging at most "
            f"{100 * args.grey_flag_max:g} % of the held-out grey val copies of every category"
        ),
        "data": {
            "source": ".cache/instruct-v3 (DFA-Instruct v3 aligned 224 px crops, margin 0.25), "
            "one row per image",
            "fit": {"split": "train", "images": len(train.labels) - train.grey}
            | dict(Counter(train.labels[: len(train.labels) - train.grey].tolist()))
            | {"grey_copies": train.grey},
            "threshold": {
                "split": "val",
                "images": len(val.labels) - val.grey,
                "grey_copies": val.grey,
            },
            "grey": {
                "share": args.grey_share,
                "class": variant.grey_class if variant.classes else "one Gaussian",
                "grey_class_option": args.grey_class,
                "copies": "RGB -> grey (OpenCV, BT.601) -> 3 channels; the same seeded share "
                "(numpy default_rng(crc32('grey-share:<split>'))) of train and of val",
                "held_out_val": {"images": len(data["held_out"].labels)}
                | dict(Counter(data["held_out"].labels.tolist())),
            },
            "choice": {
                "split": "val",
                "stress_images": VAL_STRESS,
                "kinds": list(CHOICE_KINDS),
                "nonface_sources": ood_sets.nonface_sources("val"),
            },
        },
        "val": {
            "auroc": {kind: round(value, 4) for kind, value in best.aucs.items()},
            "flagged": {
                kind: round(float((stats.score(s.features) > stats.threshold).mean()), 4)
                for kind, s in data["stress"].items()
            },
            "flagged_clean": round(
                float((inside[: len(inside) - val.grey] > stats.threshold).mean()), 4
            ),
            "flagged_grey_copies": round(
                float((inside[len(inside) - val.grey :] > stats.threshold).mean()), 4
            )
            if val.grey
            else None,
            "flagged_grey_held_out": {k: round(v, 4) for k, v in best.grey_flagged.items()},
        },
        "variants": table,
        "made_by": "scripts/fit_ood.py",
        "made_on": f"{datetime.date.today()}, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "onnx_sha256": detector.info.get("onnx", {}).get("sha256"),
        "test_figures": "benchmarks/ood.md",
    }


def load_data(detector, grey_share: float) -> dict:
    """Train rows, val rows (with their grey copies), the held-out grey val copies and the val
    stress sets, from `.cache/ood` or computed there."""
    print("features (cached in .cache/ood):", flush=True)
    train = ood_sets.score_split(detector, "train", "clean", 0)
    val = ood_sets.score_split(detector, "val", "clean", 0)
    kinds = [*ood_sets.OOD_KINDS, *ood_sets.BENIGN_KINDS]
    stress = {kind: ood_sets.score_split(detector, "val", kind, VAL_STRESS) for kind in kinds}
    train_pick = grey_pick(len(train.labels), grey_share, "train")
    val_pick = grey_pick(len(val.labels), grey_share, "val")
    # Grey copies of every image are cached; the share's rows are taken from them.
    train_grey = ood_sets.score_split(detector, "train", "grey", 0) if grey_share > 0 else None
    val_grey = ood_sets.score_split(detector, "val", "grey", 0)
    rest = np.setdiff1d(np.arange(len(val.labels)), val_pick)
    held_out = ood_sets.Scored(
        "val-grey-held-out",
        val_grey.features[rest],
        val_grey.fake_probability[rest],
        val_grey.categories[rest],
        val_grey.labels[rest],
    )
    return {
        "train": with_grey(train, train_grey, train_pick),
        "inside": with_grey(val, val_grey, val_pick),
        "held_out": held_out,
        "stress": stress,
    }


def print_candidates(
    candidates: list[Candidate], best: Candidate, held_out: ood_sets.Scored
) -> None:
    kinds = list(best.aucs)
    print(f"chosen {best.variant.name}: threshold {best.stats.threshold:.3f}")
    for kind in kinds:
        print(f"  val {kind:9s} AUROC {best.aucs[kind]:.3f}")
    for name, rate in best.grey_flagged.items():
        print(f"  held-out grey val {name:22s} flagged {100 * rate:.1f} %")
    print(f"  (held-out grey val copies: {dict(Counter(held_out.labels.tolist()))})")
    for grey_class in sorted({c.variant.grey_class for c in candidates}):
        mine = [c for c in candidates if c.variant.grey_class == grey_class and c.variant.classes]
        top = max(mine, key=lambda c: c.choice)
        print(
            f"best with grey copies in {grey_class!r} class means: {top.variant.name} "
            f"choice AUROC {top.choice:.4f}, held-out grey flagged "
            f"{100 * top.grey_flagged['all']:.1f} % (worst category {100 * top.grey_worst:.1f} %)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "opendfa-lite0")
    parser.add_argument("--coverage", type=float, default=0.99)
    parser.add_argument(
        "--grey-share",
        type=float,
        default=0.25,
        help="share of the train (and val) images added again as grey copies; 0: none",
    )
    parser.add_argument(
        "--grey-class",
        choices=("auto", "same", "own"),
        default="auto",
        help="grey copies in their category's class mean, in one of their own, or choose",
    )
    parser.add_argument(
        "--grey-flag-max",
        type=float,
        default=0.05,
        help="the most a variant may flag of any category's held-out grey val copies "
        "(about 80 a category: one image is about 1.2 points)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    args = parser.parse_args(argv)
    detector = load_for_inference(args.model, backend="onnx")
    data = load_data(detector, args.grey_share)
    grey_classes = ("same", "own") if args.grey_class == "auto" else (args.grey_class,)
    if args.grey_share <= 0:
        grey_classes = ("same",)
    candidates, table = [], []
    for variant in variants(grey_classes):
        candidate = measure(
            variant, data["train"], data["inside"], data["stress"], data["held_out"], args.coverage
        )
        if candidate is None:
            continue
        candidates.append(candidate)
        table.append(
            {
                "variant": variant.name,
                "choice_auroc": round(candidate.choice, 4),
                "grey_flagged_worst": round(candidate.grey_worst, 4),
            }
        )
        print(
            f"{variant.name:33s} mean val AUROC on the choice kinds {candidate.choice:.4f}, "
            f"held-out grey flagged at most {100 * candidate.grey_worst:.1f} %",
            flush=True,
        )
    best = choose(candidates, args.grey_flag_max)
    print_candidates(candidates, best, data["held_out"])
    if args.dry_run:
        return 0
    info = info_record(args, best, data, table, detector)
    save_ood(args.model, best.stats, detector.weights_sha256, info)
    size = (args.model / OOD_FILE).stat().st_size
    print(f"wrote {args.model / OOD_FILE} ({size / 1024:.0f} KB) and ood.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
