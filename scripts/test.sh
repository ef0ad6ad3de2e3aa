#!/usr/bin/env bash
# Install everything, then run the whole test suite.
# Under CI=true a missing ../shared/data is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
