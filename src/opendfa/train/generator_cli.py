"""`opendfa train generator`: argument parsing only; the work is in `opendfa.train.generator`."""

from __future__ import annotations

import argparse
from pathlib import Path

from opendfa.console import cli_error

EXIT_OK, EXIT_INPUT = 0, 2


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
    command.add_argument(
        "--epochs", type=int, default=None, help="default: the shipped model's 320"
    )
    command.add_argument("--size", type=int, default=64, help="crop size the VAE works at")
    command.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    command.add_argument("--seed", type=int, default=0)
    command.set_defaults(handler=_train_generator)


def _train_generator(args: argparse.Namespace) -> int:
    import torch

    from opendfa.train.generator import GeneratorTrainConfig, prepare_crops, train_generator

    faces = Path(args.faces)
    if not (faces / "faces.json").exists():
        hint = f"run scripts/gather_real_faces.py --out {faces}"
        return cli_error(f"no faces.json index; {hint}", faces)
    torch.set_num_threads(args.threads)
    crops = prepare_crops(faces, size=args.size)
    defaults = GeneratorTrainConfig()
    config = GeneratorTrainConfig(
        epochs=args.epochs or defaults.epochs, threads=args.threads, seed=args.seed
    )
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
