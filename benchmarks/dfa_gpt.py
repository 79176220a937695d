"""DFA-GPT on DFA-Bench: the untuned base, the task ablation at one small budget, the tuned
model without and with detector evidence, the shipped model, and the detector-backed
(grounded) answerer, all on the same seeded, class-stratified test sample; writes
benchmarks/dfa_gpt.md.

    python benchmarks/dfa_gpt.py --data .cache/instruct-v2 --work runs/dfa-gpt-v1 \\
        --main runs/dfa-gpt-v1/main --rows all

`--main DIR` is the long run (`opendfa train mllm`, see scripts/train_dfa_gpt.sh); the ablation
rows are trained here on `--records` conversations each. Every stage is resumable (a finished
training or bench folder is reused; answers are appended as they come), and `--rows` picks which
rows this process runs, so two single-thread processes can share the machine (two 1-thread
processes train ~1.5x faster in total than one 2-thread process here). `--report` only
assembles the table from what is there.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from opendfa.bench.answerers import DetectorAnswerer, DFAGPTAnswerer
from opendfa.bench.runner import BenchConfig, run_bench
from opendfa.models import dfagpt
from opendfa.safe_files import append_jsonl, read_jsonl, resume_jsonl
from opendfa.train.mllm import MLLMTrainConfig, train_mllm

ALL = ("DF-D", "DF-C", "AD", "FC")
BENCH = ("DF-D", "DF-C", "AD")
# name -> (training tasks, detector evidence in the prompt); trained on --records each.
ABLATION = {
    "DF-D": (("DF-D",), True),
    "DF-D + DF-C": (("DF-D", "DF-C"), True),
    "DF-D + DF-C + AD": (("DF-D", "DF-C", "AD"), True),
    "DF-D + DF-C + AD + FC": (ALL, True),
    "DF-D + DF-C + AD + FC, no evidence": (ALL, False),
}
SPECIAL = ("untuned", "main", "grounded", "guarded", "served")


def main() -> None:
    args = _parse()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    rows = list(ABLATION) + list(SPECIAL) if args.rows == ["all"] else args.rows
    if not args.report:
        for row in rows:
            _run_row(row, work, args)
    text = _markdown(work, args)
    Path(args.out).write_text(text)
    print(text)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=".cache/instruct-v2")
    parser.add_argument("--work", default="runs/dfa-gpt-v1")
    parser.add_argument("--main", default=None, help="the long run's model folder")
    parser.add_argument(
        "--rows",
        nargs="+",
        default=["all"],
        help="all, or row names (see ABLATION, SPECIAL)",
    )
    parser.add_argument("--records", type=int, default=640, help="ablation budget per row")
    parser.add_argument("--reals", type=int, default=200, help="test reals for DF-D and DF-C")
    parser.add_argument("--fakes", type=int, default=500, help="test fakes for DF-D and DF-C")
    parser.add_argument("--ad-fakes", type=int, default=500, help="test fakes for AD")
    parser.add_argument("--untuned-fakes", type=int, default=100, help="it never stops talking")
    parser.add_argument("--ablation-reals", type=int, default=100)
    parser.add_argument("--ablation-fakes", type=int, default=200)
    parser.add_argument("--ablation-ad-fakes", type=int, default=100, help="AD: long answers")
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--int8", action="store_true", help="int8 weights (default: float)")
    parser.add_argument(
        "--served-precision",
        default="auto",
        help="served row: float32, bfloat16 or auto (as chat runs: bfloat16 where native)",
    )
    parser.add_argument(
        "--earlier", default=None, help="work folder of an earlier stage, shown as its own row"
    )
    parser.add_argument(
        "--part", default="0/1", help="served row: this process answers part K of N (K/N)"
    )
    parser.add_argument("--report", action="store_true", help="only write the table")
    parser.add_argument("--out", default="benchmarks/dfa_gpt.md")
    return parser.parse_args()


def _bench_config(
    args, tasks=BENCH, *, fakes: int | None = None, reals: int | None = None, ad: int | None = None
):
    return BenchConfig(
        split="test",
        tasks=tuple(tasks),
        reals=args.reals if reals is None else reals,
        fakes=args.fakes if fakes is None else fakes,
        task_fakes={"AD": ad} if ad is not None else None,
        seed=0,
    )


def _run_row(row: str, work: Path, args) -> None:
    started = time.time()
    if row == "grounded":
        config = _bench_config(args, ad=args.ad_fakes)
        run_bench(args.data, DetectorAnswerer(), work / "grounded" / "bench", config)
    elif row == "untuned":
        _bench_untuned(work, args)
    elif row == "main":
        if not args.main or not (Path(args.main) / "summary.json").is_file():
            raise SystemExit(f"--main {args.main}: no finished training there (summary.json)")
        answerer = DFAGPTAnswerer(args.main, quantize=args.int8)
        run_bench(args.data, answerer, work / "main-bench", _bench_config(args, ad=args.ad_fakes))
    elif row == "guarded":
        _guarded(work, args)
    elif row == "served":
        _served(work, args)
    elif row in ABLATION:
        tasks, evidence = ABLATION[row]
        folder = work / "ablation" / _slug(row)
        config = _train_config(args, str(folder / "model"), tasks, evidence)
        if not (folder / "model" / "summary.json").is_file():
            train_mllm(config, progress=False)
        answerer = DFAGPTAnswerer(folder / "model", quantize=args.int8)
        bench_tasks = [t for t in BENCH if t in tasks]
        small = _bench_config(
            args,
            bench_tasks,
            reals=args.ablation_reals,
            fakes=args.ablation_fakes,
            ad=args.ablation_ad_fakes,
        )
        run_bench(args.data, answerer, folder / "bench", small)
    else:
        raise SystemExit(f"unknown row {row!r}")
    print(f"{row}: {time.time() - started:.0f} s", flush=True)


def _guarded(work: Path, args) -> None:
    """The shipped model's answers as chat serves them: a reply whose verdict or forgery type
    differs from the detector's report, or (AD) names a region the evidence does not support,
    is replaced by the grounded answer (`opendfa.explain.reply_check`). Built from the main and the
    grounded rows' answers to the same records; DF-D / DF-C read the report's verdict and type
    from the grounded answer, AD uses the evidence stored with the answer."""
    from opendfa.bench.runner import score
    from opendfa.metrics.answers import parse_category, parse_detection
    from opendfa.metrics.grounding import check_answer

    main = _answers(work / "main-bench" / "answers.jsonl")
    grounded = _answers(work / "grounded" / "bench" / "answers.jsonl")
    rows = []
    for key, row in main.items():
        reference = grounded.get(key)
        if reference is None:
            continue
        if row["task"] == "AD":
            e = row["evidence"]
            check = check_answer(row["answer"], e["verdict"], e["category"], e["regions"])
            wrong = check.violated
        else:
            verdict = parse_detection(reference["answer"])
            category = parse_category(reference["answer"]) if verdict == "fake" else None
            wrong = check_answer(row["answer"], verdict, category, {}, 0.5, row["question"])
            wrong = wrong.contradiction is not None
        rows.append({**row, "answer": reference["answer"] if wrong else row["answer"]})
        rows[-1]["replaced"] = bool(wrong)
    results = score(rows, seed=0)
    results["replaced"] = {
        task: round(sum(r["replaced"] for r in rows if r["task"] == task) / n, 4)
        for task, n in results["n"].items()
    }
    out = work / "guarded"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")


def _served(work: Path, args) -> None:
    """The shipped model's answers as chat writes them: every answer written again with
    grounded decoding (`opendfa.explain.decoding`) in the precision chat uses, a description of
    a fake held open as chat holds it, and the grounded answer where even that breaks the check
    (the chat's guard). Every task is checked as chat checks a reply: verdict, forgery type and
    named regions. Resumable: rows are appended to `served/answers-K.jsonl` as they come;
    `--part K/N` lets N processes share the rows, and the one that finds all rows answered
    writes the results."""
    from opendfa.bench.grounding import EvidenceSource
    from opendfa.instruct.records import read_records

    main = _answers(work / "main-bench" / "answers.jsonl")
    grounded = _answers(work / "grounded" / "bench" / "answers.jsonl")
    images = {r.id: Path(args.data) / r.image for r in read_records(Path(args.data) / "test.json")}
    part, parts = (int(x) for x in args.part.split("/"))
    if not 0 <= part < parts:
        raise SystemExit(f"--part {args.part}: K/N with 0 <= K < N")
    out = work / "served"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"answers-{part}.jsonl"
    done = resume_jsonl(path, key=lambda row: row["id"])
    keys = [key for key in main if key in grounded]
    todo = [key for n, key in enumerate(keys) if n % parts == part and key not in done]
    answerer = (
        DFAGPTAnswerer(args.main, quantize=args.int8, precision=args.served_precision)
        if todo
        else None
    )
    source = EvidenceSource(answerer) if answerer else None
    with path.open("a", encoding="utf-8") as handle:
        for number, key in enumerate(todo, 1):
            row = main[key]
            evidence = row.get("evidence") or source.evidence([images[key]])[0]
            served = _serve_one(answerer, row, evidence, images[key], grounded[key]["answer"])
            append_jsonl(handle, served)
            if number % 50 == 0:
                print(f"served {part}/{parts}: {number}/{len(todo)}", flush=True)
    rows: dict[str, dict] = {}
    for file in out.glob("answers-*.jsonl"):
        rows |= _answers(file)
    if set(keys) <= set(rows):
        _score_served(list(rows.values()), out)


def _serve_one(answerer, row: dict, evidence: dict | None, image: Path, fallback: str) -> dict:
    from opendfa.evidence.words import REGION_EVIDENCE
    from opendfa.metrics.grounding import check_answer

    def broken(text: str) -> bool:
        if evidence is None:
            return False
        category = evidence["category"] if evidence["verdict"] == "fake" else None
        check = check_answer(
            text,
            evidence["verdict"],
            category,
            evidence["regions"],
            REGION_EVIDENCE,
            row["question"],
        )
        return check.violated

    if evidence is None:
        answer, cuts = row["answer"], 0
    else:
        reply, cuts = answerer.answer_grounded(image, row["question"], row["task"], evidence)
        answer = reply.text
    rewritten = cuts > 0
    replaced = broken(answer)
    if replaced:
        answer = fallback
    served = {**row, "answer": answer, "evidence": evidence}
    return served | {"rewritten": rewritten, "cut_back": cuts, "replaced": replaced}


def _score_served(rows: list[dict], out: Path) -> None:
    from opendfa.bench.runner import score

    for row in rows:
        if row["task"] not in ("AD", "FC"):
            row.pop("evidence", None)  # the grounding rates are counted over AD, as elsewhere
    results = score(rows, seed=0)
    for share in ("rewritten", "replaced"):
        results[share] = {
            task: round(sum(r[share] for r in rows if r["task"] == task) / n, 4)
            for task, n in results["n"].items()
        }
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")


def _answers(path: Path) -> dict[str, dict]:
    """Rows by id; a torn last line (a process killed mid-write) is left out, and answered
    again on resume."""
    if not path.is_file():
        raise FileNotFoundError(f"no answers at {path}")
    return read_jsonl(path, key=lambda row: row["id"])


def _train_config(args, out: str, tasks, evidence: bool) -> MLLMTrainConfig:
    return MLLMTrainConfig(
        data=args.data,
        out=out,
        tasks=tuple(tasks),
        evidence=evidence,
        max_records=args.records,
        batch_size=8,
        grad_accum=1,
        lora_r=args.lora_r,
        lora_alpha=2 * args.lora_r,
        val_records=32,
        precision="bf16",
    )


def _bench_untuned(work: Path, args) -> None:
    """The base LM with a fresh projector and zero-initialised adapters (no training)."""
    folder = work / "untuned"
    base = _train_config(args, str(folder / "model"), ALL, True)
    config = dfagpt.DFAGPTConfig(
        lm=base.lm,
        detector=base.detector,
        evidence=True,
        lora={"r": args.lora_r, "alpha": 2 * args.lora_r},
    )
    torch.manual_seed(0)
    loaded = dfagpt.build(config)
    loaded.model.eval()
    answerer = DFAGPTAnswerer(None, loaded=loaded, quantize=args.int8)
    tasks = ("DF-D", "DF-C")  # its AD rambles to the token limit (ROUGE-L 0.09 before)
    small = _bench_config(args, tasks, fakes=args.untuned_fakes, reals=args.untuned_fakes // 2)
    run_bench(args.data, answerer, folder / "bench", small)


def _slug(name: str) -> str:
    return name.lower().replace(" + ", "+").replace(", ", "-").replace(" ", "-")


# ----------------------------------------------------------------------------- the table


def _results(work: Path, args) -> dict[str, tuple[dict, dict | None]]:
    """Row name -> (bench results, training summary or None), for the rows that finished."""
    found: dict[str, tuple[dict, dict | None]] = {}

    def add(name: str, bench: Path, model: Path | None) -> None:
        if (bench / "results.json").is_file():
            summary = None
            if model is not None and (model / "summary.json").is_file():
                summary = json.loads((model / "summary.json").read_text())
            found[name] = (json.loads((bench / "results.json").read_text()), summary)

    add("untuned Gemma-3-270M + projector, evidence", work / "untuned" / "bench", None)
    for row in ABLATION:
        folder = work / "ablation" / _slug(row)
        add(f"ablation: {row}", folder / "bench", folder / "model")
    if args.earlier:
        earlier = Path(args.earlier)
        summary = json.loads((earlier / "main" / "summary.json").read_text())
        add(
            f"DFA-GPT stage 1 alone ({summary['steps']} steps; its evidence line still named a "
            "type under a real verdict)",
            earlier / "main-bench",
            earlier / "main",
        )
    if args.main:
        add("DFA-GPT (shipped): all tasks, evidence", work / "main-bench", Path(args.main))
        add("DFA-GPT, replies checked after the fact (guard only)", work / "guarded", None)
        add(
            "DFA-GPT as chat served it before (float32, grounded decoding, then the guard)",
            work / "served-v2-fp32",
            None,
        )
        add(
            "DFA-GPT as chat serves it (bfloat16, grounded decoding, a description of a fake "
            "held open for 24 tokens, then the guard)",
            work / "served",
            None,
        )
    add("detector-backed grounded answerer", work / "grounded" / "bench", None)
    return found


def _cell(metrics: dict | None, name: str, scale: float = 100.0, digits: int = 1) -> str:
    if not metrics or metrics.get(name) is None:
        return "–"
    value = f"{scale * metrics[name]:.{digits}f}"
    ci = metrics.get(f"{name}_ci")
    if ci:
        value += f" [{scale * ci[0]:.{digits}f}, {scale * ci[1]:.{digits}f}]"
    return value


def _markdown(work: Path, args) -> str:
    found = _results(work, args)
    precision = "int8 weights" if args.int8 else "float32"
    precision += f"; the served row: {args.served_precision} (chat's `auto`: bfloat16 on this CPU)"
    lines = [
        "# DFA-GPT on DFA-Bench",
        "",
        f"Machine: {platform.machine()} CPU, 2 cores (each process 1 thread), torch "
        f"{torch.__version__}; {time.strftime('%Y-%m-%d')}. Produced by `benchmarks/dfa_gpt.py "
        f"--data {args.data} --work {args.work} --main {args.main} --records {args.records} "
        f"--reals {args.reals} --fakes {args.fakes} --ad-fakes {args.ad_fakes} "
        f"--ablation-reals {args.ablation_reals} "
        f"--ablation-fakes {args.ablation_fakes} --ablation-ad-fakes {args.ablation_ad_fakes} "
        f"--lora-r {args.lora_r}`.",
        "",
        "Test split of DFA-Instruct rebuilt on the detector-v2 face collection "
        "(`scripts/train_dfa_gpt.sh` builds it): identities unseen in training. DF-D and DF-C: a "
        f"seeded sample of {args.reals} reals and {args.fakes} fakes (stratified over the four "
        f"forgery types, the same images for both tasks); AD: {args.ad_fakes} fakes. Ablation rows "
        f"(a smaller sample, 2 cores): {args.ablation_reals} reals and {args.ablation_fakes} "
        f"fakes (AD: {args.ablation_ad_fakes} fakes); the untuned row: {args.untuned_fakes} fakes "
        f"and {args.untuned_fakes // 2} reals, DF-D and DF-C only. Greedy decoding "
        f"with LoRA merged, {precision}. 95 % bootstrap intervals (1,000 resamples within label or "
        "category). Hallucinated regions: AD answers that name a face region the detector's "
        "evidence for that image does not support (score < 0.5); contradictions: AD answers "
        "whose verdict or forgery type differs from the detector's.",
        "",
        "| answerer | DF-D ACC | DF-D ACER | DF-C ACC | AD ROUGE-L | AD MiniLM | "
        "AD hallucinated regions % | AD contradictions % |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, (r, _) in found.items():
        d, c, a = r.get("DF-D"), r.get("DF-C"), r.get("AD")
        lines.append(
            f"| {name} | {_cell(d, 'accuracy')} | {_cell(d, 'acer')} | {_cell(c, 'accuracy')} | "
            f"{_cell(a, 'rouge_l')} | {_cell(a, 'embedding_similarity', 1.0, 3)} | "
            f"{_cell(a, 'hallucinated_region_rate')} | {_cell(a, 'contradiction_rate')} |"
        )
    for folder, what in (
        ("guarded", "Guard only: replies replaced by the grounded answer"),
        ("served", "As served: answers written again with grounded decoding"),
        ("served", "As served: still replaced by the grounded answer afterwards"),
    ):
        results = work / folder / "results.json"
        if not results.is_file():
            continue
        key = "rewritten" if "again" in what else "replaced"
        shares = json.loads(results.read_text()).get(key, {})
        cells = ", ".join(f"{task} {100 * share:.1f} %" for task, share in shares.items())
        lines += ["", f"{what}: {cells}."]
    lines += [
        "",
        "Training (this machine, one thread per process, bf16 autocast):",
        "",
        "| run | tasks | evidence | conversations | steps | minutes | samples/s | val loss |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, (_, t) in found.items():
        if t is None:
            continue
        config = t["config"]
        lines.append(
            f"| {name} | {' '.join(config['tasks'])} | {'yes' if config['evidence'] else 'no'} | "
            f"{t['train_conversations']} | {t['steps']} | {t['train_seconds'] / 60:.1f} | "
            f"{t['samples_per_s']} | {t['validation'].get('loss', '–')} |"
        )
    lines += _curve(Path(args.main) / "log.jsonl" if args.main else None)
    return "\n".join(lines) + "\n"


def _curve(log: Path | None, windows: int = 10) -> list[str]:
    """The long run's training loss, averaged over `windows` equal spans of its steps."""
    if log is None or not log.is_file():
        return []
    entries = [json.loads(line) for line in log.read_text().splitlines() if '"loss"' in line]
    entries = [e for e in entries if "step" in e]
    if len(entries) < windows:
        return []
    size = len(entries) // windows
    spans = [entries[i * size : (i + 1) * size] for i in range(windows)]
    cells = [
        f"{span[-1]['step']}: {sum(e['loss'] for e in span) / len(span):.3f}" for span in spans
    ]
    return ["", "Long run, mean training loss up to each step: " + ", ".join(cells) + "."]


if __name__ == "__main__":
    main()
