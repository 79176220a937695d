"""Judging aligned face crops without the rest of the analysis: the one way to do it.

The chat model's evidence line, the benchmark's detector answerer on a crop no face was found
in, its grounding check, the DFA-GPT trainer and the speed benchmark all read the detector on
one aligned crop. Here the crop's verdict comes from the same threshold the analysis uses
(the detector's operating point, `DetectorRuntime.decision_threshold`, unless the caller has
its own) and its forgery type from `ForgeryType.decide`, as the analysis decides a face's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opendfa.evidence.cues import FaceCues, measure_cues
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

    def evidence_line(self, version: int = 1, cues: FaceCues | None = None) -> str:
        """The line DFA-GPT reads when trained with the detector's evidence; version 2 words
        the `cues` measured under this judgement's mask (`crop_cues`)."""
        p = self.prediction
        return detector_line(
            p.fake_probability,
            p.category_probabilities,
            p.region_scores,
            self.threshold,
            version=version,
            region_cues=cues.regions if cues else None,
            area_cues=cues.face if cues else None,
        )


# The margin of the aligned crops DFA-GPT reads (DFA-Instruct's and the analysis' alignment).
CROP_MARGIN = 0.25


def crop_cues(crop: np.ndarray, mask: np.ndarray, margin: float = CROP_MARGIN) -> FaceCues:
    """The cues under the detector's `mask` on an aligned crop that comes without landmarks
    (a DFA-Instruct image, a bench crop): the regions are the bundled mean face placed where
    alignment with `margin` puts a face. The analysis measures on the face's own landmarks;
    DFA-Instruct's evidence lines are made here, so training and the benchmark read the same
    numbers."""
    from opendfa.faces import region_masks
    from opendfa.faces.align import face_from_crop

    height, width = crop.shape[:2]
    face = face_from_crop(width, height, margin)
    return measure_cues(crop, mask, region_masks(face.landmarks, (width, height)))


def crop_evidence_line(
    detector: DetectorRuntime,
    crop: np.ndarray,
    version: int = 1,
    threshold: float | None = None,
) -> str:
    """The evidence line of one aligned crop judged on its own (no report behind it)."""
    judged = judge_crop(detector, crop, threshold)
    cues = crop_cues(crop, judged.prediction.mask) if version >= 2 else None
    return judged.evidence_line(version, cues)


def judge_crops(
    detector: DetectorRuntime, crops: np.ndarray, threshold: float | None = None
) -> list[CropJudgement]:
    """One judgement per aligned uint8 RGB crop (N, S, S, 3), in one batched detector run;
    `threshold` None is the detector's operating point."""
    if threshold is None:
        threshold = getattr(detector, "decision_threshold", DEFAULT_THRESHOLD)
    return [CropJudgement(p, float(threshold)) for p in predict_crops(detector, crops)]


def judge_crop(
    detector: DetectorRuntime, crop: np.ndarray, threshold: float | None = None
) -> CropJudgement:
    """The judgement of one aligned uint8 RGB crop (S, S, 3)."""
    return judge_crops(detector, crop[None], threshold)[0]
