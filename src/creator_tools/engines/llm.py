"""LLM engines behind one small interface.

An engine implements `chat(messages, max_tokens, temperature, seed, schema)` and returns the reply text;
the base class adds few-shot prompting, JSON-schema validation and bounded retries. An engine running a base
model (not instruction-tuned) sets `writes_documents` and implements `continuation(document, ...)`: stages
then give it a few-shot document in the record's language to continue (`documents.py`), not instructions.
`model_for(language)` lets an engine pick its own model per language when none is named. Engines are found by
name in ENGINES (import paths, loaded only when chosen) or in the `creator_tools.llm` entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import nullcontext

import threading
from typing import Any, Callable, NamedTuple, Sequence

from .. import engines as registry
from ..core import config
from ..errors import EngineError

ENGINES = {
    "local": "creator_tools.engines.llm_local:LocalLLM",
    "openai": "creator_tools.engines.llm_openai:OpenAILLM",
}
Message = dict[str, str]
Example = tuple[str, str]  # (user prompt, ideal reply)


class LLMSettings(NamedTuple):
    """Engine choice from flags; hashable, so one engine is built per distinct setting."""

    engine: str | None = None
    model: str | None = None
    seed: int | None = None
    temperature: float | None = None

    def resolved(self) -> "LLMSettings":
        """Fill blanks from the environment: CS_LLM_ENGINE, CS_LLM_MODEL, CS_LLM_SEED."""
        engine = self.engine or config.get("CS_LLM_ENGINE") or default_engine()
        model = self.model or config.get("CS_LLM_MODEL") or None
        seed = self.seed if self.seed is not None else _int_env("CS_LLM_SEED")
        return LLMSettings(engine, model, seed, self.temperature)

    def fingerprint(self) -> dict[str, Any]:
        """What goes into a stage's inputs: a different model or seed is different work."""
        settings = self.resolved()
        return {"engine": settings.engine, "model": settings.model, "seed": settings.seed, "temperature": settings.temperature}


def default_engine() -> str:
    """`openai` when an API is configured, else the bundled local model."""
    return "openai" if config.first("OPENAI_BASE_URL", "OPENAI_API_KEY") else "local"


def _int_env(name: str) -> int | None:
    value = config.get(name)
    return int(value) if value and value.lstrip("-").isdigit() else None


class InvalidReply(EngineError):
    """The model answered, but never in the shape asked for (a server failure is a different error)."""


class LLM(ABC):
    """Base engine. Subclasses implement `chat`; a lock serialises calls for engines that are not thread-safe."""

    name = "base"
    thread_safe = True
    writes_documents = False  # a base model: give it documents to continue (continue_document), not a chat

    def __init__(self, settings: LLMSettings):
        self.settings = settings
        self.seed = settings.seed
        self.calls = 0
        self._lock = threading.Lock()

    @abstractmethod
    def chat(self, messages: list[Message], *, max_tokens: int, temperature: float, seed: int | None,
             schema: dict | None) -> str:
        """The model's reply text; with SCHEMA, constrained to JSON of that shape where the engine can."""

    @classmethod
    def model_for(cls, language: str) -> str | None:
        """The model this engine uses for LANGUAGE when neither --model nor CS_LLM_MODEL names one (None: its
        default)."""
        return None

    def continuation(self, document: str, *, max_tokens: int, temperature: float, seed: int | None,
                     stop: Sequence[str]) -> str:
        """The text that follows DOCUMENT, up to a STOP string (engines that set writes_documents)."""
        raise EngineError(f"the {self.name} LLM engine writes chat replies, not document continuations")

    def continue_document(self, document: str, *, max_tokens: int = 200, stop: Sequence[str] = (),
                          seed_offset: int = 0) -> str:
        """What the model writes after DOCUMENT (a base model's way of answering), stopped at STOP."""
        temperature = self.settings.temperature if self.settings.temperature is not None else 0.7
        seed = None if self.seed is None else self.seed + seed_offset
        self.calls += 1
        with self._lock if not self.thread_safe else nullcontext():
            return self.continuation(document, max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop)

    def _call(self, messages: list[Message], max_tokens: int, schema: dict | None, attempt: int) -> str:
        temperature = self.settings.temperature if self.settings.temperature is not None else 0.8
        seed = None if self.seed is None else self.seed + attempt
        self.calls += 1
        if self.thread_safe:
            return self.chat(messages, max_tokens=max_tokens, temperature=temperature, seed=seed, schema=schema)
        with self._lock:
            return self.chat(messages, max_tokens=max_tokens, temperature=temperature, seed=seed, schema=schema)

    def json(self, system: str, prompt: str, schema: dict, *, max_tokens: int = 512,
             examples: Sequence[Example] = (), attempts: int = 3, seed_offset: int = 0) -> dict:
        """A reply that parses as JSON and validates against SCHEMA, asking again up to ATTEMPTS times."""
        import json

        import jsonschema

        messages = _messages(system, prompt, examples)
        problem = "no reply"
        for attempt in range(attempts):
            text = self._call(messages, max_tokens, schema, seed_offset + attempt)
            try:
                value = json.loads(text)
                jsonschema.validate(value, schema)
                return value
            except json.JSONDecodeError as exc:
                problem = f"reply was not JSON ({exc.msg})"
            except jsonschema.ValidationError as exc:
                problem = f"reply did not fit the schema ({exc.message[:120]})"
        raise InvalidReply(f"{self.name} LLM gave no valid answer in {attempts} tries: {problem}; "
                          "try a larger model (--model) or another --seed")

    def text(self, system: str, prompt: str, *, max_tokens: int = 256, examples: Sequence[Example] = (),
             seed_offset: int = 0) -> str:
        return self._call(_messages(system, prompt, examples), max_tokens, None, seed_offset).strip()

    def close(self) -> None:
        """Free the model or connection."""


def _messages(system: str, prompt: str, examples: Sequence[Example]) -> list[Message]:
    messages = [{"role": "system", "content": system}]
    for user, reply in examples:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return messages + [{"role": "user", "content": prompt}]


def engine_names() -> list[str]:
    return registry.names("creator_tools.llm", ENGINES)


_engines = registry.OncePerProcess()


def get_llm(settings: LLMSettings | None = None, language: str | None = None) -> LLM:
    """The engine for SETTINGS, built once per process (loading a model is the slow part). With LANGUAGE and
    no model named (--model, CS_LLM_MODEL), the engine's own choice for that language (`model_for`): the
    local engine writes Arabic with another bundled model than English."""
    settings = (settings or LLMSettings()).resolved()
    if settings.model is None and language:
        settings = settings._replace(model=_load(settings.engine).model_for(language))
    return _engines.get(settings, lambda: _load(settings.engine)(settings))


def _load(name: str) -> Callable[[LLMSettings], LLM]:
    return registry.load("creator_tools.llm", ENGINES, name, "--engine or CS_LLM_ENGINE")
