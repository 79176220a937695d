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
from opendfa.metrics.grounding import check_answer

GROUNDED_TASKS = ("AD", "FC")
RATES = ("hallucinated_region_rate", "contradiction_rate", "grounding_violation_rate")


class EvidenceSource:
    """Detector evidence per image as a JSON-ready dict, computed once per image."""

    def __init__(self, answerer, model: str = "opendfa-lite0") -> None:
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
        from opendfa.evidence.report import ForgeryType
        from opendfa.media import MediaError, load_image
        from opendfa.models.detector import predict_crops

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
        threshold = float(getattr(detector, "info", {}).get("threshold", 0.5))
        for shape in {c.shape for c in crops.values()}:
            keys = [k for k, c in crops.items() if c.shape == shape]
            predictions = predict_crops(detector, np.stack([crops[k] for k in keys]))
            for k, p in zip(keys, predictions, strict=True):
                fake = p.fake_probability >= threshold
                category = ForgeryType.decide(p.category_probabilities, fake).label
                found[k] = evidence_json(
                    "fake" if fake else "real",
                    p.fake_probability,
                    category,
                    p.region_scores,
                    threshold,
                    str(detector.name),
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


def evidence_json(
    verdict: str,
    fake_probability: float,
    category: str,
    region_scores: dict[str, float],
    threshold: float,
    detector: str,
) -> dict:
    """One image's evidence as stored in an answer row."""
    return {
        "verdict": verdict,
        "fake_probability": round(float(fake_probability), 4),
        "category": category,
        "regions": {name: round(float(s), 4) for name, s in region_scores.items()},
        "threshold": threshold,
        "detector": detector,
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
