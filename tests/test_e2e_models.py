"""End to end on the real bundled models: MiniLM embedder, Qwen2.5-Coder-0.5B generator, Chroma store.

The same questions run through every generator backend: transformers (the default), llama.cpp in-process
(RAG_BACKEND=llamacpp) and llama.cpp's OpenAI-compatible server (RAG_LLM_BASE_URL), a real server
started on 127.0.0.1 for these tests. The last two need the optional extra `.[llamacpp]`.

The converted model is cached in RAG_MODELS_DIR (default <repo>/.rag/models), so only the first run pays
for the GGUF conversion; the store is built fresh in a temporary RAG_HOME.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.text import CANNOT_ANSWER
from tests.support.data import shared_models_dir

pytestmark = pytest.mark.model
REPO = Path(__file__).resolve().parents[1]
SIE = "Self-supervised learning of Split Invariant Equivariant representations"
BACKENDS = ["transformers", "llamacpp", "llamacpp-server"]


@pytest.fixture(scope="session")
def model_env(tmp_path_factory):
    env = dict(os.environ)
    env["RAG_HOME"] = str(tmp_path_factory.mktemp("rag-home"))
    env.setdefault("RAG_MODELS_DIR", str(shared_models_dir()))
    return env


@pytest.fixture(scope="session", params=BACKENDS)
def pipeline(request, model_env):
    """The real pipeline with one generator backend; a backend's server lives as long as its pipeline."""
    from rag.build import build_pipeline
    from rag.settings import settings_from_env

    if request.param == "transformers":
        yield build_pipeline(settings_from_env(model_env), progress=False)
        return
    from tests.support.servers import LLAMA_SERVER_MODEL, free_port, llama_server_argv, require_module, running_server

    require_module("llama_cpp", "pip install '.[llamacpp]'")
    if request.param == "llamacpp":
        yield build_pipeline(settings_from_env(model_env, backend="llamacpp"), progress=False)
        return
    from rag.generators.model_files import assemble_bundled_gguf

    gguf, port = assemble_bundled_gguf(Path(model_env["RAG_MODELS_DIR"])), free_port()
    with running_server(llama_server_argv(gguf, port), "/v1/models", port, deadline_s=180) as url:
        settings = settings_from_env(model_env, llm_base_url=f"{url}/v1", llm_model=LLAMA_SERVER_MODEL)
        yield build_pipeline(settings, progress=False)


def test_the_pipeline_runs_the_backend_asked_for(pipeline, request):
    backend = request.node.callspec.params["pipeline"]
    name = pipeline.generator.name
    expected = {"transformers": "bundled", "llamacpp": "llama.cpp", "llamacpp-server": "127.0.0.1"}[backend]
    assert expected in name, name


def test_single_paper_question_cites_the_gold_paper(pipeline):
    answer = pipeline.ask("How many object classes does the 3DIEBench dataset have?")
    assert not answer.abstained, answer.answer
    assert SIE in [h.paper.title for h in answer.sources[:5]]
    cited = {c.title for c in answer.citations}
    assert SIE in cited, (answer.answer, cited)
    assert "55" in answer.answer
    assert any(c.supported for c in answer.citations if c.title == SIE)


def test_follow_up_finds_the_paper_of_the_conversation(pipeline):
    history = [{"role": "user", "content": "Which paper introduces the 3DIEBench dataset?"},
               {"role": "assistant", "content": f"{SIE} introduces 3DIEBench [1]."}]
    answer = pipeline.ask("What kind of predictor do they propose?", history=history)
    assert answer.sources[0].paper.title == SIE
    assert not answer.abstained, answer.answer
    assert SIE in {c.title for c in answer.citations}


def test_unanswerable_question_is_refused(pipeline):
    answer = pipeline.ask("What is the capital of Australia and when was its parliament house opened?")
    assert answer.abstained and answer.answer == CANNOT_ANSWER and not answer.citations


def test_cli_json_follows_the_contract(model_env, tmp_path):
    history = tmp_path / "h.json"
    history.write_text(json.dumps([{"role": "user", "content": "Tell me about Poincaré embeddings."}]))
    out = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "What space do they embed symbolic data into?",
                          "--json", "--history", str(history)], env=model_env, capture_output=True, text=True,
                         timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(out.stdout)
    assert set(data) >= {"question", "answer", "abstained", "citations", "sources", "timings", "model"}
    markers = {c["marker"] for c in data["citations"]}
    import re
    assert markers == {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])}
    assert data["sources"] and data["sources"][0]["rank"] == 1


def test_cli_user_mistakes_are_one_line_errors(model_env):
    out = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "   "], env=model_env, capture_output=True,
                         text=True, timeout=600, cwd=REPO)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("rag: error: the question is empty")
    assert "Traceback" not in out.stderr
