"""Reproduce the forensic stream (issue 26): real faces -> forged faces with masks -> patches.

    .venv/bin/python scripts/gather_real_faces.py          # once: real photos into .cache
    .venv/bin/opendfa data synth --faces .cache/real-faces --out runs/forensic-data \
        --methods face_editing face_reenactment face_swap --per-face 1
    .venv/bin/python scripts/train_forensic.py --manifest runs/forensic-data/manifest.jsonl \
        --out runs/forensic --steps 6000

Every field of `ForensicTrainConfig` is a flag (`--batch-size 24`, `--model.width 32`).
Interrupted runs resume from `OUT/state` when started again with the same `--out`; the log is
`OUT/log.jsonl` and the finished model folder `OUT/model`.
"""

from __future__ import annotations

import argparse
import sys

from opendfa.cli_options import add_config_flags, config_from_flags
from opendfa.train.forensic import ForensicTrainConfig, train_forensic


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_flags(parser, ForensicTrainConfig)
    config = config_from_flags(parser.parse_args(argv), ForensicTrainConfig)
    if not config.manifest:
        parser.error("--manifest is required")
    folder = train_forensic(config)
    print(f"model: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
