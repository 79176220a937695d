"""The analysis pipeline: media -> faces -> detector -> per-face evidence with measured cues.

`Analyzer` runs it and returns a `Report` (JSON schema `opendfa.report/1`); `cues` holds the
measured forensic cues, `html` the self-contained HTML report.
"""

from opendfa.evidence.cues import CUES, FaceCues, cue_strength, cues_for_region, measure_cues
from opendfa.evidence.pipeline import Analyzer, BatchSummary, iter_inputs
from opendfa.evidence.report import (
    SCHEMA,
    FaceEvidence,
    ForgeryType,
    FrameScore,
    InputInfo,
    MaskImage,
    ModelInfo,
    RegionEvidence,
    Report,
    ReportError,
    TrackScore,
    explain,
    validate_report,
)

__all__ = [
    "CUES",
    "SCHEMA",
    "Analyzer",
    "BatchSummary",
    "FaceCues",
    "FaceEvidence",
    "ForgeryType",
    "FrameScore",
    "InputInfo",
    "MaskImage",
    "ModelInfo",
    "RegionEvidence",
    "Report",
    "ReportError",
    "TrackScore",
    "cue_strength",
    "cues_for_region",
    "explain",
    "iter_inputs",
    "measure_cues",
    "validate_report",
]
