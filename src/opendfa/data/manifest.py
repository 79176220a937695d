"""JSONL manifests: per-line validation on read (bad lines reported, rest kept), atomic write."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from opendfa.data.sample import Sample
from opendfa.safe_files import replacing


@dataclass
class ManifestProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class Manifest:
    """Samples loaded from a manifest, the problems met, and the folder paths are relative to."""

    samples: list[Sample]
    root: Path
    problems: list[ManifestProblem] = field(default_factory=list)

    def resolve(self, relative: str | None) -> Path | None:
        if relative is None:
            return None
        path = Path(relative)
        return path if path.is_absolute() else self.root / path


def read_manifest(path: str | Path) -> Manifest:
    """Load every valid line; invalid JSON, bad fields and duplicate ids become problems."""
    path = Path(path)
    samples: list[Sample] = []
    problems: list[ManifestProblem] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                sample = Sample.from_json(json.loads(line))
            except json.JSONDecodeError as err:
                problems.append(ManifestProblem(number, f"invalid JSON: {err.msg}"))
                continue
            except (TypeError, ValueError) as err:
                problems.append(ManifestProblem(number, str(err)))
                continue
            if sample.id in seen:
                problems.append(ManifestProblem(number, f"duplicate id {sample.id!r}"))
                continue
            seen.add(sample.id)
            samples.append(sample)
    return Manifest(samples=samples, root=path.parent, problems=problems)


def write_manifest(path: str | Path, samples: Iterable[Sample]) -> int:
    """Write samples as JSONL via a temp file and rename, so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with replacing(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for sample in samples:
            handle.write(json.dumps(sample.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count


def append_samples(path: str | Path, samples: Iterable[Sample]) -> int:
    """Append samples (used by resumable jobs: each line is flushed as it is written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("a", encoding="utf-8") as handle:
        for sample in samples:
            handle.write(json.dumps(sample.to_json(), ensure_ascii=False) + "\n")
            handle.flush()
            count += 1
    return count
