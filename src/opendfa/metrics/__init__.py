"""Metrics as pure functions on arrays and texts, and the parser that turns free-text answers
into labels so they can be scored.

Below every package that scores something (`train`, `instruct`, `explain`, `bench`), so none
of them has to import the benchmark to measure or parse.
"""

from opendfa._lazy import lazy_exports

_EXPORTS = {
    "ClassificationMetrics": "opendfa.metrics.detection",
    "DetectionMetrics": "opendfa.metrics.detection",
    "SentenceEmbedder": "opendfa.metrics.text",
    "UNPARSEABLE": "opendfa.metrics.answers",
    "bleu": "opendfa.metrics.text",
    "bootstrap_ci": "opendfa.metrics.bootstrap",
    "check_answer": "opendfa.metrics.grounding",
    "cider_d": "opendfa.metrics.text",
    "classification_metrics": "opendfa.metrics.detection",
    "detection_metrics": "opendfa.metrics.detection",
    "embedding_similarities": "opendfa.metrics.text",
    "embedding_similarity": "opendfa.metrics.text",
    "equal_error_rate": "opendfa.metrics.detection",
    "expected_calibration_error": "opendfa.metrics.detection",
    "mean_ci": "opendfa.metrics.bootstrap",
    "parse_category": "opendfa.metrics.answers",
    "parse_detection": "opendfa.metrics.answers",
    "pixel_auc": "opendfa.metrics.localization",
    "pixel_iou_f1": "opendfa.metrics.localization",
    "rouge_l": "opendfa.metrics.text",
    "rouge_l_scores": "opendfa.metrics.text",
    "text_tokens": "opendfa.metrics.text",
    "video_auc": "opendfa.metrics.detection",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
