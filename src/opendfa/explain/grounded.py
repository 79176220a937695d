"""Grounded answers: every sentence is made from numbers in the analysis report.

The rule this module keeps: a region, cue, frame or forgery type is named as evidence only when
the report holds a value for it that supports the claim (region score >= 0.5, cue strength
>= 0.5 of its notable value, frame score >= threshold). General knowledge (what a face swap
usually leaves behind, how to verify) is offered as such, never as a finding in this image.
Questions about the file itself (metadata, Content Credentials, JPEG compression, ELA and noise
maps, the opt-in copy-move check: `FILE_INTENTS`) are answered from `report.forensics` alone
(`explain/file_answers.py`), with or without a face.
"""

from __future__ import annotations

import numpy as np

from opendfa.evidence.abstain import decisive_face
from opendfa.evidence.report import FaceEvidence, RegionEvidence, Report
from opendfa.evidence.words import (
    REGION_EVIDENCE,
    category_label,
    join_words,
    notable_cues,
    probability_text,
    region_label,
)
from opendfa.explain import file_answers
from opendfa.explain.backends import register_backend
from opendfa.explain.contract import Answer
from opendfa.explain.intents import FILE_INTENTS, INTENTS, Question
from opendfa.taxonomy import (
    ENTIRE_FACE_SYNTHESIS,
    FACE_EDITING,
    FACE_REENACTMENT,
    FACE_SWAP,
    FAKE_CATEGORIES,
)

CATEGORY_MEANING = {
    FACE_SWAP: "another person's face placed onto this head (identity replaced)",
    FACE_REENACTMENT: "the same person made to move or speak differently (expression or pose "
    "driven from elsewhere)",
    FACE_EDITING: "attributes of the same face changed (age, smile, eyes, skin, make-up)",
    ENTIRE_FACE_SYNTHESIS: "a face generated entirely by a model; no real photo behind it",
}
TYPICAL_TRACES = {  # general knowledge, always presented as "typically"
    FACE_SWAP: "a blending seam or colour step along the face outline, and skin texture or "
    "sharpness that differs between the inner face and the rest of the head",
    FACE_REENACTMENT: "distortions around the mouth and teeth, eyes that blink or gaze "
    "unnaturally, and warping where the face meets the background when the head moves",
    FACE_EDITING: "local changes confined to one feature (smoother skin, reshaped eyes or "
    "lips) whose texture or noise differs from the rest of the face",
    ENTIRE_FACE_SYNTHESIS: "a uniform, too-smooth texture, asymmetric details (earrings, eye "
    "colours, glasses), and a background that does not quite make sense",
}
# Intents answered when no face was found: they are not about a face.
WITHOUT_A_FACE = ("help", "model", "next", *FILE_INTENTS)


def answer(question: Question, report: Report) -> Answer:
    """The grounded answer to one classified question about `report`."""
    if report.verdict == "error":
        return Answer(f"This input could not be analysed: {report.error}.", question.intent)
    handler = _HANDLERS.get(question.intent, _unknown)
    if report.verdict == "no_face" and question.intent not in WITHOUT_A_FACE:
        return _no_face(question, report)
    return handler(question, report)


@register_backend("grounded")
class GroundedBackend:
    """Deterministic and offline: every sentence built from the report's numbers."""

    name = "grounded"

    def reply(self, question: Question, report: Report, history: list) -> Answer:
        return answer(question, report)

    def describe(self) -> str:
        return "grounded (offline, from the report's numbers)"


# ----------------------------------------------------------------------------- handlers


def cannot_tell(report: Report) -> str:
    """'I cannot tell: <reasons>. What would settle it: ...' for an inconclusive report."""
    abstention = report.abstention
    reasons = join_words(abstention.reasons) if abstention else "the report is inconclusive"
    settle = abstention.would_settle if abstention else "a second opinion"
    p, threshold = report.fake_probability or 0.0, report.model.threshold
    return (
        f"I cannot tell: {reasons}. What would settle it: {settle}. (The detector's P(fake) = "
        f"{probability_text(p, threshold)} against a threshold of {threshold:.2f}; here it is "
        "not a verdict.)"
    )


def _inconclusive(question: Question, report: Report) -> Answer:
    abstention = report.abstention
    facts = {
        "fake_probability": report.fake_probability,
        "threshold": report.model.threshold,
        "reasons": list(abstention.reasons) if abstention else [],
        "would_settle": abstention.would_settle if abstention else None,
    }
    return Answer(cannot_tell(report), question.intent, facts)


def _verdict(question: Question, report: Report) -> Answer:
    face = decisive_face(report)
    p, threshold = report.fake_probability or 0.0, report.model.threshold
    if report.verdict == "inconclusive":
        reply = _inconclusive(question, report)
        reply.facts["decisive_box"] = list(face.box)
        return reply
    if report.verdict == "fake":
        kind = category_label(report.forgery_type.label) if report.forgery_type else "unknown"
        text = (
            f"The detector judges it fake: P(fake) = {probability_text(p, threshold)}, above the "
            f"{threshold:.2f} "
            f"threshold. The most likely kind of forgery is {kind}."
        )
    else:
        text = (
            f"The detector judges it real: P(fake) = {probability_text(p, threshold)}, below the "
            f"{threshold:.2f} "
            "threshold. That is the absence of detected traces, not proof of authenticity."
        )
    if len(report.faces) > 1:
        others = ", ".join(f"{f.fake_probability:.2f}" for f in report.faces)
        text += f" {len(report.faces)} faces were judged separately (P(fake): {others})."
    return Answer(
        text,
        question.intent,
        {"fake_probability": p, "threshold": threshold, "decisive_box": list(face.box)},
    )


def _confidence(question: Question, report: Report) -> Answer:
    if report.verdict == "inconclusive":
        return _inconclusive(question, report)
    p, threshold = report.fake_probability or 0.0, report.model.threshold
    margin = abs(p - threshold)
    strength = "a clear" if margin >= 0.3 else "a moderate" if margin >= 0.15 else "a weak"
    side = "fake" if report.verdict == "fake" else "real"
    text = [
        f"P(fake) is {probability_text(p, threshold)} against a threshold of {threshold:.2f}: "
        f"{strength} call for "
        f"{side} (margin {margin:.2f}). The probability is temperature-calibrated on held-out "
        "validation data, so scores near 0.5 really are uncertain."
    ]
    facts: dict = {"fake_probability": p, "threshold": threshold, "margin": margin}
    if report.timeline:
        scores = [f.fake_probability for f in report.timeline if f.fake_probability is not None]
        if scores:
            above = sum(s >= threshold for s in scores)
            text.append(
                f"Across {len(scores)} sampled frames with a face, {above} score at or above "
                f"the threshold (lowest {min(scores):.2f}, highest {max(scores):.2f})."
            )
            facts.update(frames_above=above, frames=len(scores))
    if report.warnings:
        text.append("Caveats from the analysis: " + "; ".join(report.warnings) + ".")
    text.append(
        "The bundled detector was trained on forgeries OpenDFA synthesizes itself; on media "
        "from other generators treat its score as one piece of evidence among several."
    )
    return Answer(" ".join(text), question.intent, facts)


def _why(question: Question, report: Report) -> Answer:
    face = decisive_face(report)
    if question.regions:
        return _about_regions(question, face, report)
    evidence = _evidence_regions(face)
    if report.verdict == "inconclusive":
        reply = _inconclusive(question, report)
        if evidence:
            reply.text += " Regions scoring 0.50 or more: " + _region_list(evidence) + "."
        return reply
    if report.verdict == "real":
        top = max(face.regions, key=lambda r: r.score, default=None)
        text = (
            f"It is judged real because P(fake) = "
            f"{probability_text(face.fake_probability, report.model.threshold)} is below the "
            f"threshold of {report.model.threshold:.2f}"
        )
        if not evidence and top is not None:
            text += (
                f", and no region reaches {REGION_EVIDENCE:.2f} (highest: "
                f"{region_label(top.name)} {top.score:.2f})."
            )
        else:
            text += ". Some regions still score high: " + _region_list(evidence) + "."
        return Answer(text, question.intent, {"regions": _region_facts(face.regions[:3])})
    parts = [
        "It is judged fake (P(fake) = "
        f"{probability_text(face.fake_probability, report.model.threshold)})."
    ]
    if evidence:
        parts.append("The detector's traces concentrate in: " + _region_list(evidence) + ".")
    else:
        parts.append(
            f"No single region reaches {REGION_EVIDENCE:.2f}; the judgement rests on the face "
            "as a whole rather than on one localised trace."
        )
    cues = notable_cues(face.cues)
    if cues:
        parts.append("Measured on the suspected area as a whole: " + "; ".join(cues) + ".")
    if report.forgery_type is not None and report.forgery_type.label in FAKE_CATEGORIES:
        label = report.forgery_type.label
        share = report.forgery_type.probabilities.get(label, 0.0)
        parts.append(
            f"The pattern fits {category_label(label)} best ({share:.2f}): "
            f"{CATEGORY_MEANING[label]}."
        )
    return Answer(
        " ".join(parts),
        question.intent,
        {"regions": _region_facts(evidence), "cues": dict(face.cues)},
        ["overlay"],
    )


def _where(question: Question, report: Report) -> Answer:
    face = decisive_face(report)
    if question.regions:
        return _about_regions(question, face, report)
    ranked = sorted(face.regions, key=lambda r: r.score, reverse=True)
    evidence = [r for r in ranked if r.score >= REGION_EVIDENCE]
    x0, y0, x1, y1 = (round(v) for v in face.box)
    where_face = f"The face judged is at x {x0}-{x1}, y {y0}-{y1} of the image"
    if report.input.kind == "video" and face.frame_index is not None:
        where_face += f" (frame {face.frame_index})"
    parts = [where_face + "."]
    if evidence:
        parts.append("Regions at or above 0.50: " + _region_list(evidence) + ".")
    else:
        parts.append(
            "No region scores 0.50 or more; the highest are "
            + ", ".join(f"{region_label(r.name)} {r.score:.2f}" for r in ranked[:3])
            + "."
        )
    coverage = _mask_coverage(face)
    if coverage is not None:
        parts.append(
            f"The predicted manipulation mask covers {100 * coverage:.0f} % of the face box "
            "(pixels above 0.5); `show me the mask` describes it."
        )
    return Answer(
        " ".join(parts),
        question.intent,
        {"regions": _region_facts(ranked[:5]), "mask_coverage": coverage},
        ["overlay"],
    )


def _type(question: Question, report: Report) -> Answer:
    if report.forgery_type is None:
        return Answer("No forgery type was estimated for this input.", question.intent)
    probs = report.forgery_type.probabilities
    ranked = sorted(FAKE_CATEGORIES, key=lambda c: probs.get(c, 0.0), reverse=True)
    listing = ", ".join(f"{category_label(c)} {probs.get(c, 0.0):.2f}" for c in ranked)
    if report.verdict == "inconclusive":
        text = (
            f"There is no verdict, so no forgery type is claimed. The category head leans to "
            f"{category_label(ranked[0])} (category probabilities: {listing})."
        )
    elif report.verdict == "real":
        text = (
            f"It is judged real, so no forgery type applies. If it were fake, the category head "
            f"would lean to {category_label(ranked[0])} (category probabilities: {listing})."
        )
    else:
        best = ranked[0]
        text = (
            f"Most likely {category_label(best)} ({probs.get(best, 0.0):.2f}): "
            f"{CATEGORY_MEANING[best]}. All categories: {listing}. "
            f"Such forgeries typically leave {TYPICAL_TRACES[best]} (general knowledge, "
            "not a finding in this image)."
        )
    return Answer(text, question.intent, {"probabilities": dict(probs)})


def _next(question: Question, report: Report) -> Answer:
    steps = [
        "Find the earliest copy (reverse image search) and compare it with this one.",
        "Check the file's origin: who published it first, metadata, re-encoding history.",
    ]
    if report.faces:
        face = decisive_face(report)
        evidence = _evidence_regions(face)
        if evidence:
            steps.append(
                "Inspect at full resolution the regions the detector points to: "
                + ", ".join(region_label(r.name) for r in evidence)
                + "."
            )
        if report.forgery_type is not None and report.forgery_type.label in (
            FACE_SWAP,
            FACE_EDITING,
            FACE_REENACTMENT,
        ):
            steps.append(
                "Compare with verified photos or footage of the person shown "
                "(face shape, moles, teeth, ears)."
            )
        if report.timeline:
            peaks = _peak_frames(report)
            if peaks:
                steps.append(
                    "Step through the video around the highest-scoring frames: "
                    + ", ".join(f"frame {f.index} ({f.timestamp_s:.1f} s)" for f in peaks)
                    + "."
                )
    if report.abstention is not None:
        steps.insert(0, f"Settle the inconclusive result with {report.abstention.would_settle}.")
    if any("small" in w or "low" in w for w in report.warnings):
        steps.append("Analyse a higher-resolution copy if one exists: the face is small here.")
    if report.verdict == "no_face":
        steps.append("No face was found: try a larger or less compressed version of the media.")
    steps.append("Treat the detector as one witness: it was trained on synthetic forgeries.")
    text = "Suggested checks:\n" + "\n".join(f"{k}. {s}" for k, s in enumerate(steps, 1))
    return Answer(text, question.intent, {"steps": steps})


def _mask(question: Question, report: Report) -> Answer:
    face = decisive_face(report)
    coverage = _mask_coverage(face)
    if face.mask is None or coverage is None:
        return Answer("This report holds no mask for the face.", question.intent)
    values = face.mask.to_array()
    x0, y0 = face.mask.box[:2]
    strong = np.argwhere(values >= 0.5)
    if len(strong):
        (top, left), (bottom, right) = strong.min(0), strong.max(0)
        extent = (
            f"its strong part (>= 0.5) spans x {x0 + left}-{x0 + right}, y {y0 + top}-{y0 + bottom}"
        )
    else:
        extent = "no pixel reaches 0.5, so nothing stands out as manipulated"
    text = (
        f"The mask is the detector's per-pixel estimate of manipulation over the face; it covers "
        f"{100 * coverage:.0f} % of the face box and {extent}. Peak value "
        f"{float(values.max()):.2f}. In the chat use `/mask FILE.png` to save it, or open the "
        "HTML report for the heatmap overlay."
    )
    return Answer(text, question.intent, {"mask_coverage": coverage}, ["mask"])


def _simple(question: Question, report: Report) -> Answer:
    face = decisive_face(report)
    p = report.fake_probability or 0.0
    if report.verdict == "inconclusive":
        text = f"In short: the software cannot tell for this picture. {cannot_tell(report)}"
        return Answer(text, question.intent, {"fake_probability": p})
    if report.verdict == "fake":
        kind = report.forgery_type.label if report.forgery_type else None
        what = {
            FACE_SWAP: "someone else's face seems to have been pasted onto this person",
            FACE_REENACTMENT: "the face seems to have been made to move or look differently",
            FACE_EDITING: "parts of the face seem to have been retouched or changed",
            ENTIRE_FACE_SYNTHESIS: "the face looks computer-generated",
        }.get(kind or "", "the face seems to have been manipulated")
        places = [region_label(r.name) for r in _evidence_regions(face)]
        where = f", especially around the {join_words(places)}" if places else ""
        text = (
            f"In short: this looks manipulated. The software rates it {round(100 * p)} out of "
            f"100 for being fake; {what}{where}. It is a strong hint, not proof: check where "
            "the picture came from."
        )
    else:
        text = (
            f"In short: the software found no clear signs of manipulation (it rates it "
            f"{round(100 * p)} out of 100 for being fake). That does not prove it is genuine: "
            "good fakes can slip through, so still check where it came from."
        )
    return Answer(text, question.intent, {"fake_probability": p})


def _when(question: Question, report: Report) -> Answer:
    if not report.timeline:
        return Answer("This is a single image, so there is no timeline.", question.intent)
    peaks = _peak_frames(report)
    threshold = report.model.threshold
    scored = [f for f in report.timeline if f.fake_probability is not None]
    above = [f for f in scored if f.fake_probability >= threshold]
    text = (
        f"{len(report.timeline)} frames were sampled, {len(scored)} with a face; "
        f"{len(above)} score at or above {threshold:.2f}."
    )
    if peaks:
        text += (
            " Highest: "
            + ", ".join(
                f"frame {f.index} at {f.timestamp_s:.1f} s ({f.fake_probability:.2f})"
                for f in peaks
            )
            + "."
        )
    return Answer(text, question.intent, {"above": [f.index for f in above]})


def _model(question: Question, report: Report) -> Answer:
    model = report.model
    digest = model.weights_sha256 or "unknown"
    text = (
        f"Detector {model.detector} (weights sha256 {digest[:16]}...), decision threshold "
        f"{model.threshold:.2f}. The full hash is in the report so the result can be reproduced "
        "with exactly these weights."
    )
    return Answer(text, question.intent, {"detector": model.detector, "sha256": digest})


def _help(question: Question, report: Report) -> Answer:
    return Answer(
        "You can ask: is it fake? · how sure are you? · why? · where are the traces? · "
        "what about the mouth (or eyes, nose, skin, ...)? · what kind of forgery? · show me the "
        "mask · what should I check next? · explain it simply · (videos) when does it happen? "
        "· which model is this? · (the file) what does the metadata say? · is there a content "
        "credential? · was it recompressed? · show me the ELA · is any part cloned?",
        question.intent,
    )


def _file_check(question: Question, report: Report) -> Answer:
    """Metadata, provenance, compression or maps: from `report.forensics` only."""
    record = report.forensics
    if record is None:
        text, facts = file_answers.not_run(report)
        return Answer(text, question.intent, facts)
    if question.intent == "maps":
        text, facts = file_answers.maps(record, report.forensic_maps is not None)
        attachments = ["ela", "noise"] if record["maps"] is not None else []
        return Answer(text, question.intent, facts, attachments)
    make = {
        "metadata": file_answers.metadata,
        "provenance": file_answers.provenance,
        "compression": file_answers.compression,
        "copy_move": file_answers.copy_move,
    }[question.intent]
    text, facts = make(record)
    return Answer(text, question.intent, facts)


def _unknown(question: Question, report: Report) -> Answer:
    answer_ = _help(question, report)
    answer_.text = "I can only answer about this analysis. " + answer_.text
    answer_.intent = "unknown"
    return answer_


def _compare(question: Question, report: Report) -> Answer:
    return Answer(
        "To compare, give the other file: `/compare PATH` in the chat, or "
        "`Conversation.compare(other_report)` in Python.",
        question.intent,
    )


def _no_face(question: Question, report: Report) -> Answer:
    where = "in the sampled frames" if report.input.kind == "video" else "in the image"
    return Answer(
        f"No face was found {where}, so nothing was judged: there is no score, region or mask "
        "to discuss. Try a larger or less compressed copy, or a frame where the face is visible.",
        question.intent,
    )


_HANDLERS = {
    "verdict": _verdict,
    "confidence": _confidence,
    "why": _why,
    "where": _where,
    "type": _type,
    "next": _next,
    "mask": _mask,
    "simple": _simple,
    "when": _when,
    "model": _model,
    "help": _help,
    "compare": _compare,
    **dict.fromkeys(FILE_INTENTS, _file_check),
}
assert set(_HANDLERS) == set(INTENTS)


def compare_reports(first: Report, second: Report) -> Answer:
    """Which of two analysed inputs looks more manipulated, and what they share."""
    a, b = first.fake_probability, second.fake_probability
    if a is None or b is None:
        missing = first if a is None else second
        return Answer(f"{missing.input.path} has no score ({missing.verdict}).", "compare")
    names = (first.input.path, second.input.path)
    more = names[0] if a >= b else names[1]
    text = [
        f"{names[0]}: {first.verdict} (P(fake) {a:.2f}); {names[1]}: {second.verdict} "
        f"(P(fake) {b:.2f}). {more} looks more manipulated (difference {abs(a - b):.2f})."
    ]
    if first.faces and second.faces:
        shared = {r.name for r in _evidence_regions(decisive_face(first))} & {
            r.name for r in _evidence_regions(decisive_face(second))
        }
        if shared:
            text.append(
                "Both point to: " + join_words([region_label(n) for n in sorted(shared)]) + "."
            )
    if first.forgery_type and second.forgery_type and first.verdict == second.verdict == "fake":
        same = first.forgery_type.label == second.forgery_type.label
        text.append(
            "Same most likely forgery type."
            if same
            else "Different forgery types: "
            f"{category_label(first.forgery_type.label)} vs "
            f"{category_label(second.forgery_type.label)}."
        )
    return Answer(" ".join(text), "compare", {"fake_probability": [a, b]})


# ----------------------------------------------------------------------------- helpers


def _about_regions(question: Question, face: FaceEvidence, report: Report) -> Answer:
    by_name = {r.name: r for r in face.regions}
    ranked = [r.name for r in sorted(face.regions, key=lambda r: r.score, reverse=True)]
    parts = []
    for name in question.regions:
        region = by_name.get(name)
        if region is None:
            parts.append(f"The report has no score for the {region_label(name)}.")
            continue
        rank = ranked.index(name) + 1
        if region.score >= REGION_EVIDENCE:
            text = (
                f"The {region_label(name)} scores {region.score:.2f} (rank {rank} of "
                f"{len(ranked)}): the detector sees manipulation traces there"
            )
        else:
            text = (
                f"The {region_label(name)} scores {region.score:.2f} (rank {rank} of "
                f"{len(ranked)}), below {REGION_EVIDENCE:.2f}: no clear trace there"
            )
        cues = notable_cues(region.cues)
        text += (
            ("; measured there: " + "; ".join(cues))
            if cues
            else "; no measured cue there is unusual"
        )
        parts.append(text + ".")
    return Answer(
        " ".join(parts),
        question.intent,
        {"regions": _region_facts([by_name[n] for n in question.regions if n in by_name])},
        ["overlay"],
    )


def _evidence_regions(face: FaceEvidence, limit: int = 3) -> list[RegionEvidence]:
    return face.top_regions(limit=limit, minimum=REGION_EVIDENCE)


def _region_list(regions: list[RegionEvidence]) -> str:
    described = []
    for region in regions:
        cues = notable_cues(region.cues, limit=1)
        text = f"{region_label(region.name)} ({region.score:.2f})"
        described.append(f"{text}, {cues[0]}" if cues else text)
    return "; ".join(described)


def _region_facts(regions: list[RegionEvidence]) -> list[dict]:
    return [{"name": r.name, "score": round(r.score, 4)} for r in regions]


def _mask_coverage(face: FaceEvidence) -> float | None:
    """The share of the face box whose mask value is 0.5 or more. The mask covers a wider
    window than the face box (the aligned crop's), so it is counted inside the box only."""
    if face.mask is None:
        return None
    strong = face.mask.to_array() >= 0.5
    mask_x0, mask_y0 = face.mask.box[:2]
    x0, y0, x1, y1 = (round(v) for v in face.box)
    area = max(1, (x1 - x0) * (y1 - y0))
    rows = slice(max(0, y0 - mask_y0), max(0, min(strong.shape[0], y1 - mask_y0)))
    cols = slice(max(0, x0 - mask_x0), max(0, min(strong.shape[1], x1 - mask_x0)))
    return float(strong[rows, cols].sum() / area)


def _peak_frames(report: Report, limit: int = 3):
    threshold = report.model.threshold
    scored = [f for f in report.timeline or [] if f.fake_probability is not None]
    peaks = sorted(scored, key=lambda f: f.fake_probability, reverse=True)[:limit]
    return [f for f in peaks if f.fake_probability >= threshold]
