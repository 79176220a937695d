"""The `Sample` record: one line of a manifest, the unit every dataset stage passes along."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from opendfa.taxonomy import REAL, check_category

LABELS = ("real", "fake")
SPLITS = ("train", "val", "test")


@dataclass
class Sample:
    """One image (or video) with its label, forgery category and provenance.

    Paths are stored as given (relative paths are resolved against the manifest's folder).
    `identity` is the person shown; for a swap it is the source identity whose face now
    appears, and `target_identity` is the person whose photo was used as the canvas.
    """

    id: str
    path: str
    label: str
    category: str
    technique: str
    identity: str
    source_identity: str | None = None
    target_identity: str | None = None
    split: str | None = None
    mask_path: str | None = None
    regions: list[str] = field(default_factory=list)
    dataset: str = "opendfa"
    degradations: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("id must not be empty")
        if not self.path:
            raise ValueError("path must not be empty")
        if self.label not in LABELS:
            raise ValueError(f"label must be 'real' or 'fake', got {self.label!r}")
        check_category(self.category)
        if (self.label == "real") != (self.category == REAL):
            raise ValueError(f"label {self.label!r} contradicts category {self.category!r}")
        if self.split is not None and self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if not self.identity:
            raise ValueError("identity must not be empty")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Sample:
        if not isinstance(record, dict):
            raise ValueError(f"expected a JSON object, got {type(record).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(record) - known)
        if unknown:
            raise ValueError(f"unknown field(s): {', '.join(unknown)}")
        missing = [
            name
            for name in ("id", "path", "label", "category", "technique", "identity")
            if name not in record
        ]
        if missing:
            raise ValueError(f"missing field(s): {', '.join(missing)}")
        return cls(**record)


def load_flow(sample: Sample, root: str | Path) -> np.ndarray | None:
    """The backward flow a forgery applied, (H, W, 2) float32 in px, or None without one.

    The forged pixel (x, y) shows the real one at (x + dx, y + dy); zero where nothing moved.
    Written by `opendfa data synth` for warps that move the face's own pixels (`meta.flow_path`,
    relative to `root`, the manifest's folder); reals, other methods and manifests written
    before flows were recorded have none.
    """
    relative = sample.meta.get("flow_path")
    if not relative:
        return None
    path = Path(relative)
    with np.load(path if path.is_absolute() else Path(root) / path) as stored:
        flow = stored["flow"]
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"{relative}: a flow is (H, W, 2), got {flow.shape}")
    return flow.astype(np.float32)
