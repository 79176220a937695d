"""`opendfa train mllm`: argument parsing only; the work is in `opendfa.train.mllm`."""

from __future__ import annotations

import argparse
import json
import os
import sys

from opendfa.cli_options import Flag, add_config_flags, add_progress_option, config_from_flags
from opendfa.console import cli_error
from opendfa.exits import EXIT_OK
from opendfa.train.configs import MLLMTrainConfig

MLLM_FLAGS = {
    "data": Flag(metavar="DIR", help="folder written by `opendfa instruct build`"),
    "out": Flag(metavar="DIR", help="model folder to write (resumes if present)"),
    "lm": Flag(help="gemma-3-270m (converted once) or a local HF folder"),
    "detector": Flag(metavar="NAME|PATH", help="whose backbone sees the image"),
    "tasks": Flag(metavar="TASK", help="DF-D DF-C AD FC"),
    "evidence": Flag(help="put the detector's numbers into the prompt"),
    "evidence_version": Flag(
        choices=(1, 2), help="2: the cue-aware line of a data folder built with --evidence-model"
    ),
    "max_records": Flag(help="train on a seeded, task-proportional subset"),
    "balance": Flag(help="repeat rarer answers to even the classes per task"),
    "grad_accum": Flag(help="micro-batches per step"),
    "lr": Flag(help="LoRA learning rate"),
    "projector_lr": Flag(help="projector learning rate"),
    "projector_steps": Flag(help="stage 1: projector-only steps first"),
    "max_length": Flag(help="tokens per conversation"),
    "val_records": Flag(help="validation conversations"),
    "save_every": Flag(help="checkpoint every N steps"),
    "device": Flag(help="auto, cpu or cuda"),
    "precision": Flag(
        choices=("auto", "no", "bf16"),
        help="autocast: auto (bf16 on CUDA, float32 on CPU), bf16 (also on a CPU), no",
    ),
    "stop_at": Flag(help="end at this step, keeping the full schedule"),
    "vision_cache": Flag(help="cache image features under DATA/vision-cache"),
    "init": Flag(metavar="DIR", help="start from the weights of this DFA-GPT folder"),
}


def add_mllm_command(train_commands: argparse._SubParsersAction) -> None:
    command = train_commands.add_parser(
        "mllm", help="instruction-tune DFA-GPT (vision encoder + projector + LM with LoRA)"
    )
    add_config_flags(command, MLLMTrainConfig, MLLM_FLAGS)
    command.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    add_progress_option(command)
    command.set_defaults(handler=_train_mllm)


def _train_mllm(args: argparse.Namespace) -> int:
    import torch

    from opendfa.models.detector import DetectorNotFoundError
    from opendfa.models.lm import LMError
    from opendfa.train.mllm import train_mllm

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        return cli_error("--device cuda asked for but no CUDA device is available")
    config = config_from_flags(args, MLLMTrainConfig)
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
