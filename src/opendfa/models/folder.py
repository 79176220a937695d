"""A saved model's files: safetensors weights beside a JSON config that records their sha256.

Every model OpenDFA saves is written this way: the detector and the forensic stream
(`config.json` + `model.safetensors`), DFA-GPT (`config.json` + `trainable.safetensors`) and
the generator (`<name>.safetensors` + `<name>.json`, the format of the bundled one). The
weights are written first, then the config with their sha256 under `weights_sha256`, each
atomically (`opendfa.safe_files`), so a reader never sees half a file; a load checks the
weights against the recorded sha256. A folder written before the sha256 was recorded has
none, and loads without the check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import nn

from opendfa.media.files import file_sha256
from opendfa.safe_files import replacing, write_json_atomic

SHA256_KEY = "weights_sha256"


def save_state(model: nn.Module, path: Path, format_name: str) -> None:
    """The model's state dict as safetensors at `path` (CPU, contiguous tensors), in place:
    the `write` of `save_model_files`, which makes it atomic."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": format_name})


def write_weights(model: nn.Module, path: Path, format_name: str) -> Path:
    """`save_state`, atomically."""
    with replacing(path) as temporary:
        save_state(model, temporary, format_name)
    return path


def write_json(path: Path, info: dict[str, Any], default: Any = None) -> None:
    """`info` as indented JSON at `path`, atomically."""
    write_json_atomic(path, info, default=default)


def save_model_files(
    weights: Path,
    write: Callable[[Path], None],
    config: Path,
    info: dict[str, Any],
    *,
    default: Any = None,
) -> dict[str, Any]:
    """Write the weights (`write` fills the temporary path it is given), then `info` with
    their sha256 as the config; returns what the config holds."""
    with replacing(weights) as temporary:
        write(temporary)
    info = {**info, SHA256_KEY: file_sha256(weights)}
    write_json(config, info, default)
    return info


def read_config(path: Path, what: str) -> dict[str, Any]:
    """The parsed JSON config at `path`; ValueError (naming `what` it should be) when it does
    not parse or is not an object."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"unreadable {what} config ({path}): {err}") from None
    if not isinstance(info, dict):
        raise ValueError(f"not a {what} config ({path})")
    return info


def checked_sha256(weights: Path, info: dict[str, Any]) -> str:
    """The weights' sha256; ValueError when the config records another one (a config that
    records none, from an older folder, is accepted)."""
    digest = file_sha256(weights)
    if info.get(SHA256_KEY) not in (None, digest):
        raise ValueError(f"weights do not match the sha256 recorded in their config ({weights})")
    return digest
