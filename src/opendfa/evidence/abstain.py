"""When the analysis abstains (`inconclusive`), and how far a verdict can be trusted.

A report abstains instead of saying real or fake when its decisive face (the most suspicious
one) is narrower than `SIZE_FLOOR_PX`, when the file is a JPEG whose estimated quality is below
`QUALITY_FLOOR` (only when the file checks measured it), when P(fake) lies within
`MARGIN_BAND` of the threshold, when the detector and the pixel-level forensic stream (when
it ran) are both confident and disagree, or when the face's out-of-distribution score lies
above its detector's threshold (`FaceEvidence.ood`, only for detectors with OOD statistics,
`opendfa.models.ood`). The floors and the band were chosen on validation faces the detector
never saw and are reported on test faces in `benchmarks/abstention.md`
(`benchmarks/abstention.py`): a floor is the smallest level whose AUC stays within 0.05 of
the clean AUC; the band leaves 80 % of the clean validation faces answered. The OOD threshold
is stored with the detector's statistics, chosen by `scripts/fit_ood.py` on validation faces
and reported on test faces in `benchmarks/ood.md`. The faces and P(fake) stay in the report as
measured; only the verdict abstains.

`known_accuracy` names the detector's measured AUC for the predicted forgery family (its
model card's per-category table on test identities) and, for a degraded input, the AUC
measured at that face size or JPEG quality (`benchmarks/abstention.md`, test faces); for a
face outside the detector's distribution no figure was measured, so it names none.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from opendfa.evidence.report import Abstention, FaceEvidence, Report

# Chosen on 400 val faces for opendfa-lite0@5 at its operating point (the band is measured
# from the threshold); the AUC at each face size and JPEG quality, and the coverage the band
# leaves, are in benchmarks/abstention.md (runs/forensic-data-v2).
SIZE_FLOOR_PX = 64
QUALITY_FLOOR = 35
MARGIN_BAND = 0.121
# Both P(fake) this far from the threshold and on opposite sides: "strong signals that
# disagree". A rule, not a measured figure (the stream is opt-in and was not benchmarked).
STRONG_SIGNAL = 0.35
# Test AUC of opendfa-lite0@5 per face width and JPEG quality (benchmarks/abstention.md;
# clean test faces: 0.733).
SIZE_AUC = {24: 0.644, 32: 0.711, 48: 0.734, 64: 0.753, 96: 0.737}
QUALITY_AUC = {10: 0.690, 20: 0.731, 35: 0.709, 50: 0.733, 75: 0.712}
MEASURED_FOR = "opendfa-lite0@5"
BENCHMARK = "benchmarks/abstention.md (test faces)"

SETTLE_COPY = "a larger or less compressed copy of the image (ideally the original file)"
SETTLE_SECOND = (
    "a second opinion: the original file, another photo or video of the same person, "
    "or a forensic examiner"
)


def decisive_face(report: Report) -> FaceEvidence | None:
    return max(report.faces, key=lambda face: face.fake_probability, default=None)


def jpeg_quality(forensics: dict[str, Any] | None) -> int | None:
    """The file's estimated JPEG quality when the file checks measured one, else None."""
    jpeg = (forensics or {}).get("jpeg") or {}
    quality = jpeg.get("quality")
    return int(quality) if jpeg.get("is_jpeg") and quality is not None else None


def abstention(report: Report) -> Abstention | None:
    """Why `report` (with faces) should be inconclusive, or None when it may say real/fake."""
    face = decisive_face(report)
    if face is None:
        return None
    threshold = report.model.threshold
    reasons, copy = [], False
    width = face.box[2] - face.box[0]
    if width < SIZE_FLOOR_PX:
        reasons.append(
            f"the face is only {width:.0f} px wide, below the {SIZE_FLOOR_PX} px the detector "
            "needs to stay reliable"
        )
        copy = True
    quality = jpeg_quality(report.forensics)
    if quality is not None and quality < QUALITY_FLOOR:
        reasons.append(
            f"the JPEG is compressed at quality {quality}, below the quality {QUALITY_FLOOR} "
            "the detector needs to stay reliable"
        )
        copy = True
    margin = abs(face.fake_probability - threshold)
    if margin < MARGIN_BAND:
        reasons.append(
            f"the detector's score {face.fake_probability:.2f} is within {MARGIN_BAND:.2f} of "
            f"the threshold {threshold:.2f}, where it is often wrong"
        )
    stream = face.forensic_stream or {}
    if face.semantic_probability is not None and stream.get("made"):
        first, second = face.semantic_probability, float(stream["probability"])
        strong = min(abs(first - threshold), abs(second - threshold)) >= STRONG_SIGNAL
        if strong and (first >= threshold) != (second >= threshold):
            reasons.append(
                f"the detector ({first:.2f}) and the pixel-level check ({second:.2f}) "
                "strongly disagree"
            )
    if face.ood is not None and face.ood.outside:
        reasons.append(
            "the face is unlike anything the detector was trained on (out-of-distribution "
            f"score {face.ood.score:.1f} above {face.ood.threshold:.1f})"
        )
    if not reasons:
        return None
    return Abstention(reasons=reasons, would_settle=SETTLE_COPY if copy else SETTLE_SECOND)


def known_accuracy(detector: Any, report: Report) -> dict[str, Any] | None:
    """The detector's measured AUC for the report's predicted family (and, for a degraded
    input, at its face size or JPEG quality), or None where no figure was measured (also for
    a face outside the detector's distribution)."""
    face = decisive_face(report)
    if face is None:
        return None
    ood = getattr(face, "ood", None)
    if ood is not None and ood.outside:  # measured on faces like the training faces only
        return None
    family = face.forgery_type.label
    figures = family_aucs(getattr(detector, "folder", None))
    if family not in figures:
        return None
    known: dict[str, Any] = {
        "family": family,
        "auc": round(figures[family], 3),
        "source": "model card: AUC of the category against real faces, test identities",
    }
    if family == "real":
        known["source"] = "model card: AUC on all test faces"
    if str(getattr(detector, "name", "")) == MEASURED_FOR:
        degradation = _degradation(face, jpeg_quality(report.forensics))
        if degradation is not None:
            known["degradation"] = degradation
    return known


def _degradation(face: FaceEvidence, quality: int | None) -> dict[str, Any] | None:
    """The measured AUC at the face width nearest this one (unless that is the largest width
    measured, about the clean faces' own) and at the JPEG quality at or below this one; the
    lower of the two, None if neither applies."""
    found = []
    width = face.box[2] - face.box[0]
    size = min(SIZE_AUC, key=lambda level: abs(level - width))
    if size < max(SIZE_AUC):
        found.append((SIZE_AUC[size], f"face about {size} px wide"))
    if quality is not None and quality <= max(QUALITY_AUC):
        level = max([q for q in QUALITY_AUC if q <= quality] or [min(QUALITY_AUC)])
        found.append((QUALITY_AUC[level], f"JPEG quality about {level}"))
    if not found:
        return None
    auc, condition = min(found)
    return {"condition": condition, "auc": auc, "source": BENCHMARK}


@cache
def family_aucs(folder: Path | None) -> dict[str, float]:
    """Per-family AUCs from the model card's "AUC of each forgery category" table, plus
    `real` for the AUC on all test faces; {} without a card or table."""
    card = Path(folder) / "MODEL_CARD.md" if folder is not None else None
    if card is None or not card.is_file():
        return {}
    text = card.read_text(encoding="utf-8")
    figures: dict[str, float] = {}
    table = re.search(r"AUC of each forgery category[^\n]*\n\s*((?:\|.*\n?)+)", text)
    for line in table.group(1).splitlines() if table else []:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 2 and re.fullmatch(r"[0-9.]+", cells[1]):
            figures[cells[0]] = float(cells[1])
    overall = re.search(r"^\| AUC \| ([0-9.]+) \|", text, re.MULTILINE)
    if overall:
        figures["real"] = float(overall.group(1))
    return figures
