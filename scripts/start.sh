#!/usr/bin/env bash
# The main job: set up .venv if needed, then start the chat on the bundled abstracts and model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/rag ui "$@"
