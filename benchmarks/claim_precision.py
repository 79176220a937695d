"""Claim precision of chat answers: the issue-24 audit, run by the claim checker.

Every image is analysed once (`Analyzer`, the bundled detector); each backend answers the
same five questions in one conversation; every answer is split into claims and each claim is
held against that image's own report (`opendfa.metrics.claims`, through
`opendfa.evidence.facts.claim_facts`). Conversations are also checked for claims that
contradict an earlier answer. Precision = supported / all claims, with a 95 % bootstrap
interval over conversations.

    .venv/bin/python benchmarks/claim_precision.py \
        --manifest runs/forensic-data/manifest.jsonl --split test --per-category 3 \
        --samples --backends grounded dfa-gpt --out benchmarks/claim_precision.md

Rows are appended to `--jsonl` (default `runs/claims/conversations.jsonl`) as each
conversation ends, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from opendfa.evidence.facts import claim_facts
from opendfa.evidence.pipeline import Analyzer
from opendfa.explain.backends import make_backend
from opendfa.explain.conversation import Conversation
from opendfa.metrics.claims import (
    CONTRADICTED,
    SUPPORTED,
    UNSUPPORTED,
    ClaimFacts,
    check_claims,
    self_contradictions,
)
from opendfa.safe_files import append_jsonl, resume_jsonl

QUESTIONS = (
    "Is this face real or fake?",
    "Why?",
    "Which regions, and what do you see there?",
    "What kind of forgery is it?",
    "How sure are you?",
)
SAMPLES = Path(__file__).resolve().parents[1] / "src" / "opendfa" / "assets" / "samples"
KINDS = (
    "verdict",
    "type",
    "technique",
    "region",
    "untouched",
    "attribute",
    "original",
    "confidence",
)


def pick_images(manifest: Path | None, split: str, per_category: int, samples: bool) -> list:
    """(path, label) pairs: `per_category` images of each category of the split, in manifest
    order (deterministic), and the bundled samples when asked."""
    chosen: list[tuple[str, str]] = []
    if manifest is not None:
        counts: Counter = Counter()
        for line in manifest.read_text().splitlines():
            row = json.loads(line)
            if row["split"] != split or counts[row["category"]] >= per_category:
                continue
            counts[row["category"]] += 1
            chosen.append((str(manifest.parent / row["path"]), row["category"]))
    if samples:
        chosen += [(str(p), "sample") for p in sorted(SAMPLES.glob("*.jpg"))]
    return chosen


def backend_for(name: str, mllm: Path | None = None):
    """A chat backend as `opendfa chat --backend NAME` builds it (DFA-GPT: `mllm`, else the
    bundled one)."""
    if name == "dfa-gpt":
        from opendfa.models.dfagpt import bundled_model_dir

        return make_backend(name, model_dir=mllm or bundled_model_dir())
    return make_backend(name)


def _token_count(backend, text: str) -> int | None:
    assistant = getattr(backend, "assistant", None)
    if assistant is None:
        return None
    return len(assistant.tokenizer.encode(text, add_special_tokens=False))


def converse(analyzer: Analyzer, backend, path: str) -> dict:
    """One conversation of the five questions about `path`, its claims checked."""
    report = analyzer.analyze(path)
    facts = claim_facts(report)
    conversation = Conversation(report, backend)
    shown: list[float] = []  # when each checked piece of text reached the stream
    if hasattr(backend, "on_text"):
        backend.on_text = lambda text: shown.append(time.perf_counter())
    answers, timings = [], []
    started = time.perf_counter()
    for question in QUESTIONS:
        shown.clear()
        asked = time.perf_counter()
        answers.append(conversation.ask(question).text)
        done = time.perf_counter()
        timings.append(
            {
                "seconds": round(done - asked, 3),
                # the first checked sentence a reader sees (a reply replaced whole: all of it)
                "first_text_s": round((shown[0] if shown else done) - asked, 3),
                "tokens": _token_count(backend, answers[-1]),
            }
        )
    seconds = time.perf_counter() - started
    row = {
        "backend": backend.name,
        "path": path,
        "verdict": report.verdict,
        "facts": None if facts is None else asdict(facts),
        "answers": answers,
        "seconds": round(seconds, 2),
        "timings": timings,
    }
    return rescore(row, facts)


def rescore(row: dict, facts: ClaimFacts | None) -> dict:
    """The row's claims and conflicts by the checker as it is now (stored answers are
    re-read, so a better checker re-scores old conversations without asking again)."""
    claims = []
    for question, answer in zip(QUESTIONS, row["answers"], strict=True):
        for checked in check_claims(answer, facts, question) if facts is not None else ():
            claims.append(
                {
                    "kind": checked.claim.kind,
                    "status": checked.status,
                    "phrase": checked.claim.phrase,
                    "reason": checked.reason,
                }
            )
    conflicts = [c.reason for c in self_contradictions(row["answers"])]
    return {**row, "claims": claims, "conflicts": conflicts}


def stored_facts(row: dict, analyzer: Analyzer) -> ClaimFacts | None:
    if row.get("facts") is not None and "fake_probability" in row["facts"]:
        return ClaimFacts(**row["facts"])
    return claim_facts(analyzer.analyze(row["path"]))  # rows older than the facts they need


def _precision_ci(rows: list[dict], resamples: int = 2000, seed: int = 0) -> tuple:
    """Supported / all claims, and its 95 % bootstrap interval over conversations."""
    supported = np.array([sum(c["status"] == SUPPORTED for c in r["claims"]) for r in rows])
    total = np.array([len(r["claims"]) for r in rows])
    if total.sum() == 0:
        return None, None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(rows), size=(resamples, len(rows)))
    ratios = supported[picks].sum(1) / np.maximum(total[picks].sum(1), 1)
    low, high = np.percentile(ratios, [2.5, 97.5])
    return supported.sum() / total.sum(), (float(low), float(high))


def markdown(rows: list[dict], images: int) -> str:
    lines = [
        "| backend | conversations | claims | supported | contradicted | unsupported | "
        "self-contradictions | claim precision [95 % CI] | s per conversation |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    kinds = [
        "| backend | " + " | ".join(KINDS) + " |",
        "| --- |" + " --- |" * len(KINDS),
    ]
    for backend in dict.fromkeys(r["backend"] for r in rows):
        mine = [r for r in rows if r["backend"] == backend]
        statuses = Counter(c["status"] for r in mine for c in r["claims"])
        precision, ci = _precision_ci(mine)
        shown = (
            "n/a"
            if precision is None
            else f"{100 * precision:.1f} % [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"
        )
        lines.append(
            f"| {backend} | {len(mine)} | {sum(statuses.values())} | {statuses[SUPPORTED]} | "
            f"{statuses[CONTRADICTED]} | {statuses[UNSUPPORTED]} | "
            f"{sum(len(r['conflicts']) for r in mine)} | {shown} | "
            f"{np.median([r['seconds'] for r in mine]):.1f} |"
        )
        by_kind = []
        for kind in KINDS:
            claims = [c for r in mine for c in r["claims"] if c["kind"] == kind]
            held = sum(c["status"] == SUPPORTED for c in claims)
            by_kind.append(f"{held}/{len(claims)}" if claims else "-")
        kinds.append(f"| {backend} | " + " | ".join(by_kind) + " |")
    return (
        f"{images} images, {len(QUESTIONS)} questions each.\n\n"
        + "\n".join(lines)
        + "\n\nSupported / all claims, by kind:\n\n"
        + "\n".join(kinds)
        + "\n\n"
        + speed_table(rows)
    )


def speed_table(rows: list[dict]) -> str:
    """Per answer: seconds to the first checked sentence, whole-answer tokens/s (prompt
    included, as a reader waits for it), over the rows that recorded timings."""
    lines = [
        "| backend | answers | first sentence, s: median / p90 / max | whole answer, s: median "
        "| tokens/s: median |",
        "| --- | --- | --- | --- | --- |",
    ]
    for backend in dict.fromkeys(r["backend"] for r in rows):
        timed = [t for r in rows if r["backend"] == backend for t in r.get("timings", [])]
        if not timed:
            continue
        first = np.array([t["first_text_s"] for t in timed])
        rates = [t["tokens"] / t["seconds"] for t in timed if t.get("tokens") and t["seconds"] > 0]
        rate = f"{np.median(rates):.1f}" if rates else "-"
        lines.append(
            f"| {backend} | {len(timed)} | {np.median(first):.2f} / "
            f"{np.percentile(first, 90):.2f} / {first.max():.2f} | "
            f"{np.median([t['seconds'] for t in timed]):.2f} | {rate} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--per-category", type=int, default=3)
    parser.add_argument("--samples", action="store_true", help="add the bundled samples")
    parser.add_argument("--backends", nargs="+", default=["grounded", "dfa-gpt"])
    parser.add_argument("--jsonl", type=Path, default=Path("runs/claims/conversations.jsonl"))
    parser.add_argument("--out", type=Path, help="write the markdown table here")
    parser.add_argument("--mllm", type=Path, help="the DFA-GPT folder (default: the bundled one)")
    args = parser.parse_args(argv)
    images = pick_images(args.manifest, args.split, args.per_category, args.samples)
    if not images:
        parser.error("no images: give --manifest and/or --samples")
    args.jsonl.parent.mkdir(parents=True, exist_ok=True)
    done = resume_jsonl(args.jsonl, key=lambda row: (row["backend"], row["path"]))
    analyzer = Analyzer()
    for name in args.backends:
        backend = None
        for path, _ in images:
            if (name, path) in done:
                continue
            backend = backend or backend_for(name, args.mllm)
            row = converse(analyzer, backend, path)
            done[name, path] = row
            with args.jsonl.open("a", encoding="utf-8") as handle:
                append_jsonl(handle, row)
            print(f"{name} {Path(path).name}: {len(row['claims'])} claims", file=sys.stderr)
    wanted = {p for p, _ in images}
    rows = [
        rescore(r, stored_facts(r, analyzer))
        for (b, p), r in done.items()
        if b in args.backends and p in wanted
    ]
    table = markdown(rows, len(images))
    print(table)
    if args.out:
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
