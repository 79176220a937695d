"""One verdict from two witnesses: the semantic detector and the pixel-level forensic stream.

A logistic fusion of the two logits, fitted on validation faces (never test) and stored with
the forensic model (`config.json` -> `fusion`), so the weights travel with the models they
were fitted for. When the stream could not judge a face (too small), the semantic verdict
stands alone and the report says that the pixel-level check was not made.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


def logit(probability: float) -> float:
    p = min(max(float(probability), 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def sigmoid(value: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(value, 60.0), -60.0)))


@dataclass(frozen=True)
class Fusion:
    semantic_weight: float
    forensic_weight: float
    bias: float
    detector: str = ""  # the semantic model the weights were fitted with

    def combine(self, semantic_probability: float, forensic_logit: float | None) -> float:
        """P(fake) of a face from both streams; the semantic one alone without the other."""
        if forensic_logit is None:
            return float(semantic_probability)
        value = (
            self.semantic_weight * logit(semantic_probability)
            + self.forensic_weight * forensic_logit
            + self.bias
        )
        return sigmoid(value)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, values: dict[str, Any] | None) -> Fusion | None:
        if not values:
            return None
        return cls(
            float(values["semantic_weight"]),
            float(values["forensic_weight"]),
            float(values["bias"]),
            str(values.get("detector", "")),
        )


def fit_fusion(
    semantic_probabilities: list[float],
    forensic_logits: list[float],
    labels: list[int],
    *,
    detector: str = "",
) -> Fusion:
    """Logistic regression of the label on the two logits (validation faces only)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    features = np.c_[[logit(p) for p in semantic_probabilities], forensic_logits]
    model = LogisticRegression(C=1.0).fit(features, np.asarray(labels))
    semantic_weight, forensic_weight = (float(w) for w in model.coef_[0])
    return Fusion(semantic_weight, forensic_weight, float(model.intercept_[0]), detector)


def fit_calibration(raw_scores: list[float], labels: list[int]) -> dict[str, float]:
    """Platt scaling of the stream's raw face score: logit = (raw - bias) / temperature."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1e4).fit(np.asarray(raw_scores)[:, None], np.asarray(labels))
    slope, intercept = float(model.coef_[0][0]), float(model.intercept_[0])
    if slope <= 0:
        raise ValueError("the stream's scores do not rise with the label on validation data")
    return {"temperature": 1.0 / slope, "bias": -intercept / slope}
