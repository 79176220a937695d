"""The analysis pipeline: media -> faces -> detector -> per-face evidence with measured cues.

`Analyzer` runs it and returns a `Report` (JSON schema `opendfa.report/2`); `cues` holds the
measured forensic cues, `html` the self-contained HTML report.
"""

from opendfa._lazy import lazy_exports

_EXPORTS = {
    "CUES": "opendfa.evidence.cues",
    "SCHEMA": "opendfa.evidence.report",
    "Analyzer": "opendfa.evidence.pipeline",
    "BatchSummary": "opendfa.evidence.batch",
    "FaceCues": "opendfa.evidence.cues",
    "FaceEvidence": "opendfa.evidence.report",
    "ForgeryType": "opendfa.evidence.report",
    "FrameScore": "opendfa.evidence.report",
    "InputInfo": "opendfa.evidence.report",
    "MaskImage": "opendfa.evidence.report",
    "ModelInfo": "opendfa.evidence.report",
    "RegionEvidence": "opendfa.evidence.report",
    "Report": "opendfa.evidence.report",
    "ReportError": "opendfa.evidence.report",
    "TrackScore": "opendfa.evidence.report",
    "cue_strength": "opendfa.evidence.cues",
    "cues_for_region": "opendfa.evidence.cues",
    "explain": "opendfa.evidence.words",
    "iter_inputs": "opendfa.evidence.batch",
    "measure_cues": "opendfa.evidence.cues",
    "upgrade_report": "opendfa.evidence.report",
    "validate_report": "opendfa.evidence.report",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
