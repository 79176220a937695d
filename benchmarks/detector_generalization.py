"""Held-out-technique protocol for the detector: does it catch forgeries made another way?

    .venv/bin/python benchmarks/detector_generalization.py [--manifest M] [--models A B ...]

Data: `opendfa data synth` output on the gathered real faces (`scripts/train_detector.py`
makes it: identity-disjoint 70 / 10 / 20 % splits). Every fake records how it was made
(technique name and parameters), so samples fall into technique groups: each blend type,
each warp type, each edit operation, each generator, each family, and each photo source.

Two parts, both scored on the **test identities** only (never seen in training):

1. *Held-out recipes* (cheap setting, 2 CPU cores): frozen ImageNet EfficientNet-Lite0
   features, a class-balanced logistic-regression head. For each held-out group the head is
   trained on every train-split sample outside the group and tested on the group's test
   fakes against all test reals. Cross-source: trained on CelebA-sourced faces only, tested
   on the other sources, and the reverse. Recipes: `v1` (160 px crops, as the v1 model) and
   `new` (224 px crops, mirror-averaged features, plus the stride-8 feature map pooled):
   the same data, the same head, so only the recipe differs.
2. *Shipped models* scored directly per group (no training here). A model trained on this
   data has seen every group, so for it the rows are held-out *identities*, not held-out
   techniques; the v1 model saw none of these techniques or identities.

AUC with a stratified bootstrap 95 % CI (1,000 resamples). Features and scores are cached in
`.cache/detector-v2/generalization/`; the table goes to `benchmarks/detector_generalization.md`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from opendfa.data.manifest import read_manifest
from opendfa.data.sample import Sample
from opendfa.forge.techniques import technique_tags
from opendfa.metrics.bootstrap import bootstrap_ci
from opendfa.models.backbones import create_backbone
from opendfa.models.detector import load_detector, predict_crops
from opendfa.train.data import load_crops

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".cache" / "detector-v2"
MARGIN = 0.25
BOOTSTRAP = 1000
MIN_TEST_FAKES = 20  # a group with fewer test fakes gets no row


# ----------------------------------------------------------------------------- groups


def technique_groups(sample: Sample) -> set[str]:
    """Every group a fake belongs to, as `axis=value` (reals belong to none), from the forge's
    own tags (`opendfa.forge.technique_tags`). Poisson normal/mixed and MLS affine/similarity
    are one group each; self-blending counts as a blend; operations group only edits. The
    resampler, its library, an edit's smoothing filter and recolouring are axes of their own."""
    if sample.label != "fake":
        return set()
    params = (sample.meta or {}).get("params", {}) or {}
    tags = technique_tags(sample.technique, params)
    groups = {f"family={sample.category}"}
    for tag in tags:
        axis, value = tag.split(":", 1)
        if axis == "blend":
            groups.add(f"blend={_blend(value)}")
        elif axis == "warp":
            groups.add(f"warp={_warp(value)}")
        elif axis == "color":
            groups.add(f"colour={value}")
        elif axis == "operation" and "family:edit" in tags:
            groups.add(f"edit={value}")
        elif axis == "generator":
            groups.add(f"generator={value}")
        elif axis in ("resample", "resample_library", "smoothing", "recolour"):
            groups.add(f"{axis}={value}")  # issue 26: pixel-level diversity axes
        elif tag == "family:sbi":
            groups.add("blend=self_blend")
    return groups


def _blend(name: str) -> str:
    return "poisson" if name.startswith("poisson") else name


def _warp(name: str) -> str:
    return "mls" if name.startswith("mls") else name


def source_of(sample: Sample) -> str:
    identity = sample.identity or ""
    return "celeba" if identity.startswith("celeba-") else "other"


# ----------------------------------------------------------------------------- features


@dataclass
class Recipe:
    name: str
    size: int
    mirror: bool
    skip_features: bool


RECIPES = (
    Recipe("v1", 160, mirror=False, skip_features=False),
    Recipe("new", 224, mirror=True, skip_features=True),
)


def features(recipe: Recipe, manifest: Path, samples: list[Sample], out: Path) -> np.ndarray:
    """Frozen ImageNet Lite0 features of every sample's aligned crop (cached as .npy)."""
    path = out / f"features-{recipe.name}.npy"
    if path.exists():
        cached = np.load(path)
        if len(cached) == len(samples):
            return cached
    backbone = create_backbone("efficientnet_lite0", pretrained=True).eval()
    mean = torch.tensor(backbone.mean).view(1, 3, 1, 1)
    std = torch.tensor(backbone.std).view(1, 3, 1, 1)
    crops = load_crops(manifest, None, size=recipe.size, margin=MARGIN)
    index = {s.id: i for i, s in enumerate(crops.samples)}
    rows = []
    with torch.inference_mode():
        for start in range(0, len(samples), 32):
            batch = np.stack(
                [
                    crops.load_crop(crops.samples[index[s.id]]).image
                    for s in samples[start : start + 32]
                ]
            )
            x = (torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255.0 - mean) / std
            rows.append(_pooled(backbone, x, recipe).numpy())
    result = np.concatenate(rows).astype(np.float32)
    out.mkdir(parents=True, exist_ok=True)
    np.save(path, result)
    return result


def _pooled(backbone, x: torch.Tensor, recipe: Recipe) -> torch.Tensor:
    def one(images: torch.Tensor) -> torch.Tensor:
        skip, top = backbone.features(images)
        parts = [top.mean((2, 3))]
        if recipe.skip_features:
            parts += [skip.mean((2, 3)), F.adaptive_max_pool2d(skip, 1).flatten(1)]
        return torch.cat(parts, 1)

    pooled = one(x)
    return (pooled + one(x.flip(3))) / 2 if recipe.mirror else pooled


# ----------------------------------------------------------------------------- metrics


def auc_with_ci(scores: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, float]:
    """AUC and a stratified bootstrap 95 % interval (reals and fakes resampled separately)."""
    scores, labels = np.asarray(scores, float), np.asarray(labels, int)
    auc = float(roc_auc_score(labels, scores))
    low, high = bootstrap_ci(
        lambda pick: roc_auc_score(labels[pick], scores[pick]),
        labels.size,
        labels,
        resamples=BOOTSTRAP,
        seed=seed,
    )
    return {
        "auc": auc,
        "low": low,
        "high": high,
        "reals": int((labels == 0).sum()),
        "fakes": int((labels == 1).sum()),
    }


def probe(train_x: np.ndarray, train_y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    model = make_pipeline(
        StandardScaler(),
        LogisticRegression(C=0.05, class_weight="balanced", max_iter=2000),
    )
    model.fit(train_x, train_y)
    return lambda x: model.decision_function(x)


# ----------------------------------------------------------------------------- protocol


@dataclass
class Split:
    samples: list[Sample]
    labels: np.ndarray
    groups: list[set[str]]
    split: np.ndarray
    source: np.ndarray


def held_out_rows(data: Split, feats: np.ndarray, names: list[str]) -> dict[str, dict]:
    train, test = data.split == "train", data.split == "test"
    rows = {}
    for name in names:
        inside = np.array([name in g for g in data.groups])
        test_pick = test & ((data.labels == 0) | inside)
        if int((test_pick & inside).sum()) < MIN_TEST_FAKES:
            continue
        train_pick = train & ~inside
        score = probe(feats[train_pick], data.labels[train_pick])
        rows[name] = auc_with_ci(score(feats[test_pick]), data.labels[test_pick])
    return rows


def cross_source_rows(data: Split, feats: np.ndarray) -> dict[str, dict]:
    rows = {}
    for train_source, test_source in (("celeba", "other"), ("other", "celeba")):
        train_pick = (data.split == "train") & (data.source == train_source)
        test_pick = (data.split == "test") & (data.source == test_source)
        score = probe(feats[train_pick], data.labels[train_pick])
        rows[f"source: {train_source} -> {test_source}"] = auc_with_ci(
            score(feats[test_pick]), data.labels[test_pick]
        )
    return rows


def model_rows(model: str, manifest: Path, data: Split, names: list[str], out: Path) -> dict:
    """A trained detector scored per group on the test identities (cached per weights)."""
    loaded = load_detector(model)
    cache = out / f"scores-{loaded.weights_sha256[:16]}.json"
    test = [s for s, split in zip(data.samples, data.split, strict=True) if split == "test"]
    if cache.exists():
        scores = json.loads(cache.read_text())
    else:
        crops = load_crops(
            manifest, "test", size=loaded.config.input_size, margin=loaded.config.crop_margin
        )
        index = {s.id: i for i, s in enumerate(crops.samples)}
        scores = {}
        for start in range(0, len(test), 64):
            chunk = test[start : start + 64]
            images = np.stack([crops.load_crop(crops.samples[index[s.id]]).image for s in chunk])
            for sample, prediction in zip(chunk, predict_crops(loaded, images), strict=True):
                scores[sample.id] = prediction.logit
        cache.write_text(json.dumps(scores))
    labels = np.array([s.label == "fake" for s in test], int)
    values = np.array([scores[s.id] for s in test])
    groups = [technique_groups(s) for s in test]
    rows = {"all test fakes": auc_with_ci(values, labels)}
    for name in names:
        pick = np.array([lab == 0 or name in g for lab, g in zip(labels, groups, strict=True)])
        if int(labels[pick].sum()) >= MIN_TEST_FAKES:
            rows[name] = auc_with_ci(values[pick], labels[pick])
    sources = np.array([source_of(s) for s in test])
    for source in ("celeba", "other"):
        pick = sources == source
        rows[f"source: {source}"] = auc_with_ci(values[pick], labels[pick])
    return {"name": loaded.name, "sha256": loaded.weights_sha256, "rows": rows}


def load_split(manifest: Path) -> Split:
    samples = [s for s in read_manifest(manifest).samples if s.split in ("train", "val", "test")]
    return Split(
        samples=samples,
        labels=np.array([s.label == "fake" for s in samples], int),
        groups=[technique_groups(s) for s in samples],
        split=np.array([s.split for s in samples]),
        source=np.array([source_of(s) for s in samples]),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, default=WORK / "synth" / "manifest.jsonl")
    parser.add_argument("--models", nargs="*", default=["opendfa-lite0@1", "opendfa-lite0"])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "detector_generalization.md"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--work", type=Path, default=WORK / "generalization", help="cache of features/scores"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.time()
    work = args.work
    data = load_split(args.manifest)
    counts = {}
    for groups, split in zip(data.groups, data.split, strict=True):
        if split == "test":
            for name in groups:
                counts[name] = counts.get(name, 0) + 1
    names = sorted(n for n, c in counts.items() if c >= MIN_TEST_FAKES)
    held = {}
    for recipe in RECIPES:
        feats = features(recipe, args.manifest, data.samples, work)
        held[recipe.name] = {
            **held_out_rows(data, feats, names),
            **cross_source_rows(data, feats),
        }
        print(f"recipe {recipe.name}: {len(held[recipe.name])} rows", flush=True)
    models = []
    for model in args.models:
        try:
            models.append(model_rows(model, args.manifest, data, names, work))
        except (FileNotFoundError, ValueError) as err:
            print(f"skipping model {model}: {err}", flush=True)
    facts = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "seconds": round(time.time() - started),
        "samples": len(data.samples),
        "test_reals": int(((data.split == "test") & (data.labels == 0)).sum()),
        "test_fakes": int(((data.split == "test") & (data.labels == 1)).sum()),
    }
    (work / "results.json").write_text(json.dumps({"held": held, "models": models, **facts}))
    args.out.write_text(report(held, models, facts))
    print(f"wrote {args.out} ({facts['seconds']} s)")
    return 0


def cell(row: dict | None) -> str:
    if not row:
        return "–"
    return f"{row['auc']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"


def report(held: dict, models: list[dict], facts: dict) -> str:
    names = sorted({n for rows in held.values() for n in rows})
    lines = [
        "# Detector generalization: held-out techniques and sources",
        "",
        f"Run {facts['date']} on {facts['machine']} ({facts['seconds']} s). "
        f"`python benchmarks/detector_generalization.py`. Data: `opendfa data synth` on the "
        f"gathered real faces, {facts['samples']} samples; test identities: "
        f"{facts['test_reals']} reals, {facts['test_fakes']} fakes. AUC [bootstrap 95 % CI].",
        "",
        "## 1. Held-out technique groups (recipes, cheap setting)",
        "",
        "Frozen ImageNet EfficientNet-Lite0 features + a class-balanced logistic-regression "
        "head, trained on every train-split sample *outside* the group, tested on the group's "
        "test fakes against all test reals. `v1`: 160 px crops (the v1 model's input); "
        "`new`: 224 px crops, mirror-averaged, plus pooled stride-8 features.",
        "",
        "| held-out group | test fakes | v1 recipe | new recipe |",
        "| --- | ---: | --- | --- |",
    ]
    for name in names:
        first = held.get("v1", {}).get(name) or held.get("new", {}).get(name) or {}
        lines.append(
            f"| {name} | {first.get('fakes', '–')} | {cell(held.get('v1', {}).get(name))} | "
            f"{cell(held.get('new', {}).get(name))} |"
        )
    lines += ["", "## 2. Trained detectors on the test identities, per group", ""]
    if models:
        header = " | ".join(f"`{m['name']}`" for m in models)
        lines += [f"| group | {header} |", "| --- |" + " --- |" * len(models)]
        rows = sorted(
            {n for m in models for n in m["rows"]}, key=lambda n: (n != "all test fakes", n)
        )
        for name in rows:
            lines.append(
                f"| {name} | " + " | ".join(cell(m["rows"].get(name)) for m in models) + " |"
            )
        lines += [
            "",
            "The v1 model never saw these identities or these forgery implementations. A model "
            "trained on this data's train split has seen every technique group (on other "
            "identities), so its rows measure held-out identities, not held-out techniques.",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
