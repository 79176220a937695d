"""Deepfake-detection (DF-D) metrics as the DFA paper reports them, plus AUC, EER and AP.

The DFA paper takes ACC, ERR and ACER from face anti-spoofing (ISO/IEC 30107-3), with the fake
as the "attack" class:

- APCER: fakes accepted as real / fakes          (attack presentation classification error)
- BPCER: reals rejected as fake / reals          (bona fide presentation classification error)
- ACER = (APCER + BPCER) / 2, ERR = 1 - ACC (the share of all answers that are wrong).

ACER weighs both classes equally, so it is not flattered by a fake-heavy test set; ACC is.
Labels are 1 for fake, 0 for real; scores are P(fake) (or any score that grows with it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


@dataclass(frozen=True)
class DetectionMetrics:
    n: int
    n_fake: int
    accuracy: float
    err: float
    apcer: float
    bpcer: float
    acer: float
    auc: float | None  # None when only one class is present
    eer: float | None
    ap: float | None

    def to_json(self) -> dict[str, float | int | None]:
        return asdict(self)


def _arrays(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if s.size == 0:
        raise ValueError("no predictions")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    return s, y.astype(np.int64)


def equal_error_rate(scores: np.ndarray, labels: np.ndarray) -> float:
    """The error rate where false-accept and false-reject rates meet on the ROC curve.

    Interpolated linearly between the two ROC points that bracket FPR = 1 - TPR.
    """
    s, y = _arrays(scores, labels)
    if y.min() == y.max():
        raise ValueError("the EER needs both reals and fakes")
    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1.0 - tpr
    gap = fpr - fnr  # rises from -1 to +1 along the curve
    k = int(np.argmax(gap >= 0))
    if k == 0 or gap[k] == 0:
        return float(fpr[k])
    w = gap[k] / (gap[k] - gap[k - 1])  # fraction of the way back to point k-1
    return float(fpr[k] - w * (fpr[k] - fpr[k - 1]))


def detection_metrics(
    scores: np.ndarray, labels: np.ndarray, threshold: float = 0.5
) -> DetectionMetrics:
    """DF-D metrics of P(fake) scores judged fake at `score >= threshold`."""
    s, y = _arrays(scores, labels)
    predicted = s >= threshold
    fakes, reals = y == 1, y == 0
    apcer = float((~predicted[fakes]).mean()) if fakes.any() else 0.0
    bpcer = float(predicted[reals].mean()) if reals.any() else 0.0
    accuracy = float((predicted == fakes).mean())
    both = bool(fakes.any() and reals.any())
    return DetectionMetrics(
        n=int(y.size),
        n_fake=int(fakes.sum()),
        accuracy=accuracy,
        err=1.0 - accuracy,
        apcer=apcer,
        bpcer=bpcer,
        acer=(apcer + bpcer) / 2.0,
        auc=float(roc_auc_score(y, s)) if both else None,
        eer=equal_error_rate(s, y) if both else None,
        ap=float(average_precision_score(y, s)) if both else None,
    )


# ----------------------------------------------------------------------------- DF-C


@dataclass(frozen=True)
class ClassificationMetrics:
    """Forgery-type classification: accuracy, recall per class, confusion matrix (rows true)."""

    n: int
    accuracy: float
    recall: dict[str, float]
    confusion: list[list[int]]
    classes: tuple[str, ...]

    def to_json(self) -> dict:
        return asdict(self)


def classification_metrics(
    predicted: list[str], true: list[str], classes: tuple[str, ...]
) -> ClassificationMetrics:
    """DF-C metrics over `classes`; a prediction outside them (e.g. "unparseable") counts as
    wrong for its sample and appears in no confusion column."""
    from sklearn.metrics import confusion_matrix

    if len(predicted) != len(true):
        raise ValueError(f"{len(predicted)} predictions but {len(true)} labels")
    if not true:
        raise ValueError("no predictions")
    unknown = sorted(set(true) - set(classes))
    if unknown:
        raise ValueError(f"true labels outside the classes: {', '.join(unknown)}")
    matrix = confusion_matrix(true, predicted, labels=list(classes))
    correct = sum(p == t for p, t in zip(predicted, true, strict=True))
    recall = {}
    # Rows count every sample of the class, including predictions outside `classes`.
    for k, name in enumerate(classes):
        total = sum(t == name for t in true)
        recall[name] = float(matrix[k, k] / total) if total else float("nan")
    return ClassificationMetrics(
        n=len(true),
        accuracy=correct / len(true),
        recall=recall,
        confusion=matrix.tolist(),
        classes=tuple(classes),
    )


# ----------------------------------------------------------------------------- video


def video_auc(
    frame_scores: dict[str, list[float]], labels: dict[str, int], aggregate: str = "mean"
) -> float | None:
    """AUC over videos of their aggregated frame scores (`mean`, `max` or `median`)."""
    reduce = {"mean": np.mean, "max": np.max, "median": np.median}.get(aggregate)
    if reduce is None:
        raise ValueError(f"aggregate must be mean, max or median, got {aggregate!r}")
    videos = [v for v in frame_scores if frame_scores[v]]
    missing = [v for v in videos if v not in labels]
    if missing:
        raise ValueError(f"no label for video(s): {', '.join(missing[:3])}")
    y = np.array([labels[v] for v in videos])
    if len(set(y.tolist())) < 2:
        return None
    return float(roc_auc_score(y, [float(reduce(frame_scores[v])) for v in videos]))


# ----------------------------------------------------------------------------- calibration


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 15
) -> float:
    """ECE of binary P(fake) against labels (1 = fake), with equal-width confidence bins.

    Each prediction's confidence is max(p, 1 - p); it is correct when (p >= 0.5) equals the
    label. Bins split [0, 1] into `n_bins` equal, right-closed intervals (b/n, (b+1)/n], and
    ECE = sum over bins of |bin| / N * |accuracy(bin) - mean confidence(bin)|.
    """
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} probabilities but {y.size} labels")
    if p.size == 0:
        raise ValueError("no predictions")
    if n_bins < 1:
        raise ValueError(f"n_bins must be positive, got {n_bins}")
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("probabilities must lie in [0, 1]")
    confidence = np.maximum(p, 1.0 - p)
    correct = (p >= 0.5) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        chosen = index == b
        if chosen.any():
            ece += chosen.mean() * abs(correct[chosen].mean() - confidence[chosen].mean())
    return float(ece)


def wilson_interval(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a rate `hits / n` (95 % by default): honest near 0 and 1,
    where the normal approximation collapses (a false-positive rate of 0 of 40 is not 0)."""
    if n <= 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))
