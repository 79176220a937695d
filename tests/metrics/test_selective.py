"""Selective risk: the curve keeps the most confident answers first, AURC is its mean, and
the arithmetic floor is what an oracle abstainer reaches."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.metrics.selective import aurc, best_selective_risk, risk_at, risk_coverage


def test_the_curve_keeps_the_largest_margins_first():
    labels = np.array([1, 0, 1, 0])
    scores = np.array([0.95, 0.45, 0.4, 0.05])  # the 0.4 fake is the only wrong answer
    coverage, risk = risk_coverage(labels, scores)
    assert coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    # margins: 0.45, 0.05, 0.10, 0.45 -> kept order 0.95, 0.05, 0.4, 0.45
    assert risk.tolist() == pytest.approx([0.0, 0.0, 1 / 3, 0.25])
    assert risk_at(labels, scores, 0.5) == 0.0
    assert risk_at(labels, scores, 1.0) == 0.25
    assert aurc(labels, scores) == pytest.approx(np.mean([0, 0, 1 / 3, 0.25]))


def test_the_threshold_decides_what_is_wrong():
    labels = np.array([1, 1])
    scores = np.array([0.55, 0.65])
    assert risk_at(labels, scores, 1.0, threshold=0.5) == 0.0
    assert risk_at(labels, scores, 1.0, threshold=0.6) == 0.5


def test_best_selective_risk_is_what_an_oracle_abstainer_reaches():
    rng = np.random.default_rng(0)
    wrong = rng.random(1000) < 0.3
    error = wrong.mean()
    # the oracle withholds wrong answers first
    kept = np.sort(wrong.astype(float))[:800]
    assert best_selective_risk(error, 0.8) == pytest.approx(kept.mean())
    assert best_selective_risk(0.15, 0.8) == 0.0
    # halving the error at 80 % coverage needs a full error of at most one third
    assert best_selective_risk(1 / 3, 0.8) == pytest.approx(1 / 6)
    assert best_selective_risk(0.488, 0.8) > 0.488 / 2


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        best_selective_risk(0.2, 0.0)
    with pytest.raises(ValueError):
        best_selective_risk(1.2, 0.5)
    with pytest.raises(ValueError):
        risk_coverage(np.array([1, 0]), np.array([0.3]))
    assert np.isnan(aurc(np.array([]), np.array([])))
