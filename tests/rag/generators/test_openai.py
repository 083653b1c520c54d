"""The OpenAI-compatible backend against a real HTTP server on loopback that streams server-sent events."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.errors import ModelError
from rag.generators.openai import OpenAIGenerator


class _Handler(BaseHTTPRequestHandler):
    requests: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.requests.append((self.path, body, self.headers.get("Authorization")))
        if body["model"] != "qwen":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error": "model not found"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ["3DIEBench ", "has 55 ", "classes [1]."]:
            chunk = {"choices": [{"delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_streams_the_reply_and_sends_the_chat(server):
    gen = OpenAIGenerator(server, "qwen", api_key="k")
    pieces = list(gen.stream([{"role": "user", "content": "q"}], max_new_tokens=20))
    assert "".join(pieces) == "3DIEBench has 55 classes [1]." and len(pieces) == 3
    path, body, auth = _Handler.requests[-1]
    assert path == "/v1/chat/completions" and body["max_tokens"] == 20 and body["stream"] is True
    assert auth == "Bearer k"


def test_wrong_model_and_unreachable_server_are_one_line_errors(server):
    with pytest.raises(ModelError, match="HTTP 404"):
        list(OpenAIGenerator(server, "nope").stream([{"role": "user", "content": "q"}], max_new_tokens=5))
    with pytest.raises(ModelError, match="cannot reach"):
        list(OpenAIGenerator("http://127.0.0.1:9", "qwen", connect_timeout_s=1).stream(
            [{"role": "user", "content": "q"}], max_new_tokens=5))
