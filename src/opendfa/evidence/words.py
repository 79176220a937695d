"""The one place where evidence becomes words.

Every sentence OpenDFA says about an analysis is made here from the numbers it holds: the
report's `explanation`, the grounded chat answers' labels and cue phrases, the DFA-GPT
evidence line in its prompts, the artifact descriptions of DFA-Instruct (AD) and of the
benchmark's detector answerer. A region is named as evidence only from `REGION_EVIDENCE`, a
cue only from `CUE_EVIDENCE` of its notable value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from opendfa.evidence.abstain import decisive_face
from opendfa.evidence.cues import CUES, cue_strength
from opendfa.evidence.report import FaceEvidence, ForgeryType, RegionEvidence, Report
from opendfa.metrics.confidence import confidence_band

REGION_EVIDENCE = 0.5  # a region counts as evidence from this score
CUE_EVIDENCE = 0.5  # a cue counts from this strength (1 = its notable value)


def region_label(name: str) -> str:
    return name.replace("_", " ")


def category_label(name: str) -> str:
    return name.replace("_", " ")


def join_words(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': for the plain-language answers and descriptions."""
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def explain(report: Report) -> str:
    """A short plain-language summary of the report that names only what the report holds.

    It states the verdict and probability, the most likely forgery type, and for the face
    that decides, up to three regions scoring 0.5 or more, each with its most unusual measured
    cue (when one is at least half-way to its `notable` value).
    """
    threshold = report.model.threshold
    video = report.input.kind == "video"
    if report.verdict == "error":
        return f"The input could not be analysed: {report.error or 'unknown error'}."
    if report.verdict == "no_face":
        where = f"in the {report.input.frames_analyzed} sampled frames" if video else "in the image"
        return f"No face was found {where}, so nothing was judged."
    probability = report.fake_probability or 0.0
    decisive = decisive_face(report)
    parts = []
    if report.verdict == "inconclusive":
        parts.append(
            f"Inconclusive: {abstention_text(report)} The detector's fake probability is "
            f"{probability_text(probability, threshold)} (threshold {threshold:.2f}), but it "
            "is not a verdict here."
        )
        parts.append(_who_decides(report, decisive, video))
        parts.append(known_accuracy_text(report))
        return " ".join(part for part in parts if part)
    if report.verdict == "fake":
        parts.append(
            f"Judged fake: the fake probability is {probability_text(probability, threshold)} "
            f"(threshold {threshold:.2f})."
        )
    else:
        parts.append(
            f"Judged real: the fake probability is {probability_text(probability, threshold)}, "
            f"below the threshold of {threshold:.2f}."
        )
    parts.append(_who_decides(report, decisive, video))
    if report.verdict == "fake" and report.forgery_type is not None:
        label = report.forgery_type.label
        share = report.forgery_type.probabilities.get(label, 0.0)
        parts.append(f"Most likely forgery type: {category_label(label)} ({share:.2f}).")
    regions = decisive.top_regions()
    if report.verdict == "fake" and not regions and decisive.regions:
        regions = decisive.top_regions(limit=1, minimum=0.0)
    if regions:
        described = "; ".join(_describe_region(region) for region in regions)
        parts.append(f"Highest-scoring regions: {described}.")
    elif report.verdict == "real":
        parts.append("No region scores 0.50 or more.")
    parts.append(known_accuracy_text(report))
    return " ".join(part for part in parts if part)


def abstention_text(report: Report) -> str:
    """'I cannot tell because ...' without the subject: the reasons of an inconclusive report
    and what would settle the case ('' for any other report)."""
    if report.abstention is None:
        return ""
    reasons = join_words(report.abstention.reasons)
    settle = report.abstention.would_settle
    return f"{reasons[:1].upper()}{reasons[1:]}. What would settle it: {settle}."


def known_accuracy_text(report: Report) -> str:
    """The detector's measured AUC for the predicted family and the input's degradation."""
    known = report.model.known_accuracy
    if not known:
        return ""
    family = "all faces" if known["family"] == "real" else category_label(known["family"])
    text = f"The detector's measured AUC for {family} is {known['auc']:.2f}"
    degradation = known.get("degradation")
    if degradation:
        text += f", and {degradation['auc']:.2f} for a {degradation['condition']}"
    return text + " (1.00 perfect, 0.50 chance)."


def probability_text(probability: float, threshold: float) -> str:
    """The probability with enough digits that it never reads as equal to the threshold."""
    digits = 2
    while digits < 4 and round(probability, digits) == round(threshold, digits):
        digits += 1
    return f"{probability:.{digits}f}"


def _who_decides(report: Report, decisive: FaceEvidence, video: bool) -> str:
    if video and decisive.track_id is not None and report.tracks:
        track = next((t for t in report.tracks if t.track_id == decisive.track_id), None)
        if track is None:
            return ""
        frame = (
            f", most strongly in frame {decisive.frame_index}"
            if decisive.frame_index is not None
            else ""
        )
        return (
            f"The score is that of face track {track.track_id} ({len(report.tracks)} in all): "
            f"the mean of its highest scores over {len(track.frames)} sampled frame(s){frame}."
        )
    if len(report.faces) > 1:
        number = report.faces.index(decisive) + 1
        return f"Face {number} of {len(report.faces)} decides (each face is judged on its own)."
    return ""


def _describe_region(region: RegionEvidence) -> str:
    text = f"{region_label(region.name)} {region.score:.2f}"
    if not region.cues:
        return text
    name, value = max(region.cues.items(), key=lambda item: cue_strength(*item))
    if cue_strength(name, value) < 0.5:
        return text
    return f"{text}, {describe_cue(name, value)}"


def describe_cue(name: str, value: float) -> str:
    label = CUES[name].label
    if name == "blur_ratio":
        how = "blurrier" if value > 1 else "sharper"
        return f"{how} than its untouched surroundings ({label} {value:.2f})"
    if name == "noise_residual_ratio":
        how = "noisier" if value > 1 else "less noisy"
        return f"{how} than its untouched surroundings ({label} {value:.2f})"
    if name == "edge_discontinuity":
        how = "a seam along the mask edge" if value > 1 else "a mask edge softer than the face"
        return f"{how} ({label} {value:.2f})"
    if name == "illumination_mismatch":
        how = "darker" if value < 0 else "brighter"
        return f"{how} than the ring around it ({label} {value:+.1f} L*)"
    if name == "boundary_colour_mismatch":
        return f"a {label} of {value:.1f} ΔE"
    return f"a {label} of {value:.1f}"


def notable_cues(cues: dict[str, float], limit: int = 2) -> list[str]:
    """Phrases for the `limit` strongest cues that reach `CUE_EVIDENCE`, strongest first."""
    ranked = sorted(
        ((name, value) for name, value in cues.items() if name in CUES),
        key=lambda item: cue_strength(*item),
        reverse=True,
    )
    return [describe_cue(n, v) for n, v in ranked[:limit] if cue_strength(n, v) >= CUE_EVIDENCE]


# Versions of the evidence line. A DFA-GPT model records the version it was trained with
# (`DFAGPTConfig.evidence_version`) and is always shown that one.
EVIDENCE_LINE_VERSIONS = (1, 2)

# Version 2's word for a cue in the direction it was measured (None: no word, no claim).
_CUE_WORDS = {
    "blur_ratio": ("blurrier", "sharper"),
    "noise_residual_ratio": ("noisier", "smoother"),
    "illumination_mismatch": ("brighter", "darker"),
    "boundary_colour_mismatch": ("colour step at its edge", None),
    "edge_discontinuity": ("seam at its edge", None),
    "left_right_asymmetry": ("colour differs from its partner", None),
}


def cue_word(name: str, value: float) -> str | None:
    """A short word for one measured cue in its direction ("blurrier", "darker"), or None when
    it is below `CUE_EVIDENCE` or has no word in that direction (a soft mask edge)."""
    if name not in _CUE_WORDS or cue_strength(name, value) < CUE_EVIDENCE:
        return None
    more, less = _CUE_WORDS[name]
    above = value > (1.0 if CUES[name].kind == "ratio" else 0.0)
    return more if above else less


def strongest_worded_cue(cues: dict[str, float] | None) -> tuple[str, float] | None:
    """(name, value) of the strongest cue in `cues` that has a word (see `cue_word`)."""
    known = [(name, value) for name, value in (cues or {}).items() if name in CUES]
    for name, value in sorted(known, key=lambda item: -cue_strength(*item)):
        if cue_word(name, value):
            return name, value
    return None


def strongest_cue_word(cues: dict[str, float] | None) -> str | None:
    """The word of the strongest cue in `cues` that has one (what the evidence line shows)."""
    found = strongest_worded_cue(cues)
    return cue_word(*found) if found else None


def detector_line(
    fake_probability: float,
    category_probabilities: dict[str, float],
    region_scores: dict[str, float],
    threshold: float = 0.5,
    verdict: str | None = None,
    *,
    version: int = 1,
    region_cues: dict[str, dict[str, float]] | None = None,
    area_cues: dict[str, float] | None = None,
) -> str:
    """The detector's numbers as one line the LM can read (the `evidence` option); `verdict`
    (a report's, which for a video need not follow one face's probability) overrides the
    threshold's. The verdict
    is spelled out: a small LM learns to copy a word far sooner than to compare two numbers.
    Every region at or above `REGION_EVIDENCE` is named, strongest first, without its score
    (a score costs ~6 tokens): a description may then name exactly the supported regions.
    Under a real verdict the type is "none": a type named there (the argmax of four small
    probabilities) was copied into DF-C answers for real faces (benchmarks/dfa_gpt.md, "Evidence
    line under a real verdict"), as the report itself names no type for a real face.

    Version 2 (issue 24) adds what version 1 left the model to guess: the confidence band of
    the margin (the words the claim checker holds confidence to), and after each region the
    word of its strongest measured cue ("mouth (blurrier)"), plus the whole suspected area's
    (`area_cues`), so a description can say what was measured rather than what swaps usually
    look like."""
    if version not in EVIDENCE_LINE_VERSIONS:
        raise ValueError(
            f"unknown evidence line version {version}; known: {EVIDENCE_LINE_VERSIONS}"
        )
    likeliest = ForgeryType.decide(category_probabilities, is_fake=True)
    kind = likeliest.label
    strong = sorted(
        ((name, score) for name, score in region_scores.items() if score >= REGION_EVIDENCE),
        key=lambda item: -item[1],
    )
    verdict = verdict or ("fake" if fake_probability >= threshold else "real")
    kind_words = (
        f"most likely forgery type {category_label(kind)} ({likeliest.probabilities[kind]:.2f})"
        if verdict == "fake"
        else "forgery type none"
    )
    probability = f"fake probability {fake_probability:.2f} (threshold {threshold:.2f})"
    if version == 1:
        regions = ", ".join(region_label(name) for name, _ in strong)
        return (
            f"Detector evidence: verdict {verdict}, {probability}; {kind_words}; "
            f"regions above {REGION_EVIDENCE:.1f}: {regions or 'none'}."
        )
    band = confidence_band(abs(fake_probability - threshold))
    named = []
    for name, _ in strong:
        word = strongest_cue_word((region_cues or {}).get(name))
        named.append(f"{region_label(name)} ({word})" if word else region_label(name))
    area = strongest_cue_word(area_cues) if strong else None
    area_words = f"; suspected area as a whole: {area}" if area else ""
    return (
        f"Detector evidence: verdict {verdict}, {probability}, margin {band}; {kind_words}; "
        f"regions above {REGION_EVIDENCE:.1f}: {', '.join(named) or 'none'}{area_words}."
    )


def describe_face(category: str, regions: Iterable[RegionEvidence]) -> str:
    """A short artifact description from a verdict's category and its region evidence (the
    benchmark's detector answerer): the category, up to five regions from `REGION_EVIDENCE`
    (skin left out, it is named through its parts), and the strongest cue of up to three."""
    sentences = [
        f"This face looks like a {category_label(category)}."
        if category != "real"
        else "This face looks real."
    ]
    ranked = [
        r
        for r in sorted(regions, key=lambda r: -r.score)
        if r.score >= REGION_EVIDENCE and r.name != "skin"
    ]
    if ranked:
        names = [region_label(r.name) for r in ranked[:5]]
        sentences.append(f"The manipulated area covers the {join_words(names)}.")
    for region in ranked[:3]:
        cues = notable_cues(region.cues, limit=1)
        if cues:
            sentences.append(f"The {region_label(region.name)} shows {cues[0]}.")
    return " ".join(sentences)


def cue_sentence(name: str, value: float, where: str, region: str | None = None) -> str | None:
    """A sentence on one measured cue at `where` ('the mouth', 'the manipulated area') in the
    direction it was measured, for artifact descriptions; None for a cue with no sentence."""
    subject = where[0].upper() + where[1:]
    if name == "blur_ratio":
        return (
            f"{subject} is blurrier than the surrounding skin and lacks fine detail."
            if value > 1
            else f"{subject} is sharper than its surroundings, as if taken from another image."
        )
    if name == "noise_residual_ratio":
        return (
            f"{subject} carries more noise than the rest of the face."
            if value > 1
            else f"{subject} is unnaturally smooth, with less noise than the rest of the face."
        )
    if name == "boundary_colour_mismatch":
        return f"Along the edge of {where} the skin colour changes abruptly."
    if name == "edge_discontinuity":
        return f"A visible seam runs along the border of {where}." if value > 1 else None
    if name == "illumination_mismatch":
        how = "brighter" if value > 0 else "darker"
        return f"{subject} is {how} than the skin around it, as if lit differently."
    if name == "left_right_asymmetry" and region and region.startswith(("left_", "right_")):
        return f"The left and right {region_label(region.split('_', 1)[1])}s differ in colour."
    return None


def evidence_json(report: Report, limit: int = 5) -> str:
    """The facts an LLM may use, without the mask pixels."""
    faces = []
    for face in report.faces:
        regions = sorted(face.regions, key=lambda r: r.score, reverse=True)[:limit]
        faces.append(
            {
                "fake_probability": round(face.fake_probability, 3),
                "forgery_type": face.forgery_type.to_json(),
                "box": [round(v) for v in face.box],
                "regions": [r.to_json() for r in regions],
                "cues": {k: round(v, 3) for k, v in face.cues.items()},
            }
        )
    return json.dumps(
        {
            "input": {"kind": report.input.kind, "path": report.input.path},
            "verdict": report.verdict,
            "fake_probability": report.fake_probability,
            "threshold": report.model.threshold,
            "forgery_type": report.forgery_type.label if report.forgery_type else None,
            "faces": faces,
            "warnings": report.warnings,
            "detector": report.model.detector,
        },
        separators=(",", ":"),
    )
