"""Shared fixtures: a clean working directory per test and a loopback OpenAI-compatible server."""

from __future__ import annotations

import os

import pytest

from llm_server import llama_server
from loopback import free_port


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory):
    """Base URL of a real llama.cpp OpenAI-compatible server on 127.0.0.1 (started once per session)."""
    with llama_server(tmp_path_factory.mktemp("llm-server") / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL server for the whole session (tests/pg_server.py); each test makes its own
    database in it (`postgres.create_database(name)`), so test files no longer start one each."""
    from pg_server import PostgresServer, find_bin

    if find_bin() is None:  # `make setup` installs it from requirements-apt.txt
        pytest.fail("PostgreSQL is missing; run `make setup` (requirements-apt.txt lists postgresql)")
    with PostgresServer() as server:
        yield server


@pytest.fixture
def tmpfs(tmp_path):
    """`tmpfs("96k")`: a folder on a tmpfs of that size, a full disk a few writes fill. Mounting needs root,
    which `make setup` has too (it apt-installs as root or through sudo): the same goes for the tests, so a
    machine that cannot mount fails here instead of skipping the full-disk tests."""
    import subprocess

    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    mounted: list = []

    def mount(size: str):
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        done = subprocess.run([*prefix, "mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.fail(f"cannot mount a {size} tmpfs ({done.stderr.strip()}); run the tests as root or with "
                        "password-less sudo, as make setup does")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run([*prefix, "umount", str(folder)], check=False, capture_output=True)


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
    # Under two pytest workers (make test: -n 2) each model process gets one thread: llama.cpp's and
    # OpenMP's threads spin while they wait for each other, and two 2-thread models on 2 cores ran 5x slower
    # (test_long_script_is_written_section_by_section: 32 s alone, 160 s beside another worker).
    shared = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    os.environ.setdefault("CS_LLM_THREADS", "1" if shared else "2")
    if shared:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
