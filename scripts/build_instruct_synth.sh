#!/usr/bin/env bash
# Rebuild the synthesized DFA-Instruct set the benchmarks use (.cache/instruct-synth) from the
# real faces available offline: gather them, forge 2 samples per face and method with
# identity-disjoint 70/10/20 % splits, then write the instruction conversations. Deterministic
# (seed 0); about 10 minutes on 2 cores. Nothing here is committed: the photos are not ours.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch_test_photos.sh
.venv/bin/python scripts/gather_real_faces.py --out .cache/real-faces
[ -f .cache/synth/manifest.jsonl ] || rm -rf .cache/synth
.venv/bin/opendfa data synth --faces .cache/real-faces --out .cache/synth --per-face 2 \
  --train 0.7 --val 0.1 --test 0.2 --no-progress
.venv/bin/opendfa instruct build .cache/synth/manifest.jsonl --out .cache/instruct-synth
