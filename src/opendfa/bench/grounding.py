"""The grounding check of DFA-Bench: is an answer grounded in the report its answerer saw?

For AD (and FC, when asked) the detector's evidence on each image, its verdict, P(fake),
forgery type and region scores, is stored with the answer (`evidence` in `answers.jsonl`, so a
rerun reuses it) and the answer is checked against it (`opendfa.metrics.grounding`): does it
name a face region the report does not support (score below `REGION_EVIDENCE`), does it state
the other verdict or another forgery type.

Whose evidence: the detector answerer's own judgement of the image; for DFA-GPT, the detector
whose backbone it sees with (and whose evidence line it reads when trained with one); for any
other answerer (an endpoint) the bundled detector. Bench images are aligned face crops, so the
detector runs on the crop itself, once per image.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from opendfa.evidence.words import REGION_EVIDENCE
from opendfa.metrics.bootstrap import mean_ci
from opendfa.metrics.claims import CONTRADICTED, SUPPORTED, ClaimFacts, check_claims
from opendfa.metrics.grounding import check_answer
from opendfa.models.configs import DEFAULT_MODEL

GROUNDED_TASKS = ("AD", "FC")
RATES = ("hallucinated_region_rate", "contradiction_rate", "grounding_violation_rate")


class EvidenceSource:
    """Detector evidence per image as a JSON-ready dict, computed once per image."""

    def __init__(self, answerer, model: str = DEFAULT_MODEL) -> None:
        self.answerer = answerer
        self.model = model
        self._detector = None
        self._cache: dict[Path, dict | None] = {}

    def evidence(self, images: list[Path]) -> list[dict | None]:
        """Evidence of each image (None for an image the detector cannot read)."""
        own = getattr(self.answerer, "evidence", None)
        missing = [p for p in dict.fromkeys(images) if p not in self._cache]
        if callable(own):
            for path in missing:
                self._cache[path] = own(path)
        elif missing:
            self._cache.update(zip(missing, self._predict(missing), strict=True))
        return [self._cache[p] for p in images]

    def _predict(self, images: list[Path]) -> list[dict | None]:
        from opendfa.evidence.judge import crop_cues, judge_crops
        from opendfa.media import MediaError, load_image

        crops: dict[int, np.ndarray] = {}
        for k, path in enumerate(images):
            try:
                rgb = load_image(path).rgb
            except MediaError:
                continue
            side = min(rgb.shape[:2])
            crops[k] = np.ascontiguousarray(rgb[:side, :side])
        found: list[dict | None] = [None] * len(images)
        if not crops:
            return found
        detector = self._loaded()
        for shape in {c.shape for c in crops.values()}:
            keys = [k for k, c in crops.items() if c.shape == shape]
            judgements = judge_crops(detector, np.stack([crops[k] for k in keys]))
            for k, judged in zip(keys, judgements, strict=True):
                cues = crop_cues(crops[k], judged.prediction.mask)
                found[k] = evidence_record(
                    judged.verdict,
                    judged.fake_probability,
                    judged.forgery_type.label,
                    judged.prediction.region_scores,
                    judged.threshold,
                    str(detector.name),
                    {"regions": cues.regions, "area": cues.face},
                )
        return found

    def _loaded(self):
        if self._detector is None:
            own = getattr(self.answerer, "detector", None)
            if own is None:
                from opendfa.models.detector import load_detector

                own = load_detector(self.model)
            self._detector = own
        return self._detector


def evidence_record(
    verdict: str,
    fake_probability: float,
    category: str,
    region_scores: dict[str, float],
    threshold: float,
    detector: str,
    cues: dict | None = None,
) -> dict:
    """One image's evidence as stored in an answer row; `cues` ({"regions": {region: {cue:
    value}}, "area": {cue: value}}) when they were measured."""
    extra = {"cues": cues} if cues is not None else {}
    return {
        "verdict": verdict,
        "fake_probability": round(float(fake_probability), 4),
        "category": category,
        "regions": {name: round(float(s), 4) for name, s in region_scores.items()},
        "threshold": threshold,
        "detector": detector,
        **extra,
    }


def grounding_scores(rows: list[dict], *, resamples: int = 1000, seed: int = 0) -> dict | None:
    """Rates of answers that name an unsupported region, contradict the report, or either,
    over the rows that carry evidence, with bootstrap CIs (stratified by category); None when
    no row does."""
    checked = [r for r in rows if r.get("evidence")]
    if not checked:
        return None
    flags = {name: [] for name in RATES}
    unsupported: Counter = Counter()
    for row in checked:
        e = row["evidence"]
        check = check_answer(
            row["answer"], e["verdict"], e["category"], e["regions"], REGION_EVIDENCE
        )
        flags["hallucinated_region_rate"].append(check.hallucinated_region)
        flags["contradiction_rate"].append(check.contradiction is not None)
        flags["grounding_violation_rate"].append(check.violated)
        unsupported.update(check.unsupported)
    strata = [row.get("category") or row.get("label") or "" for row in checked]
    result: dict = {"grounding_checked": len(checked)}
    for name, values in flags.items():
        result[name] = float(np.mean(values))
        ci = mean_ci(values, strata, resamples=resamples, seed=seed)
        result[f"{name}_ci"] = list(ci) if ci else None
    result["unsupported_regions"] = dict(unsupported.most_common())
    return result


def row_facts(evidence: dict) -> ClaimFacts:
    """A stored row's evidence as the claim checker's facts. The cues are those measured under
    the detector's mask on the crop (`opendfa.evidence.judge.crop_cues`, what the evidence line
    of version 2 words); rows stored without them (older rows, answerers with no crop) hold
    none, so a claim about blur, noise or colour there counts as unsupported."""
    from opendfa.evidence.facts import signed_cues

    stored = evidence.get("cues") or {}
    cues = signed_cues(stored.get("regions") or {}, stored.get("area") or None)
    return ClaimFacts(
        verdict=evidence["verdict"],
        category=evidence["category"] if evidence["verdict"] == "fake" else None,
        region_scores=evidence["regions"],
        cues=cues,
        margin=abs(float(evidence["fake_probability"]) - float(evidence.get("threshold", 0.5))),
    )


def claim_scores(rows: list[dict], *, resamples: int = 1000, seed: int = 0) -> dict | None:
    """Claim precision (supported / all claims of the answers, `opendfa.metrics.claims`) and
    the contradicted share, over the rows with evidence, with bootstrap CIs over answers
    (stratified by category); per claim kind, supported / all. None when no row has evidence
    or no answer makes a claim."""
    checked = [r for r in rows if r.get("evidence")]
    per_row = [check_claims(r["answer"], row_facts(r["evidence"])) for r in checked]
    if not any(per_row):
        return None
    supported = np.array([sum(c.status == SUPPORTED for c in cs) for cs in per_row], float)
    contradicted = np.array([sum(c.status == CONTRADICTED for c in cs) for cs in per_row], float)
    total = np.array([len(cs) for cs in per_row], float)
    strata = [row.get("category") or row.get("label") or "" for row in checked]
    kinds: dict[str, list[int]] = {}
    for claims in per_row:
        for c in claims:
            held = kinds.setdefault(c.claim.kind, [0, 0])
            held[0] += c.holds
            held[1] += 1
    result: dict = {"claims": int(total.sum())}
    for name, counts in (("claim_precision", supported), ("claim_contradiction", contradicted)):
        result[name] = float(counts.sum() / total.sum())
        result[f"{name}_ci"] = _ratio_ci(counts, total, strata, resamples, seed)
    result["claims_by_kind"] = {k: f"{h}/{n}" for k, (h, n) in sorted(kinds.items())}
    return result


def _ratio_ci(
    counts: np.ndarray, total: np.ndarray, strata: list[str], resamples: int, seed: int
) -> list[float] | None:
    """95 % bootstrap interval of sum(counts) / sum(total), resampling answers within strata."""
    if len(counts) < 2:
        return None
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(np.array(strata) == s) for s in dict.fromkeys(strata)]
    ratios = []
    for _ in range(resamples):
        pick = np.concatenate([rng.choice(g, size=len(g)) for g in groups])
        ratios.append(counts[pick].sum() / max(total[pick].sum(), 1.0))
    low, high = np.percentile(ratios, [2.5, 97.5])
    return [float(low), float(high)]
