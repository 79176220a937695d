"""Importers for public deepfake dataset layouts: one module per dataset, one registry.

`IMPORTERS` is a plain dict filled by `@register_importer("<name>", <name>_flags)` on each
module's import function (`<name>_flags` adds its keyword options as `opendfa data import`
flags); `import_dataset(name, root, **options)` is the one entry point:

    result = import_dataset("ffpp", "/data/FaceForensics++", splits_dir="/data/ffpp_splits")
    write_manifest(root / "manifest.jsonl", result.samples)   # paths are relative to root
    print(result.counts, *result.problems, sep="\\n")

| name            | module            | layout                                                  |
| --------------- | ----------------- | ------------------------------------------------------- |
| `ffpp`          | `ffpp.py`         | FaceForensics++ / DeepFakeDetection / FaceShifter      |
| `celebdf`       | `celebdf.py`      | Celeb-DF v1/v2 with `List_of_testing_videos.txt`       |
| `df40`          | `df40.py`         | DF40 technique folders (all 40, by DF40's own names)   |
| `dfdc`          | `dfdc.py`         | DFDC parts with `metadata.json` / `labels.csv`         |
| `deepfakebench` | `deepfakebench.py`| DeepfakeBench (and DF40) `dataset_json/*.json` indexes |
| `mmtt`          | `mmtt.py`         | MMTT-style images / masks / text annotations           |

A root that is not the dataset raises `ValueError` (one line, with the path); anything broken
inside a real root (a missing metadata file, unreadable JSON, an unknown technique folder) is
one line in `ImportResult.problems` and the rest is imported.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from opendfa.data.importers import celebdf, deepfakebench, df40, dfdc, ffpp, mmtt
from opendfa.data.importers.base import (
    IMPORTER_FLAGS,
    IMPORTERS,
    ImportResult,
    register_importer,
)
from opendfa.data.importers.df40 import DF40_TECHNIQUES, df40_technique
from opendfa.data.importers.ffpp import FFPP_METHODS

__all__ = [
    "DF40_TECHNIQUES",
    "FFPP_METHODS",
    "IMPORTERS",
    "IMPORTER_FLAGS",
    "ImportResult",
    "available_importers",
    "celebdf",
    "deepfakebench",
    "df40",
    "df40_technique",
    "dfdc",
    "ffpp",
    "import_dataset",
    "mmtt",
    "register_importer",
]


def available_importers() -> list[str]:
    return sorted(IMPORTERS)


def import_dataset(name: str, root: str | Path, **options: Any) -> ImportResult:
    """Run the importer `name` on the dataset at `root`; unknown names or options raise."""
    try:
        importer = IMPORTERS[name.lower()]
    except KeyError:
        known = ", ".join(available_importers())
        raise ValueError(f"unknown dataset importer {name!r}; known: {known}") from None
    accepted = [
        p.name
        for p in inspect.signature(importer).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown option(s) for importer {name!r}: {', '.join(unknown)}; "
            f"accepted: {', '.join(accepted)}"
        )
    path = Path(root).expanduser()
    if not path.exists():
        raise ValueError(f"dataset root does not exist ({path})")
    return importer(path.resolve(), **options)
