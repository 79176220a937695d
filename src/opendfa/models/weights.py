"""Writing a model folder's files atomically: a reader never sees half a file.

Each is written to a temporary name beside its target and then renamed over it, so a crash
mid-write leaves the previous file (or none), never a torn one. Shared by every model folder
that holds safetensors weights beside a JSON config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import nn


def write_weights(model: nn.Module, path: Path, format_name: str) -> Path:
    """The model's state dict as safetensors at `path` (CPU, contiguous tensors)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"format": format_name})
    tmp.replace(path)
    return path


def write_json(path: Path, info: dict[str, Any], default: Any = None) -> None:
    """`info` as indented JSON at `path`."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=1, default=default) + "\n", encoding="utf-8")
    tmp.replace(path)
