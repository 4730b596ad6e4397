"""Any OpenAI-compatible chat API: OpenAI itself, Ollama, vLLM, llama.cpp's server. Configuration, not a
code fork: OPENAI_BASE_URL and OPENAI_API_KEY pick the server, --model or CS_LLM_MODEL the model."""

from __future__ import annotations

from ..errors import ConfigError, EngineError, QuotaDeferred
from .llm import LLM, LLMSettings

DEFAULT_MODEL = "gpt-4o-mini"


class OpenAILLM(LLM):
    name = "openai"

    def __init__(self, settings: LLMSettings):
        super().__init__(settings)
        import openai

        from .openai_config import openai_config

        from .openai_config import Answered

        config = openai_config("llm", retries=4, timeout=120.0)
        config.require_key("the openai engine", "use --engine local")
        self.config = config
        self.base_url = config.url
        self.model = settings.model or DEFAULT_MODEL
        # Timeouts, 429 and 5xx are retried by with_retries (one stderr line each), then the record is deferred.
        self.client = openai.OpenAI(**config.client_options())
        self.answered = Answered()
        self.formats = ["json_schema", "json_object", "none"]  # narrowed to what the server accepts

    def chat(self, messages, *, max_tokens, temperature, seed, schema):
        import openai

        from .openai_config import with_retries

        try:
            return with_retries(self.config, "a chat completion",
                                lambda: self._create(messages, max_tokens, temperature, seed, schema), self.answered)
        except openai.BadRequestError as exc:
            raise EngineError(f"the API at {self.base_url} rejected the request: {_short(exc)}") from None
        except openai.APIResponseValidationError as exc:
            raise EngineError(f"the API at {self.base_url} sent a reply that is no chat completion "
                              f"({_short(exc)}); check OPENAI_BASE_URL") from None
        except openai.AuthenticationError:
            raise ConfigError(f"the API at {self.base_url} refused the key; check OPENAI_API_KEY") from None
        except openai.NotFoundError:
            raise ConfigError(f"model '{self.model}' not found at {self.base_url}; set --model or CS_LLM_MODEL") from None
        except openai.RateLimitError as exc:
            raise QuotaDeferred(f"rate limited by {self.base_url} after retries ({_short(exc)}); run again later") from None
        except openai.APIStatusError as exc:
            raise EngineError(f"the API at {self.base_url} failed with HTTP {exc.status_code}: {_short(exc)}",
                              retryable=exc.status_code >= 500) from None

    def _create(self, messages, max_tokens, temperature, seed, schema) -> str:
        import openai

        while True:
            try:
                raw = self.client.chat.completions.with_raw_response.create(
                    model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature,
                    seed=seed, **self._format(schema))
                return self._content(raw)
            except openai.APIStatusError as exc:
                # Servers differ in how they take a JSON schema (llama.cpp's answers 500 to json_schema):
                # a complaint about response_format means "try the next way of asking".
                rejected = exc.status_code in (400, 422) or "response_format" in str(exc)
                if not (schema and len(self.formats) > 1 and rejected):
                    raise
                self.formats.pop(0)

    def _content(self, raw) -> str:
        """The reply's text; an EngineError naming the server and what it sent when the answer is valid
        JSON of another shape (`[1,2,3]`, `"choices": "nope"`) or no JSON at all (an HTML page)."""
        try:
            reply = raw.parse()
            content = reply.choices[0].message.content
            if content is not None and not isinstance(content, str):
                raise TypeError("content is not a string")
            return content or ""
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            from ..core.http import sent

            raise EngineError(f"the API at {self.base_url} sent {sent(raw.http_response.content)}, not a chat "
                              "completion with choices[0].message.content; check OPENAI_BASE_URL") from None

    def _format(self, schema: dict | None) -> dict:
        if not schema or self.formats[0] == "none":
            return {}
        if self.formats[0] == "json_schema":
            return {"response_format": {"type": "json_schema",
                                        "json_schema": {"name": "record", "schema": schema, "strict": False}}}
        # llama.cpp's server and some others take the schema inside json_object.
        return {"response_format": {"type": "json_object", "schema": schema}}

    def close(self) -> None:
        self.client.close()


def _short(exc: Exception) -> str:
    return str(exc).replace("\n", " ")[:200]
