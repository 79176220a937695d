"""The detector's evidence on each DFA-Instruct image, and answers held to it (issue 24).

A DFA-GPT trained with the evidence line reads the detector's numbers before it answers. If
its training answers describe the ground truth where the detector saw something else, it
learns that the line may be ignored, and at inference it states what swaps usually look like.
So the builder runs the detector once per image (`image_evidence`, the same function the
benchmark and `Assistant.evidence_for` use on a crop) and keeps the evidence beside the
records:

- descriptions (AD, and the follow-ups of FC) are written only where the evidence and the
  ground truth agree on the verdict and, for a fake, on the forgery type;
- they name only regions that both the mask covers and the detector supports, and describe
  only the cue whose word the line shows for that region (`restricted`);
- "how sure" answers follow the margin band the line shows.

DF-D and DF-C answers stay the ground truth: those are the tasks that measure whether the
model can do better than the detector it reads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from opendfa.evidence.facts import signed_cues
from opendfa.evidence.words import REGION_EVIDENCE, strongest_worded_cue
from opendfa.instruct.describe import Measurements
from opendfa.metrics.claims import ClaimFacts, check_claims, confidence_band
from opendfa.safe_files import write_text_atomic

EVIDENCE_FILE = "evidence.jsonl"  # one row per image: {"image", "line", ...}
EVIDENCE_META = "evidence.json"  # {"detector", "version"} of the lines


@dataclass
class ImageEvidence:
    """The detector's judgement of one image as its evidence line shows it."""

    line: str
    verdict: str  # "fake" or "real"
    category: str | None  # the forgery type under a fake verdict, else None
    fake_probability: float
    margin: float  # |P(fake) - threshold|
    supported: list[str] = field(
        default_factory=list
    )  # regions >= REGION_EVIDENCE, strongest first
    region_scores: dict[str, float] = field(default_factory=dict)
    # The one cue per supported region (and of the whole area) whose word the line shows.
    region_cues: dict[str, dict[str, float]] = field(default_factory=dict)
    area_cues: dict[str, float] = field(default_factory=dict)

    @property
    def band(self) -> str:
        return confidence_band(self.margin) or "low"

    def agrees_with(self, label: str, category: str) -> bool:
        """Whether the detector saw what the ground truth holds: the verdict, the type of a
        fake; a real face only when no region stands out either (a real's answers say that
        no region was touched)."""
        if label == "real":
            return self.verdict == "real" and not self.supported
        return self.verdict == "fake" and self.category == category

    def facts(self) -> ClaimFacts:
        """What this evidence holds, in the claim checker's terms: only the cues the line
        words count, so an answer may state nothing the model could not read."""
        cues = signed_cues(self.region_cues, self.area_cues)
        return ClaimFacts(
            verdict=self.verdict,
            category=self.category,
            region_scores=dict(self.region_scores),
            cues=cues,
            margin=self.margin,
            fake_probability=self.fake_probability,
        )

    def holds(self, question: str, answer: str) -> bool:
        """Whether every claim of `answer` holds against this evidence."""
        return all(c.holds for c in check_claims(answer, self.facts(), question))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ImageEvidence:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _worded(cues: dict[str, float] | None) -> dict[str, float]:
    """The strongest cue that has a word (the one the line shows), as {name: value}."""
    found = strongest_worded_cue(cues)
    return {found[0]: float(found[1])} if found else {}


def image_evidence(detector, crop: np.ndarray, version: int = 2) -> ImageEvidence:
    """The evidence of one aligned crop, judged on its own (`opendfa.evidence.judge`)."""
    from opendfa.evidence.judge import crop_cues, judge_crop

    judged = judge_crop(detector, crop)
    cues = crop_cues(crop, judged.prediction.mask)
    scores = judged.prediction.region_scores
    supported = [
        name
        for name, score in sorted(scores.items(), key=lambda item: -item[1])
        if score >= REGION_EVIDENCE
    ]
    return ImageEvidence(
        line=judged.evidence_line(version, cues),
        verdict=judged.verdict,
        category=judged.forgery_type.label if judged.is_fake else None,
        fake_probability=judged.fake_probability,
        margin=abs(judged.fake_probability - judged.threshold),
        supported=supported,
        region_scores={name: round(float(score), 4) for name, score in scores.items()},
        region_cues={name: _worded(cues.regions.get(name)) for name in supported},
        area_cues=_worded(cues.face) if supported else {},
    )


def restricted(m: Measurements, evidence: ImageEvidence) -> Measurements:
    """The measurements a description may use: regions the mask covers *and* the detector
    supports, with the cue the line words for them (measured under the detector's mask)."""
    supported = set(evidence.supported)
    return Measurements(
        category=m.category,
        technique=m.technique,
        mask_fraction=m.mask_fraction,
        coverage={n: (share if n in supported else 0.0) for n, share in m.coverage.items()},
        face_cues=dict(evidence.area_cues),
        region_cues={n: dict(c) for n, c in evidence.region_cues.items() if c},
    )


class EvidenceStore:
    """Per-image evidence under `<out>/evidence/<id>.json` (reused by a rebuild), gathered
    into `evidence.jsonl` with the detector and line version in `evidence.json`."""

    def __init__(self, out: Path, detector_name: str, version: int) -> None:
        self.folder = out / "evidence"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.out = out
        self.meta = {"detector": detector_name, "version": version}
        self.rows: dict[str, ImageEvidence] = {}

    def get_or_make(self, image: str, sample_id: str, make) -> ImageEvidence:
        path = self.folder / f"{sample_id}.json"
        if path.is_file():
            data = json.loads(path.read_text())
            if data.get("meta") == self.meta:
                evidence = ImageEvidence.from_json(data["evidence"])
                self.rows[image] = evidence
                return evidence
        evidence = make()
        payload = {"meta": self.meta, "evidence": evidence.to_json()}
        write_text_atomic(path, json.dumps(payload) + "\n")
        self.rows[image] = evidence
        return evidence

    def write(self) -> None:
        lines = [
            json.dumps({"image": image, **ev.to_json()}) for image, ev in sorted(self.rows.items())
        ]
        write_text_atomic(self.out / EVIDENCE_FILE, "\n".join(lines) + ("\n" if lines else ""))
        write_text_atomic(self.out / EVIDENCE_META, json.dumps(self.meta) + "\n")


def read_evidence_lines(data: str | Path) -> tuple[dict, dict[str, str]]:
    """(meta, image -> line) of a DFA-Instruct folder built with evidence."""
    folder = Path(data)
    meta_path, rows_path = folder / EVIDENCE_META, folder / EVIDENCE_FILE
    if not meta_path.is_file() or not rows_path.is_file():
        raise FileNotFoundError(
            f"{folder} has no {EVIDENCE_FILE}: rebuild it with `opendfa instruct build "
            "--evidence-model NAME` for an evidence line of version 2"
        )
    lines = {}
    for text in rows_path.read_text().splitlines():
        if text.strip():
            row = json.loads(text)
            lines[row["image"]] = row["line"]
    return json.loads(meta_path.read_text()), lines
