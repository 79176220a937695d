"""Counts of a manifest by category, technique, split and identity, as a printable table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from opendfa.data.sample import Sample
from opendfa.data.splits import check_disjoint, identities_of


@dataclass
class ManifestStats:
    total: int
    by_category: Counter = field(default_factory=Counter)
    by_technique: Counter = field(default_factory=Counter)
    by_split: Counter = field(default_factory=Counter)
    by_split_category: Counter = field(default_factory=Counter)
    identities_by_split: dict[str, int] = field(default_factory=dict)
    identities: int = 0
    with_mask: int = 0
    leaking_identities: list[str] = field(default_factory=list)

    def table(self) -> str:
        lines = [
            f"samples: {self.total}   identities: {self.identities}   with mask: {self.with_mask}"
        ]
        splits = sorted(self.by_split, key=str)
        lines.append("")
        lines.append(f"{'category':<24}{'total':>8}" + "".join(f"{s!s:>8}" for s in splits))
        for category, count in sorted(self.by_category.items()):
            per_split = "".join(f"{self.by_split_category[(s, category)]:>8}" for s in splits)
            share = 100 * count / max(self.total, 1)
            lines.append(f"{category:<24}{count:>8}{per_split}   {share:5.1f} %")
        lines.append(
            f"{'identities':<24}{self.identities:>8}"
            + "".join(f"{self.identities_by_split.get(str(s), 0):>8}" for s in splits)
        )
        lines.append("")
        lines.append("techniques:")
        lines.extend(f"  {name:<40}{count:>8}" for name, count in sorted(self.by_technique.items()))
        verdict = "none" if not self.leaking_identities else ", ".join(self.leaking_identities[:10])
        lines.append(f"identities in more than one split: {verdict}")
        return "\n".join(lines)


def manifest_stats(samples: list[Sample]) -> ManifestStats:
    stats = ManifestStats(total=len(samples))
    people: set[str] = set()
    per_split_people: dict[str, set[str]] = {}
    for sample in samples:
        split = sample.split or "none"
        stats.by_category[sample.category] += 1
        stats.by_technique[sample.technique] += 1
        stats.by_split[split] += 1
        stats.by_split_category[(split, sample.category)] += 1
        stats.with_mask += sample.mask_path is not None
        people |= identities_of(sample)
        per_split_people.setdefault(split, set()).update(identities_of(sample))
    stats.identities = len(people)
    stats.identities_by_split = {split: len(ids) for split, ids in per_split_people.items()}
    stats.leaking_identities = check_disjoint(samples)
    return stats
