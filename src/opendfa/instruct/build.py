"""`opendfa instruct build`: a DFA-Instruct-style dataset from any manifest, offline.

For every sample with a split: its aligned face crop is written once (`images/<id>.png`),
fakes are measured once against their ground-truth mask (`measurements/<id>.json`, reused on
later runs), and four kinds of records are made from the template library with a generator
seeded by (seed, sample id), so a rebuild is identical:

- DF-D (all samples): real or fake;
- DF-C (all samples): the category;
- AD (fakes): a grounded artifact description (`opendfa.instruct.describe`);
- FC (all samples): a multi-turn conversation (verdict, then why / where / how sure / what
  kind / how to verify / what a real face would show), every answer drawn from the same facts.

Records use LLaVA's conversation format with `task`, `split`, `label` and `category` added;
`<split>.json` holds each split's list, `instruct.jsonl` all records.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from opendfa.data.dataset import CropConfig, CropError, FaceForgeryDataset
from opendfa.data.manifest import read_manifest
from opendfa.data.sample import Sample
from opendfa.evidence.words import join_words, region_label
from opendfa.faces import REGION_NAMES
from opendfa.instruct.describe import (
    Measurements,
    compare_with_real,
    covered_regions,
    describe,
    measure,
)
from opendfa.instruct.evidence import EvidenceStore, ImageEvidence, image_evidence, restricted
from opendfa.instruct.llm import LLMConfig, LLMDescriber, LLMTally
from opendfa.instruct.records import InstructRecord, read_records, write_records
from opendfa.instruct.templates import TASKS, load_templates, pick
from opendfa.safe_files import write_text_atomic
from opendfa.taxonomy import ENTIRE_FACE_SYNTHESIS, REAL

IMAGE_TOKEN = "<image>"


@dataclass
class InstructConfig:
    seed: int = 0
    crop_size: int = 256
    margin: float = 0.25
    tasks: tuple[str, ...] = TASKS
    fc_followups: int = 3
    llm: LLMConfig | None = None  # rewrite AD with an LLM (checked), else grounded text only
    # The detector whose evidence line (of `evidence_version`) DFA-GPT will read: each image is
    # judged once, and descriptions are held to what it shows (`opendfa.instruct.evidence`).
    evidence_model: str | None = None
    evidence_version: int = 2


@dataclass
class BuildReport:
    records: int = 0
    images: int = 0
    measured: int = 0
    reused: int = 0
    per_task: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    llm: LLMTally | None = None
    unsupported: int = 0  # AD/FC records left out: a claim their evidence does not hold


def build_instruct(
    manifest_path: str | Path,
    out_dir: str | Path,
    config: InstructConfig | None = None,
    *,
    progress: Callable[[Iterator], Iterator] | None = None,
) -> BuildReport:
    config = config or InstructConfig()
    unknown = set(config.tasks) - set(TASKS)
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(sorted(unknown))}; known: {', '.join(TASKS)}")
    started = time.time()
    out = Path(out_dir)
    for folder in ("images", "measurements"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(manifest_path)
    crops = FaceForgeryDataset(
        manifest,
        crop=CropConfig(size=config.crop_size, margin=config.margin),
        cache_dir=out / "crop-cache",
    )
    templates = load_templates()
    report = BuildReport()
    by_split: dict[str, list[dict]] = {}
    samples = [s for s in manifest.samples if s.split]
    describer = LLMDescriber(config.llm) if config.llm else None
    store, detector = _evidence_store(out, config)
    reals = {s.identity: s.id for s in samples if s.label == REAL}
    by_id = {s.id: s for s in samples}
    iterator = progress(iter(samples)) if progress else iter(samples)
    for sample in iterator:
        try:
            real = reals.get(sample.target_identity or sample.identity)
            measurements = _prepare(sample, crops, out, config, report, by_id.get(real))
        except CropError as err:
            report.problems.append(f"{sample.id}: {err}")
            continue
        evidence = None
        if store is not None:
            image = f"images/{sample.id}.png"
            evidence = store.get_or_make(
                image,
                sample.id,
                lambda path=out / image: image_evidence(
                    detector, _read_rgb(path), config.evidence_version
                ),
            )
        rewritten = None
        if describer is not None and measurements is not None and "AD" in config.tasks:
            real_image = out / "images" / f"{real}.png" if real else None
            rewritten = describer.describe(
                out / "images" / f"{sample.id}.png",
                measurements,
                technique_is_sbi=sample.technique == "opendfa.sbi",
                real_image=real_image if real_image and real_image.exists() else None,
            )
        records = make_records(sample, measurements, templates, config, rewritten, evidence)
        if evidence is not None:
            kept = [r for r in records if _held(r, evidence)]
            report.unsupported += len(records) - len(kept)
            records = kept
        for record in records:
            by_split.setdefault(sample.split, []).append(record)
            report.per_task[record.task] += 1
            report.records += 1
    for split in sorted(by_split):
        write_records(out / f"{split}.json", by_split[split])
    write_records(
        out / "instruct.jsonl", [r for split in sorted(by_split) for r in by_split[split]]
    )
    if store is not None:
        store.write()
    report.seconds = time.time() - started
    report.llm = describer.tally if describer else None
    return report


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _evidence_store(out: Path, config: InstructConfig):
    """The evidence store and the detector that fills it, or (None, None) without one."""
    if not config.evidence_model:
        return None, None
    from opendfa.models.runtime import load_for_inference

    detector = load_for_inference(config.evidence_model)
    name = str(getattr(detector, "name", config.evidence_model))
    return EvidenceStore(out, name, config.evidence_version), detector


def _prepare(
    sample: Sample,
    crops: FaceForgeryDataset,
    out: Path,
    config: InstructConfig,
    report: BuildReport,
    source_real: Sample | None = None,
) -> Measurements | None:
    """Write the crop image once; measure a fake once (cached as JSON), against its source
    real too when the manifest has it (the head the forgery was made on)."""
    image_path = out / "images" / f"{sample.id}.png"
    cached = out / "measurements" / f"{sample.id}.json"
    if image_path.exists() and (sample.label == REAL or cached.exists()):
        report.reused += 1
        return Measurements.from_json(json.loads(cached.read_text())) if cached.exists() else None
    crop = crops.load_crop(sample)
    if not image_path.exists():
        cv2.imwrite(str(image_path), cv2.cvtColor(crop.image, cv2.COLOR_RGB2BGR))
        report.images += 1
    if sample.label == REAL:
        return None
    regions = dict(zip(REGION_NAMES, crop.regions, strict=True))
    measurements = measure(crop.image, crop.mask, regions, sample.category, sample.technique)
    # A degraded fake differs from its real everywhere (JPEG, blur, noise), and a generated
    # face (VAE, DCGAN) is not an edit of any real: no comparison then.
    comparable = sample.category != ENTIRE_FACE_SYNTHESIS and not sample.degradations
    if source_real is not None and comparable:
        try:
            real = crops.load_crop(source_real)
            measurements.compared = compare_with_real(crop.image, real.image, regions)
        except (CropError, ValueError):
            pass  # no comparison: the description simply has no such sentence
    write_text_atomic(cached, json.dumps(measurements.to_json()) + "\n")
    report.measured += 1
    return measurements


def make_records(
    sample: Sample,
    m: Measurements | None,
    templates: dict,
    config: InstructConfig,
    rewritten: str | None = None,
    evidence: ImageEvidence | None = None,
) -> list[InstructRecord]:
    """The records of one sample, deterministic in (seed, sample id); `rewritten` replaces
    the grounded AD text (an accepted LLM description). With the detector's `evidence`, the
    descriptions and follow-ups are written only where it agrees with the ground truth, and
    say only what it shows (`opendfa.instruct.evidence`)."""
    digest = hashlib.sha256(f"{config.seed}:{sample.id}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
    answers = templates["answers"]
    verdict = "fake" if sample.label != REAL else "real"
    dfd = (pick(templates["DF-D"]["questions"], rng), pick(answers["DF-D"][verdict], rng))
    dfc = (pick(templates["DF-C"]["questions"], rng), _category_answer(sample, templates, rng))
    records = []
    base = {
        "image": f"images/{sample.id}.png",
        "split": sample.split,
        "label": sample.label,
        "category": sample.category,
        "identity": sample.identity,
    }

    def record(task: str, turns: list[tuple[str, str]]) -> InstructRecord:
        conversations = []
        for k, (question, answer) in enumerate(turns):
            shown = f"{IMAGE_TOKEN}\n{question}" if k == 0 else question
            conversations += [{"from": "human", "value": shown}, {"from": "gpt", "value": answer}]
        return InstructRecord(f"{sample.id}-{task}", task=task, conversations=conversations, **base)

    if "DF-D" in config.tasks:
        records.append(record("DF-D", [dfd]))
    if "DF-C" in config.tasks:
        records.append(record("DF-C", [dfc]))
    described = evidence is None or evidence.agrees_with(sample.label, sample.category)
    if m is not None and evidence is not None:
        m = restricted(m, evidence)
    description = None
    if m is not None and described:
        # A self-blend's own intro named its sub-technique, which no report carries.
        intro = pick(answers["AD_intro"][sample.category], rng)
        description = describe(m, rng, intro)
        if "AD" in config.tasks:
            question = pick(templates["AD"]["questions"], rng)
            text = rewritten if rewritten and evidence is None else description
            ad = record("AD", [(question, text)])
            ad.extra["ad_source"] = "llm" if text is rewritten else "grounded"
            records.append(ad)
    if "FC" in config.tasks and described:
        followups = _followups(sample, m, description, templates, rng, config.fc_followups)
        if evidence is not None:
            followups = [
                (q, _sure_answer(evidence) if kind == "sure" else a) for kind, q, a in followups
            ]
        else:
            followups = [(q, a) for _, q, a in followups]
        records.append(record("FC", [dfd, *followups]))
    return records


def _held(record: InstructRecord, evidence: ImageEvidence) -> bool:
    """A description or conversation whose every answer holds against the evidence (DF-D and
    DF-C answers are the ground truth, kept whatever the detector said)."""
    if record.task not in ("AD", "FC"):
        return True
    turns = record.conversations
    pairs = [(turns[k]["value"], turns[k + 1]["value"]) for k in range(0, len(turns) - 1, 2)]
    return all(evidence.holds(q.replace(IMAGE_TOKEN, "").strip(), a) for q, a in pairs)


def _sure_answer(evidence: ImageEvidence) -> str:
    """How sure, in the words the claim checker reads for the evidence's margin band."""
    about = "fake" if evidence.verdict == "fake" else "real"
    return {
        "high": f"Quite sure: the detector's score is far from the threshold, a clear call "
        f"for {about}.",
        "moderate": "Fairly sure: the detector's score is a moderate margin from the threshold.",
        "low": "Not very sure: the detector's score is close to the threshold, so this is a "
        "weak call.",
    }[evidence.band]


def _followups(
    sample: Sample,
    m: Measurements | None,
    description: str | None,
    templates: dict,
    rng: np.random.Generator,
    count: int,
) -> list[tuple[str, str, str]]:
    """(kind, question, answer) of `count` follow-ups in a seeded order."""
    fc = templates["FC"]
    kinds = list(fc)
    order = [kinds[int(k)] for k in rng.permutation(len(kinds))][:count]
    turns = []
    for kind in order:
        question = pick(fc[kind], rng)
        turns.append((kind, question, _fc_answer(kind, sample, m, description, templates, rng)))
    return turns


def _fc_answer(
    kind: str,
    sample: Sample,
    m: Measurements | None,
    description: str | None,
    templates: dict,
    rng: np.random.Generator,
) -> str:
    real = sample.label == REAL
    regions = covered_regions(m) if m is not None else []
    if kind == "kind":
        return _category_answer(sample, templates, rng)
    if real:
        return {
            "why": "Nothing in this face stands out from the rest of it: no region shows traces "
            "of manipulation, as in an unaltered photograph.",
            "where": "Nowhere: no region of this face was manipulated.",
            "sure": "Confident: the face is consistent throughout, from the outline to the eyes "
            "and mouth.",
            "verify": "Compare it with other photos from the same source and check the file's "
            "origin; an authentic photo should match them in lighting and detail.",
            "real_looks": "This is what a real face looks like: sharpness, noise and colour are "
            "consistent across the whole face.",
        }[kind]
    if kind == "why":
        return description or "The face was manipulated."
    if kind == "where":
        if regions:
            return f"Mainly the {join_words([region_label(r) for r in regions[:5]])}."
        return "The manipulated area is small and does not cover any face region substantially."
    if kind == "sure":
        strong = _has_notable_cue(m)
        return (
            "Quite sure: the measured traces (texture, noise or colour changes at the "
            "manipulated area) are clear."
            if strong
            else "Less sure than usual: the traces are subtle and the manipulated area blends in."
        )
    if kind == "verify":
        where = (
            f" the {join_words([region_label(r) for r in regions[:3]])}" if regions else " the face"
        )
        return (
            f"Zoom in on{where} and compare its texture and colour with the rest of the face; "
            "then search for other copies of this photo with a reverse image search."
        )
    if kind == "real_looks":
        return (
            "In a real photo the whole face shares one sharpness, noise level and colour "
            "tone; here the manipulated area departs from the rest of the face."
        )
    raise ValueError(f"unknown follow-up kind {kind!r}")


def _category_answer(sample: Sample, templates: dict, rng: np.random.Generator) -> str:
    # Self-blends get the face swap family's answer: their own ("DF-C_self_blend") named a
    # sub-technique the detector does not report.
    return pick(templates["answers"]["DF-C"][sample.category], rng)


def _has_notable_cue(m: Measurements | None) -> bool:
    from opendfa.evidence.cues import CUES, cue_strength

    if m is None:
        return False
    values = list(m.face_cues.items()) + [
        item for cues in m.region_cues.values() for item in cues.items()
    ]
    return any(name in CUES and cue_strength(name, v) >= 1.0 for name, v in values)


def dataset_stats(out_dir: str | Path) -> dict:
    """Counts for the statistics table: images and QA pairs per task, split and category."""
    images: dict[str, set] = {}
    qa: Counter = Counter()
    per_split: Counter = Counter()
    categories: Counter = Counter()
    for record in read_records(Path(out_dir) / "instruct.jsonl"):
        qa[record.task] += record.pairs
        per_split[record.split] += record.pairs
        if record.image not in images.setdefault(record.split, set()):
            images[record.split].add(record.image)
            categories[record.category] += 1
    return {
        "images": sum(len(v) for v in images.values()),
        "images_per_split": {k: len(v) for k, v in images.items()},
        "qa_per_task": dict(qa),
        "qa_per_split": dict(per_split),
        "categories": dict(categories),
    }
