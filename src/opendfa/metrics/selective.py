"""Selective classification: how the error falls as a detector abstains on its least sure
answers (risk-coverage curve, AURC), and the lowest error any abstention rule could reach.

An answer is kept or withheld as a whole; a kept answer is right when P(fake) >= threshold
agrees with the label. Confidence is the margin |P(fake) - threshold|, as the analysis's
margin band uses it (`opendfa.evidence.abstain`).

`best_selective_risk` is the floor set by arithmetic, not by any model: withholding a share
1 - c of the answers removes at most that share of the errors, so at coverage c the kept
error is at least (e - (1 - c)) / c. At 80 % coverage, halving the full error e is possible
only when e <= 1/3: a detector that is wrong on 40 % of the faces cannot get there by
abstaining, however well it knows its mistakes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aurc", "best_selective_risk", "risk_at", "risk_coverage"]


def risk_coverage(
    labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, selective risk) when the answers with the largest margin are kept first."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    if labels.shape != scores.shape or labels.ndim != 1:
        raise ValueError("labels and scores must be 1-D arrays of the same length")
    if labels.size == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(-np.abs(scores - threshold), kind="stable")
    wrong = ((scores[order] >= threshold).astype(int) != labels[order]).astype(float)
    kept = np.arange(1, len(order) + 1)
    return kept / len(order), np.cumsum(wrong) / kept


def aurc(labels: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    """Area under the risk-coverage curve (lower is better; the mean of the curve)."""
    _, risk = risk_coverage(labels, scores, threshold)
    return float(risk.mean()) if risk.size else float("nan")


def risk_at(
    labels: np.ndarray, scores: np.ndarray, coverage: float, threshold: float = 0.5
) -> float:
    """The selective error when the `coverage` share of most confident answers is kept."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError("coverage must lie in (0, 1]")
    covered, risk = risk_coverage(labels, scores, threshold)
    if not risk.size:
        return float("nan")
    return float(risk[np.searchsorted(covered, coverage - 1e-9)])


def best_selective_risk(error: float, coverage: float) -> float:
    """The lowest selective error any abstention rule can reach at `coverage`, given the
    error `error` over all answers: the rule that withholds only wrong answers."""
    if not 0.0 < coverage <= 1.0:
        raise ValueError("coverage must lie in (0, 1]")
    if not 0.0 <= error <= 1.0:
        raise ValueError("error must lie in [0, 1]")
    return max(0.0, error - (1.0 - coverage)) / coverage
