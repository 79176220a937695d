"""Samples, manifests, splits, importers for public datasets, and torch datasets."""

from opendfa.data.manifest import (
    Manifest,
    ManifestProblem,
    append_samples,
    read_manifest,
    write_manifest,
)
from opendfa.data.sample import LABELS, SPLITS, Sample
from opendfa.data.splits import SplitConfig, assign_splits, check_disjoint, identity_split

__all__ = [
    "LABELS",
    "SPLITS",
    "Manifest",
    "ManifestProblem",
    "Sample",
    "SplitConfig",
    "append_samples",
    "assign_splits",
    "check_disjoint",
    "identity_split",
    "read_manifest",
    "write_manifest",
]
