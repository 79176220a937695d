"""Identity-disjoint, deterministic train/val/test splits.

Each identity is assigned by a hash of (seed, identity), so the assignment of a person never
depends on which other people are in the manifest, and adding data never moves anyone.
A fake belongs to the split of the identities it shows. A fake whose source and target fall
in different splits cannot be placed without leaking a face across splits: it gets
`split=None` and is left out of every split (`opendfa data synth` avoids making such pairs).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

from opendfa.data.sample import Sample

# The DFA-Instruct split: 94 % train, 5.8 % test, 0.2 % validation.
DEFAULT_FRACTIONS = {"train": 0.94, "test": 0.058, "val": 0.002}


@dataclass(frozen=True)
class SplitConfig:
    train: float = DEFAULT_FRACTIONS["train"]
    test: float = DEFAULT_FRACTIONS["test"]
    val: float = DEFAULT_FRACTIONS["val"]
    seed: int = 0

    def __post_init__(self) -> None:
        total = self.train + self.test + self.val
        if min(self.train, self.test, self.val) < 0 or abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must be non-negative and sum to 1, got {total:.4f}")


def identity_split(identity: str, config: SplitConfig = SplitConfig()) -> str:
    digest = hashlib.sha256(f"{config.seed}:{identity}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    if position < config.test:
        return "test"
    if position < config.test + config.val:
        return "val"
    return "train"


def identities_of(sample: Sample) -> set[str]:
    return {i for i in (sample.identity, sample.source_identity, sample.target_identity) if i}


def assign_splits(samples: Iterable[Sample], config: SplitConfig = SplitConfig()) -> list[Sample]:
    """A copy of each sample with `split` set from its identities (None if they disagree)."""
    assigned = []
    for sample in samples:
        splits = {identity_split(identity, config) for identity in identities_of(sample)}
        assigned.append(replace(sample, split=splits.pop() if len(splits) == 1 else None))
    return assigned


def check_disjoint(samples: Iterable[Sample]) -> list[str]:
    """Identities that appear in more than one split (empty when the split is honest)."""
    seen: dict[str, set[str]] = {}
    for sample in samples:
        if sample.split is None:
            continue  # left out of every split
        for identity in identities_of(sample):
            seen.setdefault(identity, set()).add(sample.split or "none")
    return sorted(identity for identity, splits in seen.items() if len(splits) > 1)
