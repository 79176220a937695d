"""One manifest from several `opendfa data synth` folders, for DFA-Instruct v3.

    .venv/bin/python scripts/instruct_sources.py runs/forensic-data runs/synth-efs \
        --train-share 0.4 --out runs/instruct-src/subset.jsonl

Paths are rewritten relative to the output's folder; a real photo present in several folders
(each synth run writes its reals) is kept once. Every val and test sample is kept; of the
train split, the identities whose hash falls below `--train-share` (a fixed, seeded choice,
so a rebuild picks the same people), which bounds the CPU time of the evidence pass.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections import Counter
from pathlib import Path


def _moved(row: dict, source: Path, target: Path) -> dict:
    prefix = Path(os.path.relpath(source, target))
    row = dict(row)
    for key in ("path", "mask_path"):
        if row.get(key):
            row[key] = str(prefix / row[key])
    meta = dict(row.get("meta") or {})
    if meta.get("landmarks_path"):
        meta["landmarks_path"] = str(prefix / meta["landmarks_path"])
    row["meta"] = meta
    return row


def _kept(row: dict, share: float) -> bool:
    if row.get("split") != "train":
        return True
    digest = hashlib.sha256(str(row["identity"]).encode()).hexdigest()
    return int(digest[:8], 16) / 2**32 < share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path, help="synth folders (manifest.jsonl)")
    parser.add_argument("--out", type=Path, required=True, help="manifest to write")
    parser.add_argument("--train-share", type=float, default=1.0)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows, seen = [], set()
    for folder in args.folders:
        for line in (folder / "manifest.jsonl").read_text().splitlines():
            row = json.loads(line)
            if row["id"] in seen or not _kept(row, args.train_share):
                continue
            seen.add(row["id"])
            rows.append(_moved(row, folder, args.out.parent))
    args.out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    counts = Counter((row["split"], row["category"]) for row in rows)
    print(f"{len(rows)} samples -> {args.out}: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
