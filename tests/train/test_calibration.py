"""Calibration: ECE on a worked example, temperature scaling recovers a known temperature."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.train.calibration import expected_calibration_error, fit_temperature


def test_ece_worked_example():
    # confidences 0.9, 0.8, 0.7, 0.6; correct: yes, no, yes, yes; 5 bins of width 0.2:
    # (0.8, 1.0]: {0.9 right} -> |1 - 0.9| * 1/4 = 0.025
    # (0.6, 0.8]: {0.8 wrong, 0.7 right} -> |0.5 - 0.75| * 2/4 = 0.125
    # (0.4, 0.6]: {0.6 right} -> |1 - 0.6| * 1/4 = 0.1
    probabilities = np.array([0.9, 0.8, 0.3, 0.6])
    labels = np.array([1, 0, 0, 1])
    assert expected_calibration_error(probabilities, labels, n_bins=5) == pytest.approx(0.25)


def test_ece_is_zero_when_confidence_matches_accuracy():
    # 10 predictions at P(fake) = 0.8, of which 8 are fakes: 80 % right at 80 % confidence.
    probabilities = np.full(10, 0.8)
    labels = np.array([1] * 8 + [0] * 2)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(0.0)


def test_ece_rejects_bad_inputs():
    with pytest.raises(ValueError, match="labels"):
        expected_calibration_error(np.array([0.5, 0.5]), np.array([1]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error(np.array([1.5]), np.array([1]))


def test_temperature_scaling_recovers_the_true_temperature_and_lowers_ece():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0.0, 2.0, size=20_000)
    labels = (rng.random(20_000) < 1.0 / (1.0 + np.exp(-true_logits))).astype(int)
    overconfident = 3.0 * true_logits  # a model whose logits are 3x too large
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(3.0, rel=0.05)
    before = expected_calibration_error(1 / (1 + np.exp(-overconfident)), labels)
    after = expected_calibration_error(1 / (1 + np.exp(-overconfident / temperature)), labels)
    assert after < 0.02 < before


def test_temperature_fit_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="as many labels"):
        fit_temperature(np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match="0 or 1"):
        fit_temperature(np.zeros(2), np.array([0, 2]))
