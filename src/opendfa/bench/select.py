"""Which records of a split a DFA-Bench run asks: the first N per task, or a seeded sample with
at most R reals and F fakes per task, the fakes stratified over the forgery categories.

A stratified sample keeps each category's share of the task's fakes (largest remainders), so
a run on 526 of 1,496 fakes has the category mix of all 1,496. The same seed picks the same
records; DF-D and DF-C records of one image are picked together when their caps agree (the
sample is drawn over the same images in the same order). Chosen records keep the file's
order, so records of one image stay together.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from opendfa.instruct.records import InstructRecord


@dataclass(frozen=True)
class Caps:
    """At most this many reals / fakes of one task (None: all of them)."""

    reals: int | None = None
    fakes: int | None = None

    @property
    def sampled(self) -> bool:
        return self.reals is not None or self.fakes is not None


def select_records(
    records: list[InstructRecord],
    caps: dict[str, Caps],
    limits: dict[str, int | None],
    seed: int = 0,
) -> list[InstructRecord]:
    """Records of each task: a seeded stratified sample where `caps[task].sampled`, else the
    first `limits[task]` (all when None). `records` are those of the split and tasks."""
    by_task: dict[str, list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_task[record.task].append(index)
    chosen: list[int] = []
    for task, indices in by_task.items():
        cap = caps.get(task, Caps())
        if cap.sampled:
            chosen += stratified_sample([records[i] for i in indices], cap, seed, indices)
        else:
            chosen += indices[: limits.get(task)]
    return [records[i] for i in sorted(chosen)]


def stratified_sample(
    records: list[InstructRecord], cap: Caps, seed: int, positions: list[int] | None = None
) -> list[int]:
    """Positions (default: indices into `records`) of at most `cap.reals` reals and `cap.fakes`
    fakes, the fakes split over categories in proportion to their counts."""
    positions = positions if positions is not None else list(range(len(records)))
    rng = np.random.default_rng(seed)
    reals = [p for p, r in zip(positions, records, strict=True) if r.label != "fake"]
    fakes: dict[str, list[int]] = defaultdict(list)
    for p, r in zip(positions, records, strict=True):
        if r.label == "fake":
            fakes[r.category or "unknown"].append(p)
    picked = _pick(reals, cap.reals, rng)
    sizes = allocate({c: len(v) for c, v in fakes.items()}, cap.fakes)
    for category in sorted(fakes):
        picked += _pick(fakes[category], sizes[category], rng)
    return picked


def allocate(counts: dict[str, int], total: int | None) -> dict[str, int]:
    """`total` split over the groups in proportion to `counts` (largest remainders, ties to
    the larger group, then by name), never more than a group holds; all when None."""
    available = sum(counts.values())
    if total is None or total >= available:
        return dict(counts)
    if total < 0:
        raise ValueError(f"a cap must not be negative, got {total}")
    exact = {c: total * n / available for c, n in counts.items()}
    sizes = {c: int(v) for c, v in exact.items()}
    order = sorted(counts, key=lambda c: (-(exact[c] - sizes[c]), -counts[c], c))
    for c in order[: total - sum(sizes.values())]:
        sizes[c] += 1
    return sizes


def _pick(positions: list[int], cap: int | None, rng: np.random.Generator) -> list[int]:
    if cap is None or cap >= len(positions):
        return list(positions)
    if cap < 0:
        raise ValueError(f"a cap must not be negative, got {cap}")
    return [positions[i] for i in sorted(rng.choice(len(positions), cap, replace=False))]


def class_counts(records: list[InstructRecord]) -> dict[str, dict[str, int]]:
    """Task -> category -> number of records (what a run was asked on)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for record in records:
        counts[record.task][record.category or record.label or "unknown"] += 1
    return {task: dict(sorted(c.items())) for task, c in counts.items()}
