#!/usr/bin/env bash
# Install everything, then run the service (SQLite by default) at http://127.0.0.1:8000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/simreg serve "$@"
