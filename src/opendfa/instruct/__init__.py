"""DFA-Instruct: instruction data (DF-D, DF-C, AD, FC) built from any manifest."""

from opendfa.instruct.build import InstructConfig, build_instruct, dataset_stats, make_records
from opendfa.instruct.describe import Measurements, describe, measure

__all__ = [
    "InstructConfig",
    "Measurements",
    "build_instruct",
    "dataset_stats",
    "describe",
    "make_records",
    "measure",
]
