"""Shared fixtures: a clean working directory per test and a loopback OpenAI-compatible server."""

from __future__ import annotations

import os

import pytest

from llm_server import free_port, llama_server


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory):
    """Base URL of a real llama.cpp OpenAI-compatible server on 127.0.0.1 (started once per session)."""
    with llama_server(tmp_path_factory.mktemp("llm-server") / "server.log") as url:
        yield url


@pytest.fixture
def dead_api(monkeypatch):
    """Environment that sends the openai engines to a closed loopback port: any engine call fails loudly."""
    return {"OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1", "OPENAI_API_KEY": "test", "CS_LLM_RETRIES": "0"}


@pytest.fixture(autouse=True)
def _no_user_api(monkeypatch):
    """Tests never reach a real API configured in the developer's shell."""
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "CS_LLM_ENGINE", "CS_LLM_MODEL", "CS_LLM_SEED",
                 "PEXELS_API_KEY", "PIXABAY_API_KEY", "CS_IMAGES_API_KEY", "CS_IMAGES_BASE_URL", "CS_PEXELS_URL",
                 "CS_PIXABAY_URL", "CS_VISUALS", "CS_IMAGE_MODEL", "CS_LIBRARY", "CS_CLUSTER"):
        monkeypatch.delenv(name, raising=False)
    os.environ.setdefault("CS_LLM_THREADS", "2")
