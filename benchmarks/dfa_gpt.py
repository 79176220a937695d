"""DFA-GPT on DFA-Bench: the untuned base, the task ablation (DF-D, +DF-C, +AD), the evidence
variant, and the detector-backed answerer on the same test records; writes benchmarks/dfa_gpt.md.

    python benchmarks/dfa_gpt.py --data .cache/instruct-synth --work runs/dfa-gpt-bench

Every stage is resumable (a finished training or bench folder is reused). The scale is set by
`--records` (training conversations per run, the same for every row so that the ablation
compares tasks at equal compute) and `--limit` (test records per task).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

from opendfa.bench.answerers import DetectorAnswerer, DFAGPTAnswerer
from opendfa.bench.runner import BenchConfig, run_bench
from opendfa.models import dfagpt
from opendfa.train.mllm import MLLMTrainConfig, train_mllm

ROWS = [
    # name, training tasks, evidence in the prompt, bench tasks
    ("DF-D", ("DF-D",), False, ("DF-D",)),
    ("DF-D + DF-C", ("DF-D", "DF-C"), False, ("DF-D", "DF-C")),
    ("DF-D + DF-C + AD", ("DF-D", "DF-C", "AD"), False, ("DF-D", "DF-C", "AD")),
    ("DF-D + DF-C + AD, evidence", ("DF-D", "DF-C", "AD"), True, ("DF-D", "DF-C", "AD")),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=".cache/instruct-synth")
    parser.add_argument("--work", default="runs/dfa-gpt-bench")
    parser.add_argument("--records", type=int, default=320)
    parser.add_argument("--limit", type=int, default=80)
    parser.add_argument("--ad-limit", type=int, default=32, help="AD records (long answers)")
    parser.add_argument("--untuned-limit", type=int, default=16, help="it never stops talking")
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument(
        "--no-balance", action="store_true", help="train on the data's real:fake ratio (~1:10)"
    )
    parser.add_argument("--out", default="benchmarks/dfa_gpt.md")
    args = parser.parse_args()
    work = Path(args.work)
    base = MLLMTrainConfig(
        data=args.data,
        out="",
        max_records=args.records,
        batch_size=4,
        grad_accum=2,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        val_records=32,
        balance=not args.no_balance,
    )
    results = {"untuned base": _bench_untuned(base, work, args)}
    trainings = {}
    for name, tasks, evidence, bench_tasks in ROWS:
        folder = work / _slug(name)
        config = replace(base, out=str(folder / "model"), tasks=tasks, evidence=evidence)
        if not (folder / "model" / "summary.json").is_file():
            train_mllm(config, progress=False)
        trainings[name] = json.loads((folder / "model" / "summary.json").read_text())
        answerer = DFAGPTAnswerer(folder / "model")
        results[name] = _bench(args, answerer, folder / "bench", bench_tasks)
        del answerer
    results["detector answerer"] = _bench(
        args, DetectorAnswerer(), work / "detector" / "bench", ("DF-D", "DF-C", "AD")
    )
    Path(args.out).write_text(_markdown(results, trainings, args))
    print(Path(args.out).read_text())


def _bench_untuned(base: MLLMTrainConfig, work: Path, args) -> dict:
    """The base LM with a fresh projector and zero-initialised adapters (no training)."""
    folder = work / "untuned"
    if not (folder / "bench" / "results.json").is_file():
        config = replace(base, out=str(folder / "model"))
        trainer_config = dfagpt.DFAGPTConfig(
            lm=config.lm,
            detector=config.detector,
            lora={"r": args.lora_r, "alpha": 2 * args.lora_r},
        )
        torch.manual_seed(0)
        loaded = dfagpt.build(trainer_config)
        loaded.model.eval()
        answerer = DFAGPTAnswerer(None, loaded=loaded)
        limit = argparse.Namespace(**{**vars(args), "limit": args.untuned_limit})
        return _bench(limit, answerer, folder / "bench", ("DF-D", "DF-C", "AD"))
    return json.loads((folder / "bench" / "results.json").read_text())


def _bench(args, answerer, out: Path, tasks) -> dict:
    ad = min(args.ad_limit, args.limit)
    config = BenchConfig(split="test", tasks=tuple(tasks), limit=args.limit, task_limits={"AD": ad})
    if (out / "results.json").is_file():
        done = json.loads((out / "results.json").read_text())
        wanted = sum(ad if t == "AD" else args.limit for t in tasks)
        if sum(done["n"].values()) >= wanted:
            return done
    started = time.time()
    results = run_bench(args.data, answerer, out, config)
    print(f"{out}: {time.time() - started:.0f} s", flush=True)
    return results


def _slug(name: str) -> str:
    return name.lower().replace(" + ", "+").replace(", ", "-").replace(" ", "-")


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _markdown(results: dict, trainings: dict, args) -> str:
    lines = [
        "# DFA-GPT on DFA-Bench",
        "",
        f"Machine: {platform.machine()} CPU, {torch.get_num_threads()} threads, torch "
        f"{torch.__version__}; {time.strftime('%Y-%m-%d')}. Produced by `benchmarks/dfa_gpt.py "
        f"--records {args.records} --limit {args.limit} --ad-limit {args.ad_limit} "
        f"--lora-r {args.lora_r}{' --no-balance' if args.no_balance else ''}`.",
        "",
        f"Test split of the synthesized DFA-Instruct set, the first {args.limit} DF-D and DF-C "
        f"records and {min(args.ad_limit, args.limit)} AD records (the untuned base: "
        f"{args.untuned_limit} and {min(args.ad_limit, args.untuned_limit)}); identities unseen in "
        "training; greedy decoding in float32 with LoRA merged. Every DFA-GPT row: Gemma-3-270M "
        "+ LoRA "
        f"(rank {args.lora_r}) + projector over the bundled detector's frozen backbone, trained on "
        f"the same number of conversations ({args.records}) drawn from its tasks"
        + (
            ", at the data's own real:fake ratio (about 1:10)."
            if args.no_balance
            else ", rarer answers repeated per task (DF-D real:fake 1:1, DF-C one fifth per class)."
        )
        + " APCER: fakes called real; BPCER: reals called fake (DF-D, fake = attack).",
        "",
        "| answerer | DF-D ACC | DF-D ACER | DF-D APCER | DF-D BPCER | DF-D unparseable "
        "| DF-C ACC | AD ROUGE-L | AD MiniLM |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in results.items():
        d, c, a = r.get("DF-D", {}), r.get("DF-C", {}), r.get("AD", {})
        similarity = a.get("embedding_similarity")
        lines.append(
            f"| {name} | {_pct(d.get('accuracy'))} | {_pct(d.get('acer'))} | "
            f"{_pct(d.get('apcer'))} | {_pct(d.get('bpcer'))} | {d.get('unparseable', '–')} | "
            f"{_pct(c.get('accuracy'))} | "
            f"{_pct(a.get('rouge_l'))} | {'–' if similarity is None else f'{similarity:.3f}'} |"
        )
    lines += [
        "",
        "Training (this machine):",
        "",
        "| run | conversations | steps | minutes | samples/s | val loss |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, t in trainings.items():
        lines.append(
            f"| {name} | {t['train_conversations']} | {t['steps']} | "
            f"{t['train_seconds'] / 60:.1f} | {t['samples_per_s']} | "
            f"{t['validation'].get('loss', '–')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
