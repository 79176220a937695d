#!/usr/bin/env bash
# Reproduce the bundled DFA-GPT (src/opendfa/assets/models/dfa-gpt) on a 2-core CPU:
# DFA-Instruct rebuilt on the detector-v2 synthesized set (scripts/train_detector.py makes it),
# the long run (~1.5 h, resumable: run this again after an interruption), its benchmark rows,
# then the float16 copy into the package with its model card. Needs the gemma extra. With
# glibc malloc the CPU run's memory climbed ~1 GB per step until it was OOM-killed on 24 GB;
# jemalloc (Debian libjemalloc2) keeps it flat at ~4 GB, so it is preloaded when installed.
set -euo pipefail
cd "$(dirname "$0")/.."
SYNTH=.cache/detector-v2/synth/manifest.jsonl
DATA=.cache/instruct-v2
RUN=runs/dfa-gpt-v1
if [ ! -f "$SYNTH" ]; then
  echo "no $SYNTH: run scripts/gather_real_faces.py and scripts/train_detector.py first" >&2
  exit 2
fi
[ -f "$DATA/instruct.jsonl" ] || .venv/bin/opendfa instruct build "$SYNTH" --out "$DATA" \
  --size 224 --no-progress
LD_PRELOAD=${LD_PRELOAD:-$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null)} \
  .venv/bin/opendfa train mllm --data "$DATA" --out "$RUN/main" --tasks DF-D DF-C AD FC \
  --evidence --max-records 2000 --batch-size 8 --grad-accum 2 --lora-r 16 --lora-alpha 32 \
  --precision bf16 --val-records 64 --save-every 5 --stop-at 95 --threads 1 --no-progress
.venv/bin/python benchmarks/dfa_gpt.py --data "$DATA" --work "$RUN" --main "$RUN/main" \
  --rows main grounded
.venv/bin/python scripts/package_dfa_gpt.py "$RUN/main" --bench "$RUN/main-bench/results.json"
