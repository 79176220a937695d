"""Reproduce the forensic stream (issue 26): real faces -> forged faces with masks -> patches.

    .venv/bin/python scripts/gather_real_faces.py          # once: real photos into .cache
    .venv/bin/opendfa data synth --faces .cache/real-faces --out runs/forensic-data \
        --methods face_editing face_reenactment face_swap --per-face 1
    .venv/bin/python scripts/train_forensic.py --manifest runs/forensic-data/manifest.jsonl \
        --out runs/forensic --steps 6000

Every field of `ForensicTrainConfig` is a flag (`--batch-size 24`, `--model.width 32`).
Interrupted runs resume from `OUT/state` when started again with the same `--out`; the log is
`OUT/log.jsonl` and the finished model folder `OUT/model`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from opendfa.models.forensic import ForensicConfig
from opendfa.train.forensic import ForensicTrainConfig, train_forensic


def _flags(parser: argparse.ArgumentParser, config: Any, prefix: str = "") -> None:
    """One flag per dataclass field, typed from its default; nested dataclasses get a dot."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        name = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            _flags(parser, value, prefix=f"{name}.")
        elif isinstance(value, tuple):
            parser.add_argument(f"--{name.replace('_', '-')}", nargs="+", default=list(value))
        else:
            kind = type(value) if value is not None and value != "" else str
            parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=value)


def _config(args: argparse.Namespace) -> ForensicTrainConfig:
    values = vars(args)
    model = ForensicConfig(
        **{f.name: values[f"model.{f.name}"] for f in dataclasses.fields(ForensicConfig)}
    )
    top = {
        f.name: tuple(values[f.name]) if isinstance(values[f.name], list) else values[f.name]
        for f in dataclasses.fields(ForensicTrainConfig)
        if f.name != "model"
    }
    return ForensicTrainConfig(**top, model=model)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _flags(parser, ForensicTrainConfig())
    config = _config(parser.parse_args(argv))
    if not config.manifest:
        parser.error("--manifest is required")
    folder = train_forensic(config)
    print(f"model: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
