"""Bootstrap confidence intervals: resample the records (within strata), recompute, take the
percentiles.

Resampling within strata (reals and fakes, or forgery categories) keeps each stratum's size,
so a metric like ACER, which weighs the classes equally, is never computed on a resample with
no reals. Seeded: the same data and seed give the same interval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95


def bootstrap_indices(
    n: int,
    strata: Sequence | None = None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> np.ndarray:
    """(resamples, n) record indices: each row draws, with replacement, as many records from
    every stratum as it holds (strata in sorted order; one stratum when `strata` is None)."""
    if n < 1:
        raise ValueError("nothing to resample")
    keys = np.zeros(n, dtype=int) if strata is None else np.asarray(strata)
    if keys.shape != (n,):
        raise ValueError(f"{n} records but {keys.size} strata")
    groups = [np.flatnonzero(keys == key) for key in sorted(set(keys.tolist()))]
    rng = np.random.default_rng(seed)
    rows = np.empty((resamples, n), dtype=np.int64)
    for r in range(resamples):
        rows[r] = np.concatenate([rng.choice(group, len(group)) for group in groups])
    return rows


def bootstrap_ci(
    statistic: Callable[[np.ndarray], float | None],
    n: int,
    strata: Sequence | None = None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> tuple[float, float] | None:
    """Percentile interval of `statistic(indices)` over stratified resamples of `n` records;
    draws where the statistic is None or NaN are left out (None if all are)."""
    if resamples < 1:
        return None
    draws = []
    for pick in bootstrap_indices(n, strata, resamples=resamples, seed=seed):
        value = statistic(pick)
        if value is not None and value == value:
            draws.append(float(value))
    if not draws:
        return None
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high)


def mean_ci(
    values: Sequence[float],
    strata: Sequence | None = None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
    level: float = LEVEL,
) -> tuple[float, float] | None:
    """Interval of the mean of per-record values (accuracy from 0/1 hits, mean ROUGE-L, a rate)."""
    v = np.asarray(values, dtype=np.float64)
    return bootstrap_ci(
        lambda pick: float(v[pick].mean()),
        v.size,
        strata,
        resamples=resamples,
        seed=seed,
        level=level,
    )
