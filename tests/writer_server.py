"""A loopback OpenAI-compatible server (POST /v1/chat/completions, the real wire format the openai client
speaks) whose model is a writer the test lays out: it answers each request with the next of its drafts, the
last one again when they run out. For the paths a small model takes now and then (an offensive title, our
own prompt echoed) that a test cannot wait for the bundled model to write."""

from __future__ import annotations

import json
import threading

import loopback


class WriterServer:
    def __init__(self, drafts: list[str]):
        self.drafts, self.asked = list(drafts), []
        self.lock = threading.Lock()
        self.server = None

    def _answer(self, handler) -> None:
        if handler.command == "GET":  # /v1/models
            loopback.send_json(handler, 200, {"object": "list", "data": [{"id": "writer", "object": "model", "owned_by": "test"}]})
            return
        body = json.loads(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) or b"{}")
        with self.lock:
            self.asked.append(body)
            content = self.drafts[min(len(self.asked), len(self.drafts)) - 1]
        loopback.send_json(handler, 200, {"id": f"c{len(self.asked)}", "object": "chat.completion", "created": 0,
                                          "model": body.get("model", "writer"),
                                          "choices": [{"index": 0, "finish_reason": "stop",
                                                       "message": {"role": "assistant", "content": content}}],
                                          "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def __enter__(self) -> "WriterServer":
        self.server = loopback.serve(self._answer, name="writer-server")
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
