#!/usr/bin/env bash
# Set up (with dev tools) and run lint plus the test suite.
#   bash scripts/test.sh              # everything, slow tests included (what CI runs: .ci/run)
#   bash scripts/test.sh --fast       # -m "not slow": no training runs, no browser, no large
#                                     # models; about 3 minutes on 2 CPU cores
#   bash scripts/test.sh tests/serve  # any other arguments go to pytest
# A test is marked `slow` (pyproject.toml) when it trains a model for more than a few steps or
# takes longer than about 5 s on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
selection=()
fast=0
if [ "${1:-}" = "--fast" ]; then
  shift
  fast=1
  selection=(-m "not slow")
fi
bash scripts/setup.sh --dev
bash scripts/fetch_test_photos.sh
[ "$fast" -eq 1 ] || bash scripts/install_browser.sh  # the browser tests are all slow
.venv/bin/ruff check src tests benchmarks scripts
set +e
.venv/bin/python -m pytest "${selection[@]}" "$@"
rc=$?
set -e
# pytest exits 5 when a selection holds no test: not a failure of the code.
[ "$rc" -eq 5 ] && { echo "test: no tests selected" >&2; exit 0; }
exit "$rc"
