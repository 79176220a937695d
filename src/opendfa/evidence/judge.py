"""Judging aligned face crops without the rest of the analysis: the one way to do it.

The chat model's evidence line, the benchmark's detector answerer on a crop no face was found
in, its grounding check, the DFA-GPT trainer and the speed benchmark all read the detector on
one aligned crop. Here the crop's verdict comes from the same threshold the analysis uses
(`DEFAULT_THRESHOLD` unless the caller has its own: detector folders record none) and its
forgery type from `ForgeryType.decide`, as the analysis decides a face's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opendfa.evidence.report import DEFAULT_THRESHOLD, ForgeryType, RegionEvidence
from opendfa.evidence.words import detector_line
from opendfa.models.detector_base import CropPrediction, DetectorRuntime, predict_crops


@dataclass(frozen=True)
class CropJudgement:
    """The detector's outputs on one crop and what they mean at `threshold`."""

    prediction: CropPrediction
    threshold: float

    @property
    def fake_probability(self) -> float:
        return self.prediction.fake_probability

    @property
    def is_fake(self) -> bool:
        return self.prediction.fake_probability >= self.threshold

    @property
    def verdict(self) -> str:
        return "fake" if self.is_fake else "real"

    @property
    def forgery_type(self) -> ForgeryType:
        return ForgeryType.decide(self.prediction.category_probabilities, self.is_fake)

    @property
    def regions(self) -> list[RegionEvidence]:
        """The region scores as report rows (no cues: none were measured)."""
        return [RegionEvidence(n, s) for n, s in self.prediction.region_scores.items()]

    def evidence_line(self) -> str:
        """The line DFA-GPT reads when trained with the detector's evidence."""
        p = self.prediction
        return detector_line(
            p.fake_probability, p.category_probabilities, p.region_scores, self.threshold
        )


def judge_crops(
    detector: DetectorRuntime, crops: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> list[CropJudgement]:
    """One judgement per aligned uint8 RGB crop (N, S, S, 3), in one batched detector run."""
    return [CropJudgement(p, float(threshold)) for p in predict_crops(detector, crops)]


def judge_crop(
    detector: DetectorRuntime, crop: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> CropJudgement:
    """The judgement of one aligned uint8 RGB crop (S, S, 3)."""
    return judge_crops(detector, crop[None], threshold)[0]
