"""A loopback OpenAI-compatible server (POST /v1/chat/completions, the real wire format the openai client
speaks) whose model is a writer the test lays out: it answers each request with the next of its drafts, the
last one again when they run out. For the paths a small model takes now and then (an offensive title, our
own prompt echoed) that a test cannot wait for the bundled model to write."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WriterServer:
    def __init__(self, drafts: list[str]):
        self.drafts, self.asked = list(drafts), []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def do_GET(self) -> None:  # /v1/models
                self._json(200, {"object": "list", "data": [{"id": "writer", "object": "model", "owned_by": "test"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with owner.lock:
                    owner.asked.append(body)
                    content = owner.drafts[min(len(owner.asked), len(owner.drafts)) - 1]
                self._json(200, {"id": f"c{len(owner.asked)}", "object": "chat.completion", "created": 0,
                                 "model": body.get("model", "writer"),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": content}}],
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

            def _json(self, status: int, data: dict) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> "WriterServer":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
