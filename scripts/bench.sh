#!/usr/bin/env bash
# Install everything plus the peer (face_recognition 1.3.0 on the same dlib-bin),
# then regenerate docs/speed.md, docs/compare-speed.md and docs/accuracy.md (+ docs/img/*.png).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps face-recognition==1.3.0
.venv/bin/python bench/speed.py --out docs/speed.md
.venv/bin/python bench/compare.py --out docs/compare-speed.md
.venv/bin/python bench/accuracy.py --out docs
