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

        config = openai_config("llm", retries=4, timeout=120.0)
        config.require_key("the openai engine", "use --engine local")
        self.base_url = config.url
        self.model = settings.model or DEFAULT_MODEL
        # The client retries timeouts, 429 and 5xx with exponential backoff itself.
        self.client = openai.OpenAI(**config.client_options())
        self.formats = ["json_schema", "json_object", "none"]  # narrowed to what the server accepts

    def chat(self, messages, *, max_tokens, temperature, seed, schema):
        import openai

        try:
            return self._create(messages, max_tokens, temperature, seed, schema)
        except openai.BadRequestError as exc:
            raise EngineError(f"the API at {self.base_url} rejected the request: {_short(exc)}") from None
        except openai.APIConnectionError:
            raise ConfigError(f"cannot reach the OpenAI-compatible API at {self.base_url}; start the server or "
                              "fix OPENAI_BASE_URL") from None
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
                reply = self.client.chat.completions.create(
                    model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature,
                    seed=seed, **self._format(schema))
                return reply.choices[0].message.content or ""
            except openai.APIStatusError as exc:
                # Servers differ in how they take a JSON schema (llama.cpp's answers 500 to json_schema):
                # a complaint about response_format means "try the next way of asking".
                rejected = exc.status_code in (400, 422) or "response_format" in str(exc)
                if not (schema and len(self.formats) > 1 and rejected):
                    raise
                self.formats.pop(0)

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
