"""DFA-Bench: metrics (pure functions on arrays) and, later, the benchmark runner."""

from opendfa.bench.metrics import DetectionMetrics, detection_metrics, equal_error_rate

__all__ = ["DetectionMetrics", "detection_metrics", "equal_error_rate"]
