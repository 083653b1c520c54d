#!/usr/bin/env bash
# An OpenAI-compatible embedding server for the tests, and to try RAG_EMBED_BASE_URL on this machine:
# infinity-emb in .venv-infinity (its pins clash with the project's .venv). Once; later runs check a stamp.
#   bash scripts/setup_infinity.sh
#   .venv-infinity/bin/infinity_emb v2 --model-id "$(.venv/bin/python -c 'from rag.embed import bundled_embedder_path as p; print(p())')" \
#       --served-model-name all-MiniLM-L6-v2 --url-prefix /v1 --host 127.0.0.1 --port 7997
#   RAG_EMBED_BASE_URL=http://127.0.0.1:7997/v1 RAG_EMBED_MODEL=all-MiniLM-L6-v2 .venv/bin/rag ingest ...
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
hash=$(sha1sum scripts/infinity-requirements.txt | cut -c1-12)
stamp=.venv-infinity/.installed-$hash
if [ ! -f "$stamp" ]; then
  [ -x .venv-infinity/bin/python ] || "$PY" -m venv .venv-infinity
  echo "Installing infinity-emb (the test embedding server) into .venv-infinity (about 1 minute) ..." >&2
  .venv-infinity/bin/python -m pip install --quiet --upgrade pip
  .venv-infinity/bin/python -m pip install --quiet torch==2.13.0
  .venv-infinity/bin/python -m pip install --quiet -r scripts/infinity-requirements.txt
  rm -f .venv-infinity/.installed-*
  touch "$stamp"
fi
