"""`opendfa train mllm`: argument parsing only; the work is in `opendfa.train.mllm`."""

from __future__ import annotations

import argparse
import json
import os
import sys

from opendfa.console import cli_error

EXIT_OK, EXIT_INPUT = 0, 2


def add_mllm_command(train_commands: argparse._SubParsersAction) -> None:
    command = train_commands.add_parser(
        "mllm", help="instruction-tune DFA-GPT (vision encoder + projector + LM with LoRA)"
    )
    command.add_argument("--data", required=True, help="folder written by `opendfa instruct build`")
    command.add_argument("--out", required=True, help="model folder to write (resumes if present)")
    command.add_argument(
        "--lm", default="gemma-3-270m", help="gemma-3-270m (converted once) or a local HF folder"
    )
    command.add_argument(
        "--detector", default="opendfa-lite0", help="whose backbone sees the image"
    )
    command.add_argument(
        "--tasks", nargs="+", default=["DF-D", "DF-C", "AD"], help="DF-D DF-C AD FC"
    )
    command.add_argument(
        "--evidence", action="store_true", help="put the detector's numbers into the prompt"
    )
    command.add_argument("--epochs", type=float, default=1.0)
    command.add_argument("--max-records", type=int, default=None, help="train on a subset")
    command.add_argument(
        "--no-balance",
        action="store_true",
        help="keep the data's class ratios (default: rarer answers repeated to even them per task)",
    )
    command.add_argument("--batch-size", type=int, default=4)
    command.add_argument("--grad-accum", type=int, default=4, help="micro-batches per step")
    command.add_argument("--lr", type=float, default=2e-4, help="LoRA learning rate")
    command.add_argument("--projector-lr", type=float, default=1e-3)
    command.add_argument("--lora-r", type=int, default=128)
    command.add_argument("--lora-alpha", type=int, default=256)
    command.add_argument(
        "--projector-steps", type=int, default=0, help="stage 1: projector-only steps first"
    )
    command.add_argument("--max-length", type=int, default=448, help="tokens per conversation")
    command.add_argument("--val-records", type=int, default=48)
    command.add_argument(
        "--stop-at", type=int, default=None, help="end at this step, keeping the full schedule"
    )
    command.add_argument(
        "--init", default=None, help="start from the weights of this DFA-GPT folder"
    )
    command.add_argument("--save-every", type=int, default=25, help="checkpoint every N steps")
    command.add_argument("--device", default="auto", help="auto, cpu or cuda")
    command.add_argument(
        "--precision",
        choices=("auto", "no", "bf16"),
        default="auto",
        help="autocast: auto (bf16 on CUDA, float32 on CPU), bf16 (also on a CPU), no",
    )
    command.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--no-progress", action="store_true")
    command.set_defaults(handler=_train_mllm)


def _train_mllm(args: argparse.Namespace) -> int:
    import torch

    from opendfa.models.detector import DetectorNotFoundError
    from opendfa.models.lm import LMError
    from opendfa.train.mllm import MLLMTrainConfig, train_mllm

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return cli_error("--device cuda asked for but no CUDA device is available")
    config = MLLMTrainConfig(
        data=args.data,
        out=args.out,
        lm=args.lm,
        detector=args.detector,
        tasks=tuple(args.tasks),
        evidence=args.evidence,
        epochs=args.epochs,
        max_records=args.max_records,
        balance=not args.no_balance,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        lr=args.lr,
        projector_lr=args.projector_lr,
        lora_r=args.lora_r,
        lora_alpha=args.lora_alpha,
        projector_steps=args.projector_steps,
        max_length=args.max_length,
        val_records=args.val_records,
        save_every=args.save_every,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        stop_at=args.stop_at,
        init=args.init,
    )
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    try:
        summary = train_mllm(config, progress=not args.no_progress, log=log)
    except ImportError as err:
        return cli_error(f"{err}; install the LLM extra: pip install -e '.[llm]'")
    except (FileNotFoundError, ValueError, LMError, DetectorNotFoundError, KeyError) as err:
        return cli_error(str(err))
    shown = {k: summary[k] for k in ("train_conversations", "steps", "train_seconds")}
    if os.environ.get("RANK", "0") == "0":  # once, however many processes train
        print(
            json.dumps({"folder": args.out, **shown, "validation": summary["validation"]}, indent=1)
        )
    return EXIT_OK
