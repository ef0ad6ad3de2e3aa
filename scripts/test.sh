#!/usr/bin/env bash
# Install everything, lint and type-check, then run the whole test suite.
# Under CI=true a missing ../shared/data is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
# Lint and types before the tests (docs/design/lint.md): any finding fails the run.
.venv/bin/python -m ruff check --no-cache .
.venv/bin/python -m mypy
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
