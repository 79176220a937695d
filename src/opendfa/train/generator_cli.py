"""`opendfa train generator`: argument parsing only; the work is in `opendfa.train.generator`."""

from __future__ import annotations

import argparse
from pathlib import Path

from opendfa.cli_options import Flag, add_config_flags, config_from_flags
from opendfa.console import cli_error
from opendfa.exits import EXIT_OK
from opendfa.train.configs import GeneratorTrainConfig

GENERATOR_FLAGS = {
    "epochs": Flag(help="the shipped model's schedule"),
    "lr_final": Flag(help="cosine decay to this"),
    "low_quality_weight": Flag(help="how often crops flagged quality low are drawn"),
    "prior_copies": Flag(help="augmented copies per crop whose codes fit the sampling prior"),
    "checkpoint_every": Flag(help="epochs between checkpoints"),
    "threads": Flag(default=1, help="torch CPU threads"),
}


def add_generator_command(train_commands: argparse._SubParsersAction) -> None:
    command = train_commands.add_parser(
        "generator", help="train the face VAE behind entire-face synthesis"
    )
    command.add_argument(
        "--faces", required=True, help="folder written by scripts/gather_real_faces.py"
    )
    command.add_argument(
        "--out", required=True, help="weights to write (.safetensors; a .json goes beside)"
    )
    command.add_argument("--size", type=int, default=64, help="crop size the VAE works at")
    add_config_flags(command, GeneratorTrainConfig, GENERATOR_FLAGS)
    command.set_defaults(handler=_train_generator)


def _train_generator(args: argparse.Namespace) -> int:
    import torch

    from opendfa.train.generator import prepare_crops, train_generator

    faces = Path(args.faces)
    if not (faces / "faces.json").exists():
        hint = f"run scripts/gather_real_faces.py --out {faces}"
        return cli_error(f"no faces.json index; {hint}", faces)
    torch.set_num_threads(args.threads)
    crops = prepare_crops(faces, size=args.size)
    config = config_from_flags(args, GeneratorTrainConfig)
    out = Path(args.out).with_suffix(".safetensors")
    result = train_generator(crops, config, checkpoint=out.with_name(out.stem + "-checkpoint"))
    facts = {
        "identities": len(set(crops.identities)),
        "crops": len(crops),
        "final_losses": result.final,
    }
    path = result.model.save(out, metadata=facts)
    print(f"wrote {path} ({len(crops)} crops, {config.epochs} epochs, {result.seconds:.0f} s)")
    return EXIT_OK
