"""Samples, manifests, splits, importers for public datasets, and torch datasets."""

from opendfa._lazy import lazy_exports

_EXPORTS = {
    "LABELS": "opendfa.data.sample",
    "SPLITS": "opendfa.data.sample",
    "Manifest": "opendfa.data.manifest",
    "ManifestProblem": "opendfa.data.manifest",
    "Sample": "opendfa.data.sample",
    "SplitConfig": "opendfa.data.splits",
    "append_samples": "opendfa.data.manifest",
    "assign_splits": "opendfa.data.splits",
    "check_disjoint": "opendfa.data.splits",
    "identity_split": "opendfa.data.splits",
    "read_manifest": "opendfa.data.manifest",
    "write_manifest": "opendfa.data.manifest",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
