"""Grounded artifact descriptions (AD) in the DFA-Instruct style, offline.

Every sentence is backed by something known about the image: the forgery category and the
operations of the method that made it (ground truth of the synthesis, from the sample's
technique), the regions its mask covers (measured on the aligned crop), and the cues measured
there (`opendfa.evidence.cues`). A region is named only when the mask covers at least
`COVERED` of it; a cue is described only when it reaches `NOTABLE` of its notable value, and
only in the direction it was measured. Nothing is said from general knowledge alone.

An answer says only what the analysis can show at inference (issue 24): how the forgery was
made (the method's operations, a self-blend, the blending) and a comparison with the source
photo are known to the synthesis but not to a report, so they are left out unless asked for
(`describe(..., method=True, original=True)`, e.g. for a task that shows the original too).
`measurement_facts` turns the measurements into the claim checker's facts, so every answer
can be held to them (`opendfa.metrics.claims`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from opendfa.evidence.cues import CUES, cue_strength
from opendfa.evidence.facts import signed_cues
from opendfa.evidence.words import cue_sentence, join_words, region_label
from opendfa.metrics.claims import ClaimFacts
from opendfa.taxonomy import (
    ENTIRE_FACE_SYNTHESIS,
    FACE_EDITING,
    FACE_REENACTMENT,
    FACE_SWAP,
)

COVERED = 0.3  # share of a region inside the mask before the region is named
WHOLE_FACE = 9  # this many covered regions (of the 11 besides skin): "the whole face"
NOTABLE = 0.5  # cue strength (1 = the cue's notable value) before a cue is described

# Operations recorded in technique names (`opendfa.edit.aging+eye_size`), as facts.
OPERATIONS = {
    "eye_size": "the eyes were resized, so their size no longer matches the face's proportions",
    "smile": "the mouth corners were moved to change the smile",
    "lip_colour": "the lip colour was changed",
    "skin_smoothing": "the skin was smoothed, removing pores and fine texture",
    "aging": "wrinkle texture was added to make the face look older",
    "eyebrow_shape": "the eyebrows were reshaped",
    "nose_width": "the width of the nose was changed",
    "sharpen": "fine detail was sharpened with an unsharp mask, adding crisp edges and faint halos",
    "mouth_open": "the mouth was opened artificially, so the teeth and mouth interior are "
    "synthesised",
    "blink": "the eyelids were closed artificially",
    "head_turn": "the face was warped to turn the head, which bends the face outline",
}
SWAP_BLENDS = {
    "alpha": "the new face was alpha-blended into the head",
    "poisson": "the new face was merged with Poisson blending, which shifts its colours "
    "towards the surrounding skin",
    "laplacian": "the new face was merged with multi-band (Laplacian) blending",
    "feathered": "the new face was alpha-blended into the head through a wide, soft edge",
    "poisson_normal": "the new face was merged with Poisson blending, which shifts its colours "
    "towards the surrounding skin",
    "poisson_mixed": "the new face was merged with mixed-gradient Poisson blending, which keeps "
    "the stronger of the two images' edges, so traces of the original face show through",
}


@dataclass
class Measurements:
    """What was measured on one aligned fake crop with its ground-truth mask."""

    category: str
    technique: str
    mask_fraction: float
    coverage: dict[str, float]  # region -> share of its pixels inside the mask
    face_cues: dict[str, float] = field(default_factory=dict)
    region_cues: dict[str, dict[str, float]] = field(default_factory=dict)
    # Mean CIE L*a*b* difference (dE76) per region against the source real, when known.
    compared: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "category": self.category,
            "technique": self.technique,
            "mask_fraction": round(self.mask_fraction, 4),
            "coverage": {k: round(v, 4) for k, v in self.coverage.items()},
            "face_cues": {k: round(v, 4) for k, v in self.face_cues.items()},
            "region_cues": {
                r: {k: round(v, 4) for k, v in cues.items()} for r, cues in self.region_cues.items()
            },
            "compared": {k: round(v, 3) for k, v in self.compared.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> Measurements:
        return cls(**data)


def measure(
    crop: np.ndarray,
    mask: np.ndarray,
    regions: dict[str, np.ndarray],
    category: str,
    technique: str,
) -> Measurements:
    """Coverage and cues of a fake crop (uint8 RGB), its mask (0..255 or 0..1) and regions."""
    from opendfa.evidence.cues import measure_cues

    soft = mask.astype(np.float32) / (255.0 if mask.dtype == np.uint8 else 1.0)
    inside = soft >= 0.5
    coverage = {
        name: float(inside[region].mean()) if region.any() else 0.0
        for name, region in regions.items()
    }
    cues = measure_cues(crop, soft, regions)
    return Measurements(
        category=category,
        technique=technique,
        mask_fraction=float(inside.mean()),
        coverage=coverage,
        face_cues=dict(cues.face),
        region_cues={name: dict(values) for name, values in cues.regions.items() if values},
    )


CHANGED = 6.0  # dE76 between fake and real of a region that "changed" (2.3: just visible)
UNCHANGED = 2.3


def compare_with_real(
    fake: np.ndarray, real: np.ndarray, regions: dict[str, np.ndarray]
) -> dict[str, float]:
    """Mean dE76 per region between a fake crop and its source real (same size, both aligned
    to the same face); the paper's second prompt type, measured instead of asked."""
    import cv2

    if fake.shape != real.shape:
        raise ValueError(f"crop shapes differ: {fake.shape} and {real.shape}")
    lab = [cv2.cvtColor(x, cv2.COLOR_RGB2LAB).astype(np.float32) for x in (fake, real)]
    scale = np.array([100 / 255, 1, 1], np.float32)  # OpenCV's 8-bit L* is scaled to 0-255
    delta = np.linalg.norm((lab[0] - lab[1]) * scale, axis=2)
    return {name: float(delta[mask].mean()) for name, mask in regions.items() if mask.any()}


def covered_regions(m: Measurements) -> list[str]:
    """Regions the mask covers enough to name, most covered first (`skin` left out: it is
    the whole face's skin, named through its parts)."""
    ranked = sorted(m.coverage.items(), key=lambda item: item[1], reverse=True)
    return [name for name, share in ranked if share >= COVERED and name != "skin"]


def operations(technique: str) -> list[str]:
    """Operations named in a technique id (`opendfa.reenact.blink+smile` -> blink, smile)."""
    tail = technique.rsplit(".", 1)[-1]
    return [op for op in tail.split("+") if op]


def describe(
    m: Measurements,
    rng: np.random.Generator,
    intro: str,
    *,
    method: bool = False,
    original: bool = False,
) -> str:
    """The AD answer: intro, where, and the measured traces; with `method`, what the method
    did, and with `original`, how the regions differ from the source photo."""
    sentences = [intro]
    if method:
        sentences += _method_sentences(m)
    regions = covered_regions(m)
    if regions:
        sentences.append(
            f"The manipulated area covers the {join_words([region_label(r) for r in regions[:5]])}."
        )
    used: set[str] = set()
    for region in regions:
        described = _cue_sentence(region, m.region_cues.get(region, {}), used)
        if described:
            sentences.append(described)
        if len(used) >= 3:
            break
    face = _face_cue_sentence(m.face_cues, used)
    if face:
        sentences.append(face)
    comparison = _comparison_sentence(m.compared, set(regions)) if original else None
    if comparison:
        sentences.append(comparison)
    if not used:
        sentences.append(
            "Measured against the rest of the image, its colour, sharpness and noise show no "
            "strong step, so the traces are subtle and easy to miss at a glance."
        )
    return " ".join(sentences)


def measurement_facts(m: Measurements, *, original: bool = False) -> ClaimFacts:
    """What a fake's measurements hold, as the claim checker's facts: the covered regions
    count as evidence, the cues as measured on the ground-truth mask, no margin (so no
    confidence words), an original only when one is shown."""
    covered = set(covered_regions(m))
    cues = signed_cues(m.region_cues, m.face_cues)
    return ClaimFacts(
        verdict="fake",
        category=m.category,
        region_scores={name: 1.0 if name in covered else 0.0 for name in m.coverage},
        cues=cues,
        has_original=original,
    )


def _comparison_sentence(compared: dict[str, float], covered: set[str]) -> str | None:
    """Regions inside the mask that differ most from the source real; regions outside it that
    did not change. (A region outside the mask can differ only through re-alignment.)"""
    ranked = sorted(((n, v) for n, v in compared.items() if n != "skin"), key=lambda item: -item[1])
    changed = [n for n, v in ranked if v >= CHANGED and n in covered][:3]
    if not changed:
        return None
    kept = [n for n, v in ranked if v < UNCHANGED and n not in covered][-2:]
    names = join_words([region_label(n) for n in changed])
    text = f"Compared with the original photo, the {names} changed most"
    if kept:
        text += f", while the {join_words([region_label(n) for n in kept])} stayed the same"
    return text + "."


def _method_sentences(m: Measurements) -> list[str]:
    ops = operations(m.technique)
    if m.category == FACE_SWAP:
        blend = ops[-1] if ops else ""
        if m.technique == "opendfa.sbi":
            return [
                "The face was blended with a slightly transformed copy of itself, which "
                "leaves a blending boundary without changing the identity."
            ]
        return (
            [f"Another person's face was placed onto this head, and {SWAP_BLENDS[blend]}."]
            if blend in SWAP_BLENDS
            else ["Another person's face was placed onto this head."]
        )
    if m.category in (FACE_EDITING, FACE_REENACTMENT):
        return [
            f"{fact[0].upper()}{fact[1:]}."
            for fact in (OPERATIONS[o] for o in ops if o in OPERATIONS)
        ]
    if m.category == ENTIRE_FACE_SYNTHESIS:
        return [
            "The face was produced by a generative model and pasted into the photo, so "
            "its details are softer than a camera would record."
        ]
    return []


def _cue_sentence(region: str, cues: dict[str, float], used: set[str]) -> str | None:
    candidates = sorted(
        ((n, v) for n, v in cues.items() if n in CUES and n not in used),
        key=lambda item: cue_strength(*item),
        reverse=True,
    )
    for name, value in candidates:
        if cue_strength(name, value) < NOTABLE:
            break
        text = cue_sentence(name, value, f"the {region_label(region)}", region)
        if text:
            used.add(name)
            return text
    return None


def _face_cue_sentence(cues: dict[str, float], used: set[str]) -> str | None:
    for name, value in sorted(cues.items(), key=lambda item: cue_strength(*item), reverse=True):
        if name in used or name not in CUES or cue_strength(name, value) < NOTABLE:
            continue
        text = cue_sentence(name, value, "the manipulated area")
        if text:
            used.add(name)
            return text
    return None
