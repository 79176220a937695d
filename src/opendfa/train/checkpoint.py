"""The one resumable training state of every trainer: safetensors for tensors, JSON for the rest.

`<stem>.safetensors` holds the weights (`model.*`, left out for models that save their own
trainable weights, e.g. DFA-GPT), the optimizer's per-parameter tensors keyed by parameter name
(`optim.<parameter name>.<key>`, e.g. AdamW's moments) and any extra tensors a trainer keeps
(`extra.<name>`: RNG states); `<stem>.json` holds the optimizer's scalar state (steps), its
parameter groups' hyper-parameters (learning rates), the learning-rate scheduler's state, and
the trainer's own counters, history and config. Nothing is pickled, so loading a state can
never run code; both files are replaced atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from opendfa.safe_files import replacing, write_json_atomic

STATE_FORMAT = "opendfa.train-state/1"
# The detector's state before the one engine: the same tensors and JSON, read as they are.
READABLE_FORMATS = (STATE_FORMAT, "opendfa.detector-train-state/1")
_GROUP_KEYS = ("lr", "initial_lr", "weight_decay", "lr_scale")


def _base(optimizer: Any) -> torch.optim.Optimizer:
    """The torch optimizer inside a wrapper (SAM, accelerate's AcceleratedOptimizer)."""
    while hasattr(optimizer, "base") or hasattr(optimizer, "optimizer"):
        optimizer = getattr(optimizer, "base", None) or optimizer.optimizer
    return optimizer


def paths(stem: str | Path) -> tuple[Path, Path]:
    """(tensors, JSON) file of a state: `stem.safetensors` and `stem.json`."""
    stem = Path(stem)
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def exists(stem: str | Path) -> bool:
    return paths(stem)[1].is_file()


def save_state(
    stem: str | Path,
    model: nn.Module,
    optimizer: Any,
    info: dict[str, Any],
    *,
    scheduler: Any = None,
    extra: dict[str, torch.Tensor] | None = None,
    weights: bool = True,
) -> Path:
    """Write the state; returns the tensors file."""
    tensors_path, json_path = paths(stem)
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    names = {id(p): name for name, p in model.named_parameters()}
    base = _base(optimizer)
    tensors: dict[str, torch.Tensor] = {}
    if weights:
        tensors = {
            f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()
        }
    scalars: dict[str, dict[str, float]] = {}
    for param, state in base.state.items():
        name = names[id(param)]
        for key, value in state.items():
            if torch.is_tensor(value) and value.ndim > 0:
                tensors[f"optim.{name}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(name, {})[key] = float(value)
    for key, value in (extra or {}).items():
        tensors[f"extra.{key}"] = value.detach().cpu().contiguous()
    groups = [{k: g[k] for k in _GROUP_KEYS if k in g} for g in base.param_groups]
    payload = {
        "format": STATE_FORMAT,
        **info,
        "optimizer_scalars": scalars,
        "param_groups": groups,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
    }
    with replacing(tensors_path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": STATE_FORMAT})
    write_json_atomic(json_path, payload, default=str)
    return tensors_path


def read_info(stem: str | Path) -> dict[str, Any]:
    """The JSON half of a state (counters, history, config), checked for its format."""
    json_path = paths(stem)[1]
    info = json.loads(json_path.read_text())
    if info.get("format") not in READABLE_FORMATS:
        raise ValueError(f"not an OpenDFA training state ({json_path})")
    return info


def load_state(
    stem: str | Path, model: nn.Module, optimizer: Any, *, scheduler: Any = None
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Restore `save_state`'s weights (when saved), optimizer and scheduler state; returns its
    JSON and its extra tensors."""
    info = read_info(stem)
    tensors = load_file(str(paths(stem)[0]))
    device = next(model.parameters()).device
    weights = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    if weights:
        model.load_state_dict(weights)
    base = _base(optimizer)
    for name, param in model.named_parameters():
        prefix = f"optim.{name}."
        state: dict[str, Any] = {
            key.removeprefix(prefix): value.to(device)
            for key, value in tensors.items()
            if key.startswith(prefix) and "." not in key[len(prefix) :]
        }
        for key, value in info["optimizer_scalars"].get(name, {}).items():
            state[key] = torch.tensor(value)
        if state:
            base.state[param] = state
    for group, saved in zip(base.param_groups, info.get("param_groups", []), strict=False):
        group.update(saved)
    if scheduler is not None and info.get("scheduler") is not None:
        scheduler.load_state_dict(info["scheduler"])
    extra = {k.removeprefix("extra."): v for k, v in tensors.items() if k.startswith("extra.")}
    return info, extra
