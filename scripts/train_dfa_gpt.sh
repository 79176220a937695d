#!/usr/bin/env bash
# Reproduce the bundled DFA-GPT v3 (src/opendfa/assets/models/dfa-gpt) on a 2-core CPU (issue 24):
# the cue-aware evidence line (version 2: each supported region's measured cue as a word, the
# margin band) from training to inference, on DFA-Instruct v3, whose descriptions say only what
# that evidence shows (`opendfa.instruct.evidence`).
#   1. two synthesized sets on the gathered real faces (scripts/gather_real_faces.py): edits,
#      reenactments and swaps (the forensic stream's set), and entire-face synthesis, with the
#      same identity split (seed 0: 80/8/12 %);
#   2. one manifest: every val/test sample, the train identities under a 40 % hash share;
#   3. `opendfa instruct build --evidence-model opendfa-lite0@2`: each image judged once;
#      descriptions and follow-ups only where the detector agrees with the truth, held to it;
#   4. one training stage from the weights of v2 (restored from git history) with a fresh
#      30-step schedule, ended at step 20 (the session's CPU budget: about 2.5 min per step
#      in float32 on the 2-core AMD EPYC that trained v3), resumable: run this again after
#      an interruption;
#   5. the benchmark rows (the model's own answers; the answers as chat serves them), then the
#      float16 copy into the package with its model card. Needs the gemma extra.
set -euo pipefail
cd "$(dirname "$0")/.."
FACES=.cache/real-faces
EDITS=runs/forensic-data
SYNTH=runs/synth-efs
SOURCES=runs/instruct-src/subset.jsonl
DATA=.cache/instruct-v3
INIT=runs/dfa-gpt-v2-shipped
RUN=runs/dfa-gpt-v3
OPENDFA=.venv/bin/opendfa
if [ ! -d "$FACES" ]; then
  echo "no $FACES: run scripts/gather_real_faces.py first" >&2
  exit 2
fi
SPLIT=(--per-face 1 --train 0.8 --test 0.12 --val 0.08 --no-progress)
[ -f "$EDITS/manifest.jsonl" ] || $OPENDFA data synth --faces "$FACES" --out "$EDITS" \
  --methods face_editing face_reenactment face_swap "${SPLIT[@]}"
[ -f "$SYNTH/manifest.jsonl" ] || $OPENDFA data synth --faces "$FACES" --out "$SYNTH" \
  --methods entire_face_synthesis "${SPLIT[@]}"
[ -f "$SOURCES" ] || .venv/bin/python scripts/instruct_sources.py "$EDITS" "$SYNTH" \
  --train-share 0.4 --out "$SOURCES"
[ -f "$DATA/evidence.jsonl" ] || $OPENDFA instruct build "$SOURCES" --out "$DATA" --size 224 \
  --evidence-model opendfa-lite0@2 --no-progress
if [ ! -f "$INIT/trainable.safetensors" ]; then  # v2 as it was bundled
  mkdir -p "$INIT"
  for file in config.json trainable.safetensors answer_vocabulary.json; do
    git show "16d1398:src/opendfa/assets/models/dfa-gpt/$file" > "$INIT/$file"
  done
fi
export LD_PRELOAD=${LD_PRELOAD:-$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null)}
# bf16 autocast only where the CPU computes it natively (AVX512-BF16): emulated, one step took
# over 10 minutes instead of about 40 s in float32 (the v3 run's AMD EPYC has no AVX-512).
PRECISION=no
grep -q avx512_bf16 /proc/cpuinfo && PRECISION=bf16
[ -f "$RUN/main/summary.json" ] || $OPENDFA train mllm --data "$DATA" \
  --tasks DF-D DF-C AD FC --evidence --evidence-version 2 --max-records 480 --batch-size 8 \
  --grad-accum 2 --lora-r 16 --lora-alpha 32 --precision "$PRECISION" --val-records 48 --save-every 5 \
  --init "$INIT" --lr 2e-4 --projector-lr 2e-4 --threads 2 --no-progress --stop-at 20 \
  --out "$RUN/main"
.venv/bin/python benchmarks/dfa_gpt.py --data "$DATA" --work "$RUN" --main "$RUN/main" \
  --rows main served
.venv/bin/python scripts/package_dfa_gpt.py "$RUN/main" --bench "$RUN/main-bench/results.json" \
  --served "$RUN/served/results.json"
