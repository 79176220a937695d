"""Speed of the DFA-Instruct builder once images and cue measurements are cached.

    .venv/bin/python benchmarks/instruct.py --manifest M.jsonl --data BUILT_DIR [--write RESULTS.md]

Builds `--data` from `--manifest` first if needed (cues measured and cached), then times
`make_records` (templates, grounded AD, FC) over every sample `--repeat` times with the cached
measurements, and a whole cached rebuild (`build_instruct`, which also writes the JSON files).
Goal: at least 5,000 QA pairs/s with cached cues.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import time
from pathlib import Path

from results_section import write_section

from opendfa.data.manifest import read_manifest
from opendfa.instruct import InstructConfig, Measurements, build_instruct, make_records
from opendfa.instruct.records import read_records
from opendfa.instruct.templates import load_templates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args(argv)
    config = InstructConfig()
    first = build_instruct(args.manifest, args.data, config)
    samples = [s for s in read_manifest(args.manifest).samples if s.split]
    measurements = {}
    for sample in samples:
        cached = args.data / "measurements" / f"{sample.id}.json"
        if cached.exists():
            measurements[sample.id] = Measurements.from_json(json.loads(cached.read_text()))
    templates = load_templates()
    pairs = 0
    start = time.perf_counter()
    for _ in range(args.repeat):
        for sample in samples:
            for record in make_records(sample, measurements.get(sample.id), templates, config):
                pairs += record.pairs
    records_seconds = time.perf_counter() - start
    start = time.perf_counter()
    rebuilt = build_instruct(args.manifest, args.data, config)
    rebuild_seconds = time.perf_counter() - start
    rebuild_pairs = sum(r.pairs for r in read_records(args.data / "instruct.jsonl"))
    body = "\n".join(
        [
            "## DFA-Instruct builder (benchmarks/instruct.py)",
            "",
            f"Run {datetime.date.today().isoformat()} on {platform.machine()}: "
            f"{len(samples)} samples of `{args.manifest.name}`; first build measured "
            f"{first.measured} fakes and wrote {first.images} crops in {first.seconds:.1f} s.",
            "",
            "| step | QA pairs | seconds | QA pairs/s |",
            "| --- | --- | --- | --- |",
            f"| make_records, cached cues (x{args.repeat}) | {pairs} | {records_seconds:.2f} "
            f"| {pairs / records_seconds:,.0f} |",
            f"| whole rebuild, cached crops and cues ({rebuilt.reused} reused) | {rebuild_pairs} "
            f"| {rebuild_seconds:.2f} | {rebuild_pairs / rebuild_seconds:,.0f} |",
        ]
    )
    print(body)
    if args.write:
        write_section(args.write, "instruct", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
