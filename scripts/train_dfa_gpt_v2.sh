#!/usr/bin/env bash
# Reproduce DFA-GPT v2 (bundled until v3; scripts/train_dfa_gpt.sh starts from it) on a 2-core CPU:
# DFA-Instruct rebuilt on the detector-v2 synthesized set (scripts/train_detector.py makes it),
# two training stages (the second starts from the first's weights with a fresh schedule; ~30
# and ~60 minutes, each resumable: run this again after an interruption), the benchmark rows
# (the model's own answers, the grounded answerer, and the answers as chat serves them), then
# the float16 copy into the package with its model card. Needs the gemma extra.
# With glibc malloc the CPU run's memory climbed ~1 GB per step until it was OOM-killed on
# 24 GB; jemalloc (Debian libjemalloc2) keeps it flat at ~4 GB, so it is preloaded when found.
# (The shipped model's first stage was trained before the evidence line said "forgery type
# none" under a real verdict; a rerun of it sees the current line.)
set -euo pipefail
cd "$(dirname "$0")/.."
SYNTH=.cache/detector-v2/synth/manifest.jsonl
DATA=.cache/instruct-v2
FIRST=runs/dfa-gpt-v1/main
RUN=runs/dfa-gpt-v2
if [ ! -f "$SYNTH" ]; then
  echo "no $SYNTH: run scripts/gather_real_faces.py and scripts/train_detector.py first" >&2
  exit 2
fi
[ -f "$DATA/instruct.jsonl" ] || .venv/bin/opendfa instruct build "$SYNTH" --out "$DATA" \
  --size 224 --no-progress
export LD_PRELOAD=${LD_PRELOAD:-$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null)}
COMMON=(--data "$DATA" --tasks DF-D DF-C AD FC --evidence --max-records 2000 --batch-size 8
  --grad-accum 2 --lora-r 16 --lora-alpha 32 --precision bf16 --val-records 64 --save-every 5
  --no-progress)
[ -f "$FIRST/summary.json" ] || .venv/bin/opendfa train mllm "${COMMON[@]}" --out "$FIRST" \
  --stop-at 95 --threads 1
[ -f "$RUN/main/summary.json" ] || .venv/bin/opendfa train mllm "${COMMON[@]}" \
  --out "$RUN/main" --init "$FIRST" --lr 1e-4 --projector-lr 2e-4 --threads 2
mkdir -p "$RUN"
[ -d "$RUN/grounded" ] || { [ -d runs/dfa-gpt-v1/grounded ] && cp -r runs/dfa-gpt-v1/grounded "$RUN/"; }
.venv/bin/python benchmarks/dfa_gpt.py --data "$DATA" --work "$RUN" --main "$RUN/main" \
  --rows grounded main served
.venv/bin/python scripts/package_dfa_gpt.py "$RUN/main" --bench "$RUN/main-bench/results.json" \
  --served "$RUN/served/results.json"
