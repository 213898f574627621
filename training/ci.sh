#!/usr/bin/env bash
# Sets up the toolkit's Python environment (training/.venv) from the machine's local wheel mirror and
# runs its tests. Needs the project's node_modules (npm ci) for the JS tokenizer parity test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
MIRROR=(--index-url file:///opt/pypi/simple --extra-index-url file:///opt/pypi-more/simple --find-links /opt/wheels)
if [ -d /opt/pypi/simple ]; then
  .venv/bin/pip install -q --disable-pip-version-check "${MIRROR[@]}" -r requirements.txt
else
  .venv/bin/pip install -q --disable-pip-version-check --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
fi
.venv/bin/python -m pytest -q tests "$@"
