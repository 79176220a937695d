"""`opendfa bench`: run an answerer over a DFA-Instruct split and score it like DFA-Bench.

For each record of the split whose task is DF-D, DF-C or AD, the first question is asked
about the record's image and the answer kept (`answers.jsonl`, so a rerun resumes). Scores:
DF-D ACC / ERR / APCER / BPCER / ACER from the parsed label (an unparseable answer counts as
wrong for its sample), AUC / EER / AP when the answerer gives P(fake); DF-C accuracy, recall
per class and the confusion matrix; AD ROUGE-L, BLEU-1..4 and CIDEr-D against the reference
description. `results.json` holds everything, `results.md` the table.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from opendfa.bench.answerers import Answerer, BenchAnswer
from opendfa.instruct.records import InstructRecord, read_records
from opendfa.metrics.answers import UNPARSEABLE, parse_category, parse_detection
from opendfa.metrics.detection import classification_metrics, detection_metrics
from opendfa.metrics.text import bleu, cider_d, rouge_l
from opendfa.taxonomy import CATEGORIES

BENCH_TASKS = ("DF-D", "DF-C", "AD")


@dataclass
class BenchConfig:
    split: str = "test"
    tasks: tuple[str, ...] = BENCH_TASKS
    limit: int | None = None  # at most this many records per task
    task_limits: dict[str, int] | None = None  # per-task caps that override `limit`


def run_bench(
    data_dir: str | Path,
    answerer: Answerer,
    out_dir: str | Path,
    config: BenchConfig | None = None,
    *,
    progress: Callable[[Iterator], Iterator] | None = None,
) -> dict:
    config = config or BenchConfig()
    data = Path(data_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = _records(data, config)
    if not records:
        raise ValueError(f"no {'/'.join(config.tasks)} records in split {config.split!r} of {data}")
    answers_path = out / "answers.jsonl"
    done = _done(answers_path)
    started = time.time()
    pending = [r for r in records if r.id not in done]
    size = max(1, int(getattr(answerer, "batch_size", 1)))
    chunks = [pending[i : i + size] for i in range(0, len(pending), size)]
    iterator = progress(iter(chunks)) if progress else iter(chunks)
    with answers_path.open("a", encoding="utf-8") as handle:
        for chunk in iterator:
            for record, reply in zip(chunk, _answer(answerer, data, chunk), strict=True):
                row = _row(record, reply)
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                done[record.id] = row
            handle.flush()
    results = score([done[r.id] for r in records if r.id in done])
    results.update(
        answerer=answerer.name,
        split=config.split,
        data=str(data),
        seconds=round(time.time() - started, 1),
    )
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "results.md").write_text(markdown(results))
    return results


def score(rows: list[dict]) -> dict:
    """DFA-Bench metrics of answered rows (see the module docstring)."""
    results: dict = {"n": Counter(row["task"] for row in rows)}
    detection = [r for r in rows if r["task"] == "DF-D"]
    if detection:
        labels = np.array([r["label"] == "fake" for r in detection], dtype=int)
        parsed = [parse_detection(r["answer"], r["question"]) for r in detection]
        # Unparseable counts as the wrong answer for its sample.
        predicted = np.array(
            [
                (p == "fake") if p != UNPARSEABLE else not y
                for p, y in zip(parsed, labels, strict=True)
            ],
            dtype=float,
        )
        df_d = detection_metrics(predicted, labels).to_json()
        scored = [
            (r["score"], y)
            for r, y in zip(detection, labels, strict=True)
            if r["score"] is not None
        ]
        df_d.update(auc=None, eer=None, ap=None, scored=len(scored))
        if scored:  # the ranking metrics over the answers that came with P(fake)
            ranked = detection_metrics(
                np.array([s for s, _ in scored], dtype=float), np.array([y for _, y in scored])
            )
            df_d.update(auc=ranked.auc, eer=ranked.eer, ap=ranked.ap)
        df_d["unparseable"] = parsed.count(UNPARSEABLE)
        results["DF-D"] = df_d
    classification = [r for r in rows if r["task"] == "DF-C"]
    if classification:
        parsed = [parse_category(r["answer"]) for r in classification]
        m = classification_metrics(parsed, [r["category"] for r in classification], CATEGORIES)
        results["DF-C"] = {**m.to_json(), "unparseable": parsed.count(UNPARSEABLE)}
    description = [r for r in rows if r["task"] == "AD"]
    if description:
        answers = [r["answer"] for r in description]
        references = [r["reference"] for r in description]
        results["AD"] = {
            "rouge_l": rouge_l(answers, references),
            **bleu(answers, [[ref] for ref in references]),
            "cider_d": cider_d(answers, [[ref] for ref in references]),
            "embedding_similarity": _embedding_similarity(answers, references),
        }
    results["n"] = dict(results["n"])
    return results


def _embedding_similarity(answers: list[str], references: list[str]) -> float | None:
    """MiniLM cosine similarity, or None without the `text` extra (transformers + model)."""
    try:
        from opendfa.metrics.text import embedding_similarity

        return embedding_similarity(answers, references)
    except ImportError:
        return None


def markdown(results: dict) -> str:
    """One row per task, percentages like the DFA paper's Table."""
    lines = [
        f"# DFA-Bench: answerer `{results['answerer']}` on split `{results['split']}`",
        "",
        "| task | n | metric | value |",
        "| --- | --- | --- | --- |",
    ]

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.2f}"

    if "DF-D" in results:
        d = results["DF-D"]
        n = results["n"]["DF-D"]
        for name in ("accuracy", "err", "apcer", "bpcer", "acer", "auc", "eer"):
            lines.append(f"| DF-D | {n} | {name.upper()} % | {pct(d.get(name))} |")
        lines.append(f"| DF-D | {n} | unparseable | {d['unparseable']} |")
        lines.append(f"| DF-D | {n} | with P(fake) (AUC, EER) | {d['scored']} |")
    if "DF-C" in results:
        c = results["DF-C"]
        n = results["n"]["DF-C"]
        lines.append(f"| DF-C | {n} | ACC % | {pct(c['accuracy'])} |")
        for name, recall in c["recall"].items():
            if recall == recall:  # not NaN: the class occurs
                lines.append(f"| DF-C | {n} | recall {name} % | {pct(recall)} |")
        lines.append(f"| DF-C | {n} | unparseable | {c['unparseable']} |")
    if "AD" in results:
        a = results["AD"]
        n = results["n"]["AD"]
        lines.append(f"| AD | {n} | ROUGE-L % | {pct(a['rouge_l'])} |")
        for k in range(1, 5):
            lines.append(f"| AD | {n} | BLEU-{k} % | {pct(a[f'bleu{k}'])} |")
        lines.append(f"| AD | {n} | CIDEr-D | {a['cider_d']:.3f} |")
        similarity = a.get("embedding_similarity")
        shown = "n/a" if similarity is None else f"{similarity:.3f}"
        lines.append(f"| AD | {n} | MiniLM cosine similarity | {shown} |")
    return "\n".join(lines) + "\n"


def _answer(answerer: Answerer, data: Path, chunk: list[InstructRecord]) -> list[BenchAnswer]:
    """Replies to a chunk of records: one call for answerers that batch (`answer_many`)."""
    items = [(data / r.image, r.question, r.task) for r in chunk]
    if len(items) > 1 and hasattr(answerer, "answer_many"):
        return answerer.answer_many(items)
    return [answerer.answer(*item) for item in items]


def _row(record: InstructRecord, reply: BenchAnswer) -> dict:
    return {
        "id": record.id,
        "task": record.task,
        "label": record.label,
        "category": record.category,
        "question": record.question,
        "reference": record.reference,
        "answer": reply.text,
        "score": reply.score,
    }


def _records(data: Path, config: BenchConfig) -> list[InstructRecord]:
    path = data / "instruct.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no instruct.jsonl in {data} (run `opendfa instruct build`)")
    counts: Counter = Counter()
    chosen = []
    for record in read_records(path):
        task = record.task
        if record.split != config.split or task not in config.tasks:
            continue
        cap = (config.task_limits or {}).get(task, config.limit)
        if cap is not None and counts[task] >= cap:
            continue
        counts[task] += 1
        chosen.append(record)
    return chosen


def _done(path: Path) -> dict[str, dict]:
    done = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash: asked again
            done[row["id"]] = row
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in done.values()))
    return done
