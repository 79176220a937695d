"""Resumable training state of the detector: safetensors for tensors, JSON for the rest.

`state.safetensors` holds the current weights (`model.*`) and the optimizer's per-parameter
tensors (`optim.<parameter name>.<key>`, e.g. AdamW's moments); `state.json` holds the
optimizer's scalar state (steps), the epoch and step counters, early-stopping counters, the
history and the training config. Nothing is pickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from opendfa.train.sam import SAM

STATE_FORMAT = "opendfa.detector-train-state/1"


def _base(optimizer: torch.optim.Optimizer | SAM) -> torch.optim.Optimizer:
    return optimizer.base if isinstance(optimizer, SAM) else optimizer


def save_state(
    folder: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | SAM,
    info: dict[str, Any],
) -> None:
    """Weights and optimizer moments as safetensors, counters and history as JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    names = {id(p): name for name, p in model.named_parameters()}
    base = _base(optimizer)
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    scalars: dict[str, dict[str, float]] = {}
    for param, state in base.state.items():
        name = names[id(param)]
        for key, value in state.items():
            if torch.is_tensor(value) and value.ndim > 0:
                tensors[f"optim.{name}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(name, {})[key] = float(value)
    tmp = folder / "state.tmp.safetensors"
    save_file(tensors, str(tmp), metadata={"format": STATE_FORMAT})
    tmp.replace(folder / "state.safetensors")
    payload = {"format": STATE_FORMAT, **info, "optimizer_scalars": scalars}
    (folder / "state.tmp.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
    (folder / "state.tmp.json").replace(folder / "state.json")


def load_state(
    folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer | SAM
) -> dict[str, Any]:
    """Restore `save_state`'s weights and optimizer moments; returns its JSON."""
    info = json.loads((folder / "state.json").read_text())
    if info.get("format") != STATE_FORMAT:
        raise ValueError(f"not a detector training state ({folder / 'state.json'})")
    tensors = load_file(str(folder / "state.safetensors"))
    device = next(model.parameters()).device
    model.load_state_dict(
        {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    )
    base = _base(optimizer)
    for name, param in model.named_parameters():
        state = {
            key.removeprefix(f"optim.{name}."): value.to(device)
            for key, value in tensors.items()
            if key.startswith(f"optim.{name}.") and "." not in key[len(f"optim.{name}.") :]
        }
        for key, value in info["optimizer_scalars"].get(name, {}).items():
            state[key] = torch.tensor(value)
        if state:
            base.state[param] = state
    return info
