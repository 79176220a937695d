"""`opendfa instruct build|stats`: argument parsing and printing; the work is in `build`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from opendfa.cli_options import add_progress_option
from opendfa.console import cli_error
from opendfa.exits import EXIT_OK


def add_instruct_commands(commands: argparse._SubParsersAction) -> None:
    instruct = commands.add_parser("instruct", help="build and inspect DFA-Instruct datasets")
    sub = instruct.add_subparsers(title="instruct commands", metavar="ACTION")
    build = sub.add_parser("build", help="DF-D, DF-C, AD and FC conversations from a manifest")
    build.add_argument("manifest", help="manifest (JSONL) with splits")
    build.add_argument("--out", required=True, help="output folder")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--size", type=int, default=256, help="aligned crop size in pixels")
    build.add_argument("--tasks", nargs="+", default=None, help="DF-D DF-C AD FC (default all)")
    build.add_argument(
        "--llm-url", help="OpenAI-compatible endpoint: rewrite AD with an LLM (checked)"
    )
    build.add_argument("--llm-model", default="gpt-4o")
    build.add_argument("--llm-rpm", type=float, default=60.0, help="requests per minute")
    build.add_argument(
        "--llm-usd-per-1k",
        type=float,
        nargs=2,
        default=(0.0, 0.0),
        metavar=("PROMPT", "COMPLETION"),
        help="prices for the cost tally",
    )
    build.add_argument(
        "--evidence-model",
        help="detector (name or folder) whose evidence line DFA-GPT will read: each image is "
        "judged once, and descriptions say only what that evidence shows",
    )
    build.add_argument(
        "--evidence-version", type=int, default=2, choices=(1, 2), help="evidence line version"
    )
    add_progress_option(build)
    build.set_defaults(handler=_build)
    stats = sub.add_parser("stats", help="the statistics table of a built dataset")
    stats.add_argument("folder")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=_stats)


def _build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from opendfa.instruct.build import InstructConfig, build_instruct
    from opendfa.instruct.templates import TASKS

    if not Path(args.manifest).is_file():
        return cli_error(f"manifest not found ({args.manifest})")
    llm = None
    if args.llm_url:
        import os

        from opendfa.instruct.llm import LLMConfig

        llm = LLMConfig(
            base_url=args.llm_url,
            model=args.llm_model,
            api_key=os.environ.get("OPENAI_API_KEY"),
            cache_dir=Path(args.out) / "llm-cache",
            requests_per_minute=args.llm_rpm,
            usd_per_1k_prompt=args.llm_usd_per_1k[0],
            usd_per_1k_completion=args.llm_usd_per_1k[1],
        )
    config = InstructConfig(
        seed=args.seed,
        crop_size=args.size,
        tasks=tuple(args.tasks or TASKS),
        llm=llm,
        evidence_model=args.evidence_model,
        evidence_version=args.evidence_version,
    )
    progress = None if args.no_progress else (lambda it: tqdm(list(it), desc="instruct"))
    try:
        report = build_instruct(args.manifest, args.out, config, progress=progress)
    except ValueError as err:
        return cli_error(str(err))
    for problem in report.problems:
        cli_error(problem)
    tasks = ", ".join(f"{k} {v}" for k, v in sorted(report.per_task.items()))
    print(
        f"wrote {report.records} records ({tasks}) in {report.seconds:.1f} s; images "
        f"{report.images} new, measurements {report.measured} new, {report.reused} reused; "
        f"{len(report.problems)} problem(s); {Path(args.out) / 'instruct.jsonl'}"
    )
    if args.evidence_model:
        print(f"evidence: {report.unsupported} AD/FC record(s) left out, not held by it")
    if report.llm is not None:
        t = report.llm
        print(
            f"llm: {t.requests} requests, {t.cache_hits} cached, {t.accepted} accepted, "
            f"{t.rejected} rejected, {t.dropped} dropped, {t.failed} failed; tokens "
            f"{t.prompt_tokens} + {t.completion_tokens}, ${t.usd:.4f}"
        )
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    from opendfa.instruct.build import dataset_stats

    if not (Path(args.folder) / "instruct.jsonl").exists():
        return cli_error(f"no instruct.jsonl in {args.folder}")
    stats = dataset_stats(args.folder)
    if args.json:
        print(json.dumps(stats, indent=1))
        return EXIT_OK
    print(format_stats(stats))
    return EXIT_OK


def format_stats(stats: dict) -> str:
    """The DFA paper's statistics table: images, QA pairs per task, splits, category mix."""
    total_qa = sum(stats["qa_per_task"].values())
    images = stats["images"]
    lines = [f"images: {images}   QA pairs: {total_qa}", "", "task    QA pairs"]
    for task in ("DF-D", "DF-C", "AD", "FC"):
        lines.append(f"{task:<7} {stats['qa_per_task'].get(task, 0):>9}")
    lines += ["", "split   images   QA pairs   share of QA"]
    for split in ("train", "val", "test"):
        qa = stats["qa_per_split"].get(split, 0)
        share = 100 * qa / total_qa if total_qa else 0.0
        lines.append(
            f"{split:<7} {stats['images_per_split'].get(split, 0):>6} {qa:>10} {share:>12.1f} %"
        )
    lines += ["", "category                 images   share"]
    for category, count in sorted(stats["categories"].items(), key=lambda kv: -kv[1]):
        lines.append(f"{category:<24} {count:>6} {100 * count / max(images, 1):>6.1f} %")
    return "\n".join(lines)
