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
    check_claims,
    self_contradictions,
)

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


def converse(analyzer: Analyzer, backend_name: str, path: str) -> dict:
    """One conversation of the five questions about `path`, its claims checked."""
    report = analyzer.analyze(path)
    facts = claim_facts(report)
    conversation = Conversation(report, make_backend(backend_name))
    started = time.perf_counter()
    answers, claims = [], []
    for question in QUESTIONS:
        reply = conversation.ask(question)
        answers.append(reply.text)
        if facts is not None:
            for checked in check_claims(reply.text, facts, question):
                claims.append(
                    {
                        "kind": checked.claim.kind,
                        "status": checked.status,
                        "phrase": checked.claim.phrase,
                        "reason": checked.reason,
                    }
                )
    seconds = time.perf_counter() - started
    conflicts = [c.reason for c in self_contradictions(answers)]
    return {
        "backend": backend_name,
        "path": path,
        "verdict": report.verdict,
        "answers": answers,
        "claims": claims,
        "conflicts": conflicts,
        "seconds": round(seconds, 2),
    }


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
        + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--per-category", type=int, default=3)
    parser.add_argument("--samples", action="store_true", help="add the bundled samples")
    parser.add_argument("--backends", nargs="+", default=["grounded", "dfa-gpt"])
    parser.add_argument("--jsonl", type=Path, default=Path("runs/claims/conversations.jsonl"))
    parser.add_argument("--out", type=Path, help="write the markdown table here")
    args = parser.parse_args(argv)
    images = pick_images(args.manifest, args.split, args.per_category, args.samples)
    if not images:
        parser.error("no images: give --manifest and/or --samples")
    args.jsonl.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if args.jsonl.exists():
        for line in args.jsonl.read_text().splitlines():
            row = json.loads(line)
            done[row["backend"], row["path"]] = row
    analyzer = Analyzer()
    for backend in args.backends:
        for path, _ in images:
            if (backend, path) in done:
                continue
            row = converse(analyzer, backend, path)
            done[backend, path] = row
            with args.jsonl.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"{backend} {Path(path).name}: {len(row['claims'])} claims", file=sys.stderr)
    wanted = {p for p, _ in images}
    rows = [r for (b, p), r in done.items() if b in args.backends and p in wanted]
    table = markdown(rows, len(images))
    print(table)
    if args.out:
        args.out.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
