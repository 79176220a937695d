"""What every dataset importer shares: the registry, `ImportResult`, and the sample sink.

Path rule: an importer stores `Sample.path` and `Sample.mask_path` relative to
`ImportResult.root` (the dataset root), with forward slashes, so the tree can move and a manifest
written in the root resolves them. `ImportResult.rebased(folder)` rewrites them for a manifest
written anywhere else. Paths that cannot be made relative (a DeepfakeBench JSON pointing outside
its data root) stay absolute.

Ids are `<importer>:<relative path>` (plus `#<frame>` for one frame inside a video file), so the
same file always gets the same id and re-importing never renumbers anything.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from opendfa.data.importers.frames import Unit
from opendfa.data.sample import Sample
from opendfa.taxonomy import CATEGORIES

Importer = Callable[..., "ImportResult"]
ImporterFlags = Callable[[argparse.ArgumentParser], None]
IMPORTERS: dict[str, Importer] = {}
IMPORTER_FLAGS: dict[str, ImporterFlags] = {}  # name -> adds its keyword options as flags


def register_importer(name: str, flags: ImporterFlags | None = None):
    """Add `fn(root: Path, **options) -> ImportResult` to the registry under `name`, with
    `flags(parser)`, which adds one command-line flag per keyword option (`dest` = keyword;
    shared ones in `opendfa.data.importers.flags`); none for an importer without options."""

    def decorate(fn: Importer) -> Importer:
        if name in IMPORTERS:
            raise ValueError(f"dataset importer {name!r} registered twice")
        IMPORTERS[name] = fn
        IMPORTER_FLAGS[name] = flags or (lambda parser: None)
        return fn

    return decorate


@dataclass
class ImportResult:
    """Samples found under `root`, and one line per piece that could not be used."""

    dataset: str
    root: Path
    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, Any]:
        """Totals and per-label / category / technique / split tallies (split None -> 'none')."""
        tallies: dict[str, Counter[str]] = {
            key: Counter() for key in ("label", "category", "technique", "split")
        }
        for sample in self.samples:
            tallies["label"][sample.label] += 1
            tallies["category"][sample.category] += 1
            tallies["technique"][sample.technique] += 1
            tallies["split"][sample.split or "none"] += 1
        counts: dict[str, Any] = {"samples": len(self.samples), "problems": len(self.problems)}
        counts.update({key: dict(sorted(tally.items())) for key, tally in tallies.items()})
        return counts

    def rebased(self, folder: str | Path) -> list[Sample]:
        """Copies of the samples whose relative paths resolve from `folder` instead of `root`."""
        folder = Path(folder).resolve()

        def move(path: str | None) -> str | None:
            if path is None or Path(path).is_absolute():
                return path
            return Path(os.path.relpath(self.root / path, folder)).as_posix()

        return [
            replace(sample, path=move(sample.path), mask_path=move(sample.mask_path))
            for sample in self.samples
        ]


class SampleSink:
    """Builds samples with stable ids and relative paths; bad records become problems."""

    def __init__(self, dataset: str, root: Path) -> None:
        self.dataset = dataset
        self.root = root
        self.result = ImportResult(dataset=dataset, root=root)
        self._ids: set[str] = set()

    def rel(self, path: str | Path) -> str:
        path = Path(path)
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def problem(self, where: str | Path, message: str) -> None:
        self.result.problems.append(f"{where}: {message}")

    def add(
        self,
        unit: Unit,
        *,
        label: str,
        category: str,
        technique: str,
        identity: str,
        source_identity: str | None = None,
        target_identity: str | None = None,
        split: str | None = None,
        mask: Path | str | None = None,
        dataset: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> Sample | None:
        """Append one sample for `unit`; a duplicate id is skipped, an invalid record reported."""
        path = self.rel(unit.path)
        sample_id = f"{self.dataset}:{path}"
        if unit.in_video:
            sample_id += f"#{unit.frame_index}"
        if sample_id in self._ids:
            self.problem(unit.path, "listed twice; the first listing is kept")
            return None
        meta = dict(meta or {})
        if unit.frame_index is not None:
            meta["frame_index"] = unit.frame_index
        if unit.num_frames is not None:
            meta["num_frames"] = unit.num_frames
        try:
            sample = Sample(
                id=sample_id,
                path=path,
                label=label,
                category=category,
                technique=technique,
                identity=identity,
                source_identity=source_identity,
                target_identity=target_identity,
                split=split,
                mask_path=None if mask is None else self.rel(mask),
                dataset=dataset or self.dataset,
                meta=meta,
            )
        except ValueError as err:
            self.problem(unit.path, str(err))
            return None
        self._ids.add(sample_id)
        self.result.samples.append(sample)
        return sample


def check_choice(name: str, value: str, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def check_categories(overrides: dict[str, str] | None) -> dict[str, str]:
    """Validate a user's `{name: category}` overrides (category must be a fake category)."""
    overrides = dict(overrides or {})
    for name, category in overrides.items():
        if category not in CATEGORIES[1:]:
            raise ValueError(
                f"category for {name!r} must be one of {', '.join(CATEGORIES[1:])}, "
                f"got {category!r}"
            )
    return overrides


def examples(names: Iterable[str], limit: int = 3) -> str:
    """'a, b, c and 4 more' — keeps a problem about many files to one line."""
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def subdirs(folder: Path) -> list[Path]:
    """Visible sub-folders, sorted (an unreadable folder has none)."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if p.is_dir() and not p.name.startswith((".", "__")))


def normalize_split(value: Any) -> str | None:
    """'train' / 'val' / 'test' from the spellings datasets use, else None."""
    if not isinstance(value, str):
        return None
    value = value.strip().lower()
    aliases = {"validation": "val", "valid": "val", "dev": "val", "testing": "test"}
    value = aliases.get(value, value)
    return value if value in ("train", "val", "test") else None
