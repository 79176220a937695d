#!/usr/bin/env bash
# Set up (with dev tools) and run lint plus the whole test suite, slow tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
bash scripts/fetch_test_photos.sh
bash scripts/install_browser.sh
.venv/bin/ruff check src tests benchmarks scripts
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when a selection holds no test: not a failure of the code.
[ "$rc" -eq 5 ] && { echo "test: no tests selected" >&2; exit 0; }
exit "$rc"
