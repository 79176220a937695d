"""DFA-Instruct: instruction data (DF-D, DF-C, AD, FC) built from any manifest."""

from opendfa._lazy import lazy_exports

_EXPORTS = {
    "InstructConfig": "opendfa.instruct.build",
    "Measurements": "opendfa.instruct.describe",
    "build_instruct": "opendfa.instruct.build",
    "dataset_stats": "opendfa.instruct.build",
    "describe": "opendfa.instruct.describe",
    "make_records": "opendfa.instruct.build",
    "InstructRecord": "opendfa.instruct.records",
    "read_records": "opendfa.instruct.records",
    "measure": "opendfa.instruct.describe",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
