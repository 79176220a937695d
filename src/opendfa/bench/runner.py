"""`opendfa bench`: run an answerer over a DFA-Instruct split and score it like DFA-Bench.

For each record of the split whose task is DF-D, DF-C or AD, the first question is asked about
the record's image and the answer kept (`answers.jsonl`, so a rerun resumes). Scores: DF-D ACC /
ERR / APCER / BPCER / ACER from the parsed label (an unparseable answer counts as wrong for its
sample) over the answers that decide: an `inconclusive` answer is neither right nor wrong but
counted on its own (`inconclusive`, `coverage` = the share that decides, `selective_accuracy` =
ACC over those); AUC / EER / AP over every answer with P(fake); DF-C accuracy, recall per class
and the confusion matrix; AD ROUGE-L, BLEU-1..4 and CIDEr-D against the reference description;
bootstrap 95 % intervals (`{metric}_ci`, records resampled within their label or category,
seeded) for DF-D ACC and ACER, DF-C ACC, AD ROUGE-L and MiniLM similarity. With `grounding` on,
AD (and FC) answers are also checked against the detector's evidence on their image
(`opendfa.bench.grounding`): the rates of answers that name a region the evidence does not
support, contradict its verdict or type, or either. `results.json` holds everything,
`results.md` the table.

Which records: the first `limit` per task, or a seeded sample of at most `reals` reals and
`fakes` fakes per task, stratified over forgery categories (`opendfa.bench.select`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from opendfa.bench.answerers import Answerer, BenchAnswer
from opendfa.bench.grounding import (
    GROUNDED_TASKS,
    RATES,
    EvidenceSource,
    claim_scores,
    grounding_scores,
)
from opendfa.bench.select import Caps, class_counts, select_records
from opendfa.instruct.records import InstructRecord, read_records
from opendfa.metrics.answers import INCONCLUSIVE, UNPARSEABLE, parse_category, parse_detection
from opendfa.metrics.bootstrap import bootstrap_ci, mean_ci
from opendfa.metrics.detection import classification_metrics, detection_metrics
from opendfa.metrics.text import bleu, cider_d, rouge_l_scores
from opendfa.models.configs import DEFAULT_MODEL
from opendfa.safe_files import (
    append_jsonl,
    resume_jsonl,
    write_json_atomic,
    write_jsonl_atomic,
    write_text_atomic,
)
from opendfa.taxonomy import CATEGORIES

BENCH_TASKS = ("DF-D", "DF-C", "AD")


@dataclass
class BenchConfig:
    split: str = "test"
    tasks: tuple[str, ...] = BENCH_TASKS
    limit: int | None = None  # at most this many records per task (the first ones)
    task_limits: dict[str, int] | None = None  # per-task caps that override `limit`
    # A seeded sample instead, for tasks with a class cap: at most this many reals / fakes
    # per task (None: all), the fakes stratified over categories; per-task overrides.
    reals: int | None = None
    fakes: int | None = None
    task_reals: dict[str, int] | None = None
    task_fakes: dict[str, int] | None = None
    seed: int = 0  # the sample and the bootstrap
    resamples: int = 1000  # bootstrap resamples for the 95 % intervals (0: none)
    grounding: bool = True  # check AD / FC answers against the detector's evidence
    evidence_model: str = DEFAULT_MODEL  # its detector, for answerers that have none

    def caps(self, task: str) -> Caps:
        reals = (self.task_reals or {}).get(task, self.reals)
        fakes = (self.task_fakes or {}).get(task, self.fakes)
        return Caps(reals, fakes)

    def limit_of(self, task: str) -> int | None:
        return (self.task_limits or {}).get(task, self.limit)


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
    done = resume_jsonl(answers_path, key=lambda row: row["id"])
    started = time.time()
    pending = [r for r in records if r.id not in done]
    size = max(1, int(getattr(answerer, "batch_size", 1)))
    chunks = [pending[i : i + size] for i in range(0, len(pending), size)]
    iterator = progress(iter(chunks)) if progress else iter(chunks)
    source = EvidenceSource(answerer, config.evidence_model) if config.grounding else None
    with answers_path.open("a", encoding="utf-8") as handle:
        for chunk in iterator:
            replies = _answer(answerer, data, chunk)
            evidence = _evidence(source, data, chunk)
            for record, reply in zip(chunk, replies, strict=True):
                row = _row(record, reply)
                if record.id in evidence:
                    row["evidence"] = evidence[record.id]
                append_jsonl(handle, row)
                done[record.id] = row
    # Rows answered without the grounding check (an earlier run) get their evidence now.
    earlier = [r for r in records if r.id in done and "evidence" not in done[r.id]]
    evidence = _evidence(source, data, earlier)
    if evidence:
        for record_id, found in evidence.items():
            done[record_id]["evidence"] = found
        write_jsonl_atomic(answers_path, done.values())
    rows = [done[r.id] for r in records if r.id in done]
    results = score(rows, resamples=config.resamples, seed=config.seed, grounding=config.grounding)
    results.update(
        answerer=answerer.name,
        split=config.split,
        data=str(data),
        classes=class_counts(records),
        seed=config.seed,
        seconds=round(time.time() - started, 1),
    )
    write_json_atomic(out / "results.json", results)
    write_text_atomic(out / "results.md", markdown(results))
    return results


def score(
    rows: list[dict], *, resamples: int = 1000, seed: int = 0, grounding: bool = True
) -> dict:
    """DFA-Bench metrics of answered rows (see the module docstring)."""
    results: dict = {"n": dict(Counter(row["task"] for row in rows))}
    detection = [r for r in rows if r["task"] == "DF-D"]
    if detection:
        results["DF-D"] = _detection(detection, resamples, seed)
    classification = [r for r in rows if r["task"] == "DF-C"]
    if classification:
        parsed = [parse_category(r["answer"]) for r in classification]
        true = [r["category"] for r in classification]
        m = classification_metrics(parsed, true, CATEGORIES)
        hits = [p == t for p, t in zip(parsed, true, strict=True)]
        results["DF-C"] = {
            **m.to_json(),
            "accuracy_ci": _ci(mean_ci(hits, true, resamples=resamples, seed=seed)),
            "unparseable": parsed.count(UNPARSEABLE),
        }
    description = [r for r in rows if r["task"] == "AD"]
    if description:
        answers = [r["answer"] for r in description]
        references = [r["reference"] for r in description]
        strata = [r["category"] for r in description]
        rouge = rouge_l_scores(answers, references)
        similarity = _embedding_similarities(answers, references)
        results["AD"] = {
            "rouge_l": float(np.mean(rouge)),
            "rouge_l_ci": _ci(mean_ci(rouge, strata, resamples=resamples, seed=seed)),
            **bleu(answers, [[ref] for ref in references]),
            "cider_d": cider_d(answers, [[ref] for ref in references]),
            "embedding_similarity": None if similarity is None else float(np.mean(similarity)),
            "embedding_similarity_ci": None
            if similarity is None
            else _ci(mean_ci(similarity, strata, resamples=resamples, seed=seed)),
        }
    for task in GROUNDED_TASKS if grounding else ():
        checked = grounding_scores(
            [r for r in rows if r["task"] == task], resamples=resamples, seed=seed
        )
        if checked:
            results.setdefault(task, {}).update(checked)
        claims = claim_scores(
            [r for r in rows if r["task"] == task], resamples=resamples, seed=seed
        )
        if claims:
            results.setdefault(task, {}).update(claims)
    return results


def _detection(rows: list[dict], resamples: int, seed: int) -> dict:
    """DF-D metrics; the label metrics over the rows whose answer decides (not inconclusive),
    the ranking metrics (AUC, EER, AP) over every row with P(fake)."""
    parsed_all = [parse_detection(r["answer"], r["question"]) for r in rows]
    decided = [p != INCONCLUSIVE for p in parsed_all]
    abstained = {
        "inconclusive": len(rows) - sum(decided),
        "coverage": sum(decided) / len(rows),
    }
    df_d = _decided_metrics(
        [r for r, d in zip(rows, decided, strict=True) if d],
        [p for p, d in zip(parsed_all, decided, strict=True) if d],
        resamples,
        seed,
    )
    df_d.update(abstained, selective_accuracy=df_d["accuracy"])
    scored = [(r["score"], r["label"] == "fake") for r in rows if r["score"] is not None]
    df_d.update(auc=None, eer=None, ap=None, scored=len(scored))
    if scored:  # the ranking metrics over the answers that came with P(fake)
        ranked = detection_metrics(
            np.array([s for s, _ in scored], dtype=float), np.array([y for _, y in scored])
        )
        df_d.update(auc=ranked.auc, eer=ranked.eer, ap=ranked.ap)
    return df_d


def _decided_metrics(rows: list[dict], parsed: list[str], resamples: int, seed: int) -> dict:
    """ACC / ERR / APCER / BPCER / ACER with intervals of the answers that decide."""
    if not rows:
        names = ("accuracy", "err", "apcer", "bpcer", "acer", "accuracy_ci", "acer_ci")
        return {**dict.fromkeys(names), "n": 0, "n_fake": 0, "unparseable": 0}
    labels = np.array([r["label"] == "fake" for r in rows], dtype=int)
    # Unparseable counts as the wrong answer for its sample.
    predicted = np.array(
        [(p == "fake") if p != UNPARSEABLE else not y for p, y in zip(parsed, labels, strict=True)],
        dtype=float,
    )
    df_d = detection_metrics(predicted, labels).to_json()
    wrong = (predicted >= 0.5) != labels.astype(bool)

    def acer(pick: np.ndarray) -> float:  # as `detection_metrics`: a missing class errs 0
        fake = labels[pick] == 1
        apcer = wrong[pick][fake].mean() if fake.any() else 0.0
        bpcer = wrong[pick][~fake].mean() if (~fake).any() else 0.0
        return float(apcer + bpcer) / 2

    df_d["accuracy_ci"] = _ci(mean_ci(~wrong, labels, resamples=resamples, seed=seed))
    df_d["acer_ci"] = _ci(bootstrap_ci(acer, len(rows), labels, resamples=resamples, seed=seed))
    df_d["unparseable"] = parsed.count(UNPARSEABLE)
    return df_d


def _ci(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [interval[0], interval[1]]


def _embedding_similarities(answers: list[str], references: list[str]) -> np.ndarray | None:
    """MiniLM cosine similarity per answer, or None without the `text` extra."""
    try:
        from opendfa.metrics.text import embedding_similarities

        return embedding_similarities(answers, references)
    except ImportError:
        return None


def markdown(results: dict) -> str:
    """One row per task and metric, percentages like the DFA paper's Table, with the bootstrap
    95 % interval in brackets where there is one."""
    lines = [
        f"# DFA-Bench: answerer `{results['answerer']}` on split `{results['split']}`",
        "",
        "| task | n | metric | value |",
        "| --- | --- | --- | --- |",
    ]

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.2f}"

    def with_ci(metrics: dict, name: str, show=pct) -> str:
        interval = metrics.get(f"{name}_ci")
        text = show(metrics.get(name))
        if interval and metrics.get(name) is not None:
            text += f" [{show(interval[0])}, {show(interval[1])}]"
        return text

    def three(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    if "DF-D" in results:
        d = results["DF-D"]
        n = results["n"]["DF-D"]
        for name in ("accuracy", "err", "apcer", "bpcer", "acer", "auc", "eer"):
            lines.append(f"| DF-D | {n} | {name.upper()} % | {with_ci(d, name)} |")
        lines.append(f"| DF-D | {n} | unparseable | {d['unparseable']} |")
        if d.get("inconclusive"):  # ACC..ACER above are then over the answers that decide
            lines.append(f"| DF-D | {n} | inconclusive | {d['inconclusive']} |")
            lines.append(f"| DF-D | {n} | coverage % | {pct(d['coverage'])} |")
        lines.append(f"| DF-D | {n} | with P(fake) (AUC, EER) | {d['scored']} |")
    if "DF-C" in results:
        c = results["DF-C"]
        n = results["n"]["DF-C"]
        lines.append(f"| DF-C | {n} | ACC % | {with_ci(c, 'accuracy')} |")
        for name, recall in c["recall"].items():
            if recall == recall:  # not NaN: the class occurs
                lines.append(f"| DF-C | {n} | recall {name} % | {pct(recall)} |")
        lines.append(f"| DF-C | {n} | unparseable | {c['unparseable']} |")
    if "AD" in results and "rouge_l" in results["AD"]:
        a = results["AD"]
        n = results["n"]["AD"]
        lines.append(f"| AD | {n} | ROUGE-L % | {with_ci(a, 'rouge_l')} |")
        for k in range(1, 5):
            lines.append(f"| AD | {n} | BLEU-{k} % | {pct(a[f'bleu{k}'])} |")
        lines.append(f"| AD | {n} | CIDEr-D | {a['cider_d']:.3f} |")
        similarity = with_ci(a, "embedding_similarity", three)
        lines.append(f"| AD | {n} | MiniLM cosine similarity | {similarity} |")
    for task in GROUNDED_TASKS:
        g = results.get(task, {})
        if "grounding_checked" not in g:
            continue
        n = g["grounding_checked"]
        for name, label in zip(
            RATES, ("unsupported region", "contradiction", "either"), strict=True
        ):
            lines.append(f"| {task} | {n} | grounding: {label} % | {with_ci(g, name)} |")
        if "claims" in g:
            lines.append(f"| {task} | {n} | claims checked | {g['claims']} |")
            lines.append(f"| {task} | {n} | claim precision % | {with_ci(g, 'claim_precision')} |")
            lines.append(
                f"| {task} | {n} | claims contradicted % | {with_ci(g, 'claim_contradiction')} |"
            )
            kinds = ", ".join(f"{k} {v}" for k, v in g["claims_by_kind"].items())
            lines.append(f"| {task} | {n} | supported by kind | {kinds} |")
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
    records = [r for r in read_records(path) if r.split == config.split and r.task in config.tasks]
    tasks = {r.task for r in records}
    return select_records(
        records,
        {task: config.caps(task) for task in tasks},
        {task: config.limit_of(task) for task in tasks},
        config.seed,
    )


def _evidence(
    source: EvidenceSource | None, data: Path, records: list[InstructRecord]
) -> dict[str, dict]:
    """Record id -> the detector's evidence on its image, for the checked tasks' records."""
    checked = [r for r in records if r.task in GROUNDED_TASKS]
    if source is None or not checked:
        return {}
    found = source.evidence([data / r.image for r in checked])
    return {r.id: e for r, e in zip(checked, found, strict=True) if e is not None}
