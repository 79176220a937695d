"""DFA-Bench: metrics (pure functions on arrays), the answer parser, answerers and the runner."""

from opendfa.bench.metrics import (
    DetectionMetrics,
    bleu,
    cider_d,
    classification_metrics,
    detection_metrics,
    embedding_similarity,
    equal_error_rate,
    expected_calibration_error,
    pixel_auc,
    pixel_iou_f1,
    rouge_l,
    video_auc,
)
from opendfa.bench.parse import parse_category, parse_detection

__all__ = [
    "DetectionMetrics",
    "bleu",
    "cider_d",
    "classification_metrics",
    "detection_metrics",
    "embedding_similarity",
    "equal_error_rate",
    "expected_calibration_error",
    "parse_category",
    "parse_detection",
    "pixel_auc",
    "pixel_iou_f1",
    "rouge_l",
    "video_auc",
]
