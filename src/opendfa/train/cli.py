"""`opendfa train detector ...`: argument parsing only; the work is in `opendfa.train.detector`.

The lead wires `add_train_commands(subparsers)` into `opendfa.cli`. Errors are one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from opendfa.console import cli_error

EXIT_OK, EXIT_INPUT = 0, 2


def add_train_commands(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add `train detector`; returns the `train` subcommands so others (generator, mllm) join."""
    train = commands.add_parser("train", help="train a model (detector, generator, mllm)")
    sub = train.add_subparsers(title="train commands", metavar="MODEL")
    detector = sub.add_parser("detector", help="train the multi-task deepfake detector")
    detector.add_argument("--train", required=True, metavar="MANIFEST", help="training manifest")
    detector.add_argument("--val", metavar="MANIFEST", help="validation manifest (early stopping)")
    detector.add_argument("--train-split", help="use only this split of --train (e.g. train)")
    detector.add_argument("--val-split", help="use only this split of --val (e.g. val)")
    detector.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    detector.add_argument("--epochs", type=int, default=20)
    detector.add_argument("--batch-size", type=int, default=32)
    detector.add_argument("--lr", type=float, default=1e-3)
    detector.add_argument("--optimizer", choices=("adamw", "sam"), default="adamw")
    detector.add_argument("--schedule", choices=("cosine", "linear"), default="cosine")
    detector.add_argument(
        "--sbi-prob",
        type=float,
        default=0.5,
        metavar="P",
        help="per real and epoch, probability of an extra self-blended fake",
    )
    detector.add_argument(
        "--adversarial",
        choices=("none", "constant", "alternating"),
        default="none",
        help="latent-space hard fakes and their loss schedule",
    )
    detector.add_argument(
        "--lambda",
        dest="lambda_",
        metavar="LAMBDA",
        type=float,
        default=0.9,
        help="CE weight of the constant schedule (1 - lambda: metric loss)",
    )
    detector.add_argument("--epsilon", type=float, default=4.0, help="latent L2 radius of PGD")
    detector.add_argument("--steps", type=int, default=10, help="PGD steps")
    detector.add_argument("--alternate-unit", choices=("epoch", "step"), default="epoch")
    detector.add_argument("--ce-length", type=int, default=1, help="CE phase length (alternating)")
    detector.add_argument("--metric-length", type=int, default=1, help="metric phase length")
    detector.add_argument("--generator", metavar="PATH", help="generator weights (.safetensors)")
    detector.add_argument("--input-size", type=int, default=224)
    detector.add_argument("--backbone", default="efficientnet_lite0")
    detector.add_argument(
        "--boundary-head", action="store_true", help="Face X-ray blending-boundary head"
    )
    detector.add_argument(
        "--flip-tta", action="store_true", help="average each crop with its mirror at inference"
    )
    detector.add_argument(
        "--freeze-blocks", type=int, default=0, help="freeze the stem and this many first blocks"
    )
    detector.add_argument("--no-pretrained", action="store_true", help="random initialisation")
    detector.add_argument("--device", default="cpu", help="cpu or cuda")
    detector.add_argument(
        "--grad-accum", type=int, default=1, help="batches per optimizer step (AdamW only)"
    )
    detector.add_argument(
        "--mixed-precision",
        default="auto",
        choices=("auto", "no", "bf16", "fp16"),
        help="autocast; auto: bf16 on CUDA, none on a CPU",
    )
    detector.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    detector.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    detector.add_argument("--patience", type=int, default=5)
    detector.add_argument("--seed", type=int, default=0)
    detector.add_argument("--resume", action="store_true", help="continue from DIR/train-state")
    detector.add_argument("--no-progress", action="store_true")
    detector.set_defaults(handler=_train_detector)
    return sub


def _train_detector(args: argparse.Namespace) -> int:
    from opendfa.data.dataset import CropError
    from opendfa.models.backbones import BACKBONES, BackboneError
    from opendfa.models.detector import DetectorConfig
    from opendfa.train.adversarial import AdversarialConfig
    from opendfa.train.detector import DetectorTrainConfig, train_detector

    for path in (args.train, args.val):
        if path is not None and not Path(path).is_file():
            cli_error(f"manifest not found ({path})")
            return EXIT_INPUT
    if args.backbone not in BACKBONES:
        cli_error(f"unknown backbone {args.backbone!r}; known: {', '.join(sorted(BACKBONES))}")
        return EXIT_INPUT
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            cli_error("--device cuda asked for but no CUDA device is available")
            return EXIT_INPUT
    try:
        config = DetectorTrainConfig(
            model=DetectorConfig(
                backbone=args.backbone,
                input_size=args.input_size,
                mask_size=max(4, args.input_size // 8),
                boundary_head=args.boundary_head,
                flip_tta=args.flip_tta,
            ),
            pretrained=not args.no_pretrained,
            freeze_blocks=args.freeze_blocks,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            optimizer=args.optimizer,
            schedule=args.schedule,
            sbi_prob=args.sbi_prob,
            adversarial=AdversarialConfig(
                schedule=args.adversarial,
                lambda_=args.lambda_,
                epsilon=args.epsilon,
                steps=args.steps,
                unit=args.alternate_unit,
                ce_length=args.ce_length,
                metric_length=args.metric_length,
                generator=args.generator,
            ),
            patience=args.patience,
            seed=args.seed,
            device=args.device,
            grad_accum=args.grad_accum,
            mixed_precision=args.mixed_precision,
            threads=args.threads,
            num_workers=args.workers,
            train_split=args.train_split,
            val_split=args.val_split,
            progress=not args.no_progress,
            resume=args.resume,
        )
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
