"""A report's evidence in the claim checker's terms (`opendfa.metrics.claims.ClaimFacts`).

Every cue becomes a signed strength: 0 at its neutral value, +1 at its notable value in the
"more" direction (blurrier, noisier, brighter, a sharper edge, a colour step), -1 at the
notable value the other way. The checker then asks one question of every attribute claim:
was the cue measured there, strongly enough, in the direction the words say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from opendfa.evidence.abstain import decisive_face
from opendfa.evidence.cues import CUES
from opendfa.evidence.report import Report
from opendfa.metrics.claims import AREA, ClaimFacts


def signed_strength(name: str, value: float) -> float:
    """`cue_strength` with a sign: positive above the neutral value, negative below."""
    info = CUES[name]
    if info.kind == "ratio":
        return math.log(max(value, 1e-6)) / math.log(info.notable)
    return value / info.notable


def _signed(cues: dict[str, float]) -> dict[str, float]:
    return {name: signed_strength(name, value) for name, value in cues.items() if name in CUES}


def signed_cues(
    regions: Mapping[str, Mapping[str, float]], area: Mapping[str, float] | None = None
) -> dict[str, dict[str, float]]:
    """Measured cues in the checker's form: region (and `AREA` when `area` is given) -> cue ->
    signed strength. Reports, DFA-Instruct measurements and evidence, and bench rows all go
    through here."""
    cues = {region: _signed(dict(values)) for region, values in regions.items()}
    if area is not None:
        cues[AREA] = _signed(dict(area))
    return cues


def claim_facts(report: Report, *, has_original: bool = False) -> ClaimFacts | None:
    """The decisive face's evidence as `ClaimFacts`, or None for a report without a verdict
    or without a face (nothing to hold a claim against)."""
    face = decisive_face(report)
    if report.verdict not in ("fake", "real", "inconclusive") or face is None:
        return None
    cues = signed_cues(
        {region.name: region.cues for region in face.regions if region.cues}, face.cues or None
    )
    # The report's probability (for a video, not one face's) is what answers quote.
    probability = face.fake_probability
    if report.fake_probability is not None:
        probability = report.fake_probability
    category = report.forgery_type.label if report.forgery_type else None
    return ClaimFacts(
        verdict=report.verdict,
        category=category if report.verdict == "fake" else None,
        region_scores={region.name: region.score for region in face.regions},
        cues=cues,
        margin=abs(probability - report.model.threshold),
        fake_probability=probability,
        has_original=has_original,
    )
