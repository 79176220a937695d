"""The models' default names and the detector's architecture, importable without torch, OpenCV
or NumPy: the command line reads its defaults and builds its training flags from them, and
`opendfa --help` must stay light (tests/test_startup.py)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

DEFAULT_MODEL = "opendfa-lite0"  # the bundled detector
DEFAULT_LM = "gemma-3-270m"  # DFA-GPT's language model (converted once from its GGUF)


@dataclass
class DetectorConfig:
    backbone: str = "efficientnet_lite0"
    input_size: int = 224
    crop_margin: float = 0.25  # the align_face margin of the crops it reads
    mask_size: int = 28
    embedding_dim: int = 128
    dropout: float = 0.2
    mask_channels: int = 64
    boundary_head: bool = False  # a second mask channel: the blending boundary 4·M·(1−M)
    flip_tta: bool = False  # average each crop's outputs with its mirror image's

    def __post_init__(self) -> None:
        if self.input_size < 32 or self.input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32, at least 32: {self.input_size}")
        if not 0.0 <= self.crop_margin < 2.0:
            raise ValueError(f"crop_margin must be in [0, 2): {self.crop_margin}")
        if self.mask_size < 4 or self.embedding_dim < 2 or not 0.0 <= self.dropout < 1.0:
            raise ValueError("mask_size >= 4, embedding_dim >= 2 and dropout in [0, 1) required")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DetectorConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
