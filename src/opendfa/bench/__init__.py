"""DFA-Bench: metrics (pure functions on arrays), the answer parser, answerers and the runner."""

from opendfa._lazy import lazy_exports

_EXPORTS = {
    "DetectionMetrics": "opendfa.bench.metrics",
    "bleu": "opendfa.bench.metrics",
    "cider_d": "opendfa.bench.metrics",
    "classification_metrics": "opendfa.bench.metrics",
    "detection_metrics": "opendfa.bench.metrics",
    "embedding_similarity": "opendfa.bench.metrics",
    "equal_error_rate": "opendfa.bench.metrics",
    "expected_calibration_error": "opendfa.bench.metrics",
    "parse_category": "opendfa.bench.parse",
    "parse_detection": "opendfa.bench.parse",
    "pixel_auc": "opendfa.bench.metrics",
    "pixel_iou_f1": "opendfa.bench.metrics",
    "rouge_l": "opendfa.bench.metrics",
    "video_auc": "opendfa.bench.metrics",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
