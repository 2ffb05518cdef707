#!/usr/bin/env bash
# Run the whole test suite against the real components (Asterisk 22, Redis, PostgreSQL, SQLite,
# speech models, Chromium). Installs what is missing first (scripts/bootstrap.sh).
#
#   scripts/test.sh                 # everything
#   scripts/test.sh tests/core -x   # extra arguments go to pytest
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CALLCENTER_MODE=test

scripts/bootstrap.sh || exit 1

# static checks first when the whole suite runs (ruff + mypy clean is part of "green")
if [ "$#" = 0 ]; then
  echo "==> ruff check, ruff format --check, mypy, lint-imports (kernel / plugin contracts)"
  .venv/bin/ruff check . && .venv/bin/ruff format --check . >/dev/null && .venv/bin/mypy . \
    && .venv/bin/lint-imports --no-cache >/dev/null \
    || { echo "static checks failed (for the import contracts run .venv/bin/lint-imports)" >&2; exit 1; }
fi

mkdir -p test-artifacts
.venv/bin/python -m pytest -ra --durations=15 --junitxml=test-artifacts/junit.xml "$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: refusing to pass" >&2
  exit 1
fi
exit "$rc"
