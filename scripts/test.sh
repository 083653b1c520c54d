#!/usr/bin/env bash
# The tests: set up .venv if needed (with the llama.cpp extra, and Chromium for the browser test), then run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup.sh llamacpp || echo "could not install the llamacpp extra; its tests will fail" >&2
bash scripts/setup_infinity.sh || echo "could not install infinity-emb; the embedding-server tests will fail" >&2
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium for the browser test ..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium; the browser test will be skipped" >&2
fi
# The tests on real servers (chroma run, llama.cpp's and infinity's OpenAI-compatible servers) fail here instead of skipping.
export RAG_REQUIRE_SERVERS=1
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
