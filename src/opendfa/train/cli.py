"""`opendfa train detector ...`: argument parsing only; the work is in `opendfa.train.detector`.

The lead wires `add_train_commands(subparsers)` into `opendfa.cli`. Errors are one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from opendfa.cli_options import Flag, add_config_flags, config_from_flags
from opendfa.console import cli_error
from opendfa.exits import EXIT_INPUT, EXIT_OK
from opendfa.train.configs import SCHEDULES, DetectorTrainConfig

DETECTOR_FLAGS = {
    "model.backbone": Flag(aliases=("backbone",), help="efficientnet_lite0, lite2, mobilenetv2"),
    "model.input_size": Flag(aliases=("input-size",), help="crop side in pixels (x32)"),
    "model.mask_size": Flag(default=None, help="mask side (default: input size / 8, >= 4)"),
    "model.boundary_head": Flag(aliases=("boundary-head",), help="Face X-ray boundary head"),
    "model.flip_tta": Flag(
        aliases=("flip-tta",), help="average each crop with its mirror at inference"
    ),
    "pretrained": Flag(help="start from ImageNet weights (--no-pretrained: random init)"),
    "lr": Flag(help="AdamW learning rate"),
    "head_lr_scale": Flag(help="heads' learning rate relative to the backbone's"),
    "optimizer": Flag(choices=("adamw", "sam"), help="adamw, or sam (SAM around AdamW)"),
    "schedule": Flag(choices=("cosine", "linear"), help="decay after a linear warm-up"),
    "decay_start": Flag(help="linear: fraction of training before the decay"),
    "sbi_prob": Flag(metavar="P", help="per real and epoch, chance of an extra self-blended fake"),
    "adversarial.schedule": Flag(
        aliases=("adversarial",),
        choices=SCHEDULES,
        help="latent-space hard fakes and their loss schedule",
    ),
    "adversarial.lambda_": Flag(
        aliases=("lambda",),
        metavar="LAMBDA",
        help="CE weight of the constant schedule (1 - lambda: metric loss)",
    ),
    "adversarial.epsilon": Flag(aliases=("epsilon",), help="latent L2 radius of PGD"),
    "adversarial.steps": Flag(aliases=("steps",), help="PGD steps"),
    "adversarial.random_start": Flag(help="random start, as a fraction of epsilon"),
    "adversarial.margin": Flag(help="metric-loss margin on squared embedding distances"),
    "adversarial.unit": Flag(aliases=("alternate-unit",), choices=("epoch", "step")),
    "adversarial.ce_length": Flag(aliases=("ce-length",), help="CE phase length (alternating)"),
    "adversarial.metric_length": Flag(aliases=("metric-length",), help="metric phase length"),
    "adversarial.generator": Flag(
        aliases=("generator",), metavar="PATH", help="generator weights (default: the shipped)"
    ),
    "patience": Flag(help="stop after this many epochs without a better validation AUC"),
    "device": Flag(help="cpu or cuda"),
    "threads": Flag(help="torch CPU threads"),
    "num_workers": Flag(aliases=("workers",), help="DataLoader worker processes"),
    "train_split": Flag(help="use only this split of --train (e.g. train)"),
    "val_split": Flag(help="use only this split of --val (e.g. val)"),
    "cache_dir": Flag(metavar="DIR", help="aligned-crop cache (default: beside the manifest)"),
    "grad_accum": Flag(help="batches per optimizer step (AdamW only)"),
    "mixed_precision": Flag(
        name="precision",
        aliases=("mixed-precision",),
        choices=("auto", "no", "bf16", "fp16"),
        help="autocast; auto: bf16 on CUDA, none on a CPU",
    ),
    "freeze_blocks": Flag(help="freeze the stem and this many first blocks"),
    "resume": Flag(help="continue from DIR/train-state"),
}


def add_train_commands(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add `train detector`; returns the `train` subcommands so others (generator, mllm) join."""
    train = commands.add_parser("train", help="train a model (detector, generator, mllm)")
    sub = train.add_subparsers(title="train commands", metavar="MODEL")
    detector = sub.add_parser("detector", help="train the multi-task deepfake detector")
    detector.add_argument("--train", required=True, metavar="MANIFEST", help="training manifest")
    detector.add_argument("--val", metavar="MANIFEST", help="validation manifest (early stopping)")
    detector.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    add_config_flags(detector, DetectorTrainConfig, DETECTOR_FLAGS)
    detector.set_defaults(handler=_train_detector)
    return sub


def _train_detector(args: argparse.Namespace) -> int:
    from opendfa.data.dataset import CropError
    from opendfa.models.backbones import BACKBONES, BackboneError
    from opendfa.train.detector import train_detector

    for path in (args.train, args.val):
        if path is not None and not Path(path).is_file():
            cli_error(f"manifest not found ({path})")
            return EXIT_INPUT
    flags = vars(args)
    backbone = flags["model.backbone"]
    if backbone not in BACKBONES:
        cli_error(f"unknown backbone {backbone!r}; known: {', '.join(sorted(BACKBONES))}")
        return EXIT_INPUT
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            cli_error("--device cuda asked for but no CUDA device is available")
            return EXIT_INPUT
    if flags["model.mask_size"] is None:  # the mask follows the crop unless asked otherwise
        flags["model.mask_size"] = max(4, flags["model.input_size"] // 8)
    try:
        config = config_from_flags(args, DetectorTrainConfig)
        result = train_detector(args.train, args.val, args.out, config)
    except (ValueError, FileNotFoundError, CropError, BackboneError) as err:
        cli_error(str(err))
        return EXIT_INPUT
    summary = {
        "folder": str(result.folder),
        "best_epoch": result.best_epoch,
        "best_auc": result.best_auc,
        "temperature": result.temperature,
        "ece_before": result.metrics.get("ece_before"),
        "ece_after": result.metrics.get("ece_after"),
        "epochs_run": len(result.history),
        "seconds": round(result.seconds, 1),
    }
    if os.environ.get("RANK", "0") == "0":  # once, however many processes train
        print(json.dumps(summary))
    return EXIT_OK
