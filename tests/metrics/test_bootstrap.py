"""Stratified bootstrap intervals: seeded, around the estimate, narrower with more records."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.metrics.bootstrap import bootstrap_ci, bootstrap_indices, mean_ci


def test_resamples_keep_every_stratum_and_its_size():
    strata = np.array([0] * 3 + [1] * 7)
    rows = bootstrap_indices(10, strata, resamples=50, seed=1)
    assert rows.shape == (50, 10)
    assert np.all(strata[rows[:, :3]] == 0) and np.all(strata[rows[:, 3:]] == 1)
    assert np.array_equal(rows, bootstrap_indices(10, strata, resamples=50, seed=1))
    with pytest.raises(ValueError):
        bootstrap_indices(10, strata[:5])


def test_interval_contains_the_estimate_and_narrows_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (40, 400, 4000):
        hits = (rng.random(n) < 0.8).astype(float)
        low, high = mean_ci(hits, resamples=300)
        assert low <= hits.mean() <= high
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]


def test_undefined_draws_are_left_out_and_zero_resamples_give_none():
    values = np.array([1.0, 2.0, 3.0])
    assert bootstrap_ci(lambda pick: None, 3) is None
    assert mean_ci(values, resamples=0) is None
    low, high = bootstrap_ci(lambda pick: values[pick].max(), 3, resamples=200)
    assert 1.0 <= low <= high == 3.0
