"""`opendfa bench`: argument parsing and printing; the work is in `opendfa.bench.runner`."""

from __future__ import annotations

import argparse
from pathlib import Path

from opendfa.cli_options import add_detector_option, add_endpoint_options, add_progress_option
from opendfa.console import cli_error
from opendfa.exits import EXIT_OK

ANSWERER_NAMES = ("detector", "openai", "dfa-gpt")


def add_bench_command(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser("bench", help="score an answerer on a DFA-Instruct split")
    bench.add_argument("--data", required=True, help="folder written by `opendfa instruct build`")
    # The names of `opendfa.bench.answerers.ANSWERERS`, written out so `--help` stays light.
    bench.add_argument("--answerer", choices=ANSWERER_NAMES, default="detector")
    bench.add_argument("--out", required=True, help="folder for answers.jsonl and results")
    bench.add_argument("--split", default="test")
    bench.add_argument("--tasks", nargs="+", default=["DF-D", "DF-C", "AD"])
    bench.add_argument(
        "--limit", type=int, default=None, help="records per task at most (the first ones)"
    )
    bench.add_argument(
        "--reals",
        nargs="+",
        metavar="N|TASK=N",
        help="a seeded sample instead: at most N reals per task (TASK=N for one task), "
        "e.g. --reals 274",
    )
    bench.add_argument(
        "--fakes",
        nargs="+",
        metavar="N|TASK=N",
        help="at most N fakes per task, stratified over forgery categories (TASK=N for one "
        "task), e.g. --fakes 526 AD=500",
    )
    bench.add_argument("--seed", type=int, default=0, help="of the sample and the bootstrap")
    bench.add_argument(
        "--resamples", type=int, default=1000, help="bootstrap resamples for the 95%% CIs (0: none)"
    )
    bench.add_argument(
        "--no-grounding",
        dest="grounding",
        action="store_false",
        help="skip checking AD/FC answers against the detector's evidence on each image",
    )
    add_detector_option(
        bench, "detector for --answerer detector (and the grounding evidence of --answerer openai)"
    )
    add_endpoint_options(bench, used_by="--answerer openai")
    bench.add_argument("--mllm", metavar="DIR", help="DFA-GPT folder for --answerer dfa-gpt")
    bench.add_argument("--batch-size", type=int, default=8, help="dfa-gpt: answers per batch")
    bench.add_argument("--int8", action="store_true", help="dfa-gpt: int8 linear layers")
    add_progress_option(bench)
    bench.set_defaults(handler=_bench)


def _bench(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from opendfa.bench.answerers import answerer_from_cli
    from opendfa.bench.runner import BenchConfig, run_bench

    try:
        reals, task_reals = _caps(args.reals, "--reals", args.tasks)
        fakes, task_fakes = _caps(args.fakes, "--fakes", args.tasks)
    except ValueError as err:
        return cli_error(str(err))
    if args.answerer == "dfa-gpt" and not args.mllm:
        return cli_error("--answerer dfa-gpt needs --mllm DIR (a folder from `opendfa train mllm`)")
    try:
        answerer = answerer_from_cli(args.answerer, args)
    except Exception as err:  # one line whatever the loader raises
        return cli_error(f"cannot start the {args.answerer} answerer: {err}")
    config = BenchConfig(
        split=args.split,
        tasks=tuple(args.tasks),
        limit=args.limit,
        reals=reals,
        fakes=fakes,
        task_reals=task_reals,
        task_fakes=task_fakes,
        seed=args.seed,
        resamples=args.resamples,
        grounding=args.grounding,
        evidence_model=args.model,
    )
    progress = None if args.no_progress else (lambda it: tqdm(list(it), desc="bench"))
    try:
        results = run_bench(args.data, answerer, args.out, config, progress=progress)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        return cli_error(str(err))
    print((Path(args.out) / "results.md").read_text(), end="")
    print(f"wrote {Path(args.out) / 'results.json'} ({results['seconds']} s)")
    return EXIT_OK


def _caps(
    values: list[str] | None, flag: str, tasks: list[str]
) -> tuple[int | None, dict[str, int] | None]:
    """`N` (every task) and `TASK=N` (one asked task) values of --reals / --fakes."""
    every, per_task = None, {}
    for value in values or []:
        task, _, number = value.rpartition("=")
        if not number.isdigit():
            raise ValueError(f"{flag} takes N or TASK=N with N >= 0, not {value!r}")
        if task and task not in tasks:
            raise ValueError(f"{flag} {value}: {task} is not asked (--tasks {' '.join(tasks)})")
        if task:
            per_task[task] = int(number)
        else:
            every = int(number)
    return every, per_task or None
