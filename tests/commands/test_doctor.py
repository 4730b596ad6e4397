"""cs-doctor: this machine passes offline, remotes that are not set are "not configured", a dead
OPENAI_BASE_URL is a failure with a fix and a live one lists its models (issue 13 item 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import loopback
from llm_server import free_port

DOCTOR = str(Path(sys.executable).parent / "cs-doctor")
STATUSES = {"ok", "fail", "warn", "not configured"}
REMOTES = ("OPENAI_BASE_URL", "PEXELS_API_KEY", "PIXABAY_API_KEY", "CS_DB", "YouTube token", "cluster")


def _doctor(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[int, list[dict], str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("CS_DB", "CS_YOUTUBE_TOKEN", "CS_STT_MODEL")}
    environment.update({"CS_OUT_DIR": str(tmp_path / "out"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
                        **(env or {})})
    done = subprocess.run([DOCTOR, "--json", *args], capture_output=True, text=True, env=environment, timeout=120)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def test_offline_this_machine_passes_and_unset_remotes_are_not_configured(tmp_path):
    code, checks, stderr = _doctor(tmp_path, "--offline")
    assert code == 0, (stderr, [c for c in checks if c["status"] == "fail"])
    assert all(set(c) == {"check", "status", "detail", "fix"} and c["status"] in STATUSES for c in checks), checks
    by_name = {c["check"]: c for c in checks}
    for name in ("ffmpeg", "ffprobe", "ffmpeg filter subtitles", "ffmpeg filter loudnorm",
                 "ffmpeg filter sidechaincompress", "encoder libx264", "font latin", "font emoji",
                 "model LLM (gguf)", "model Piper voice", "model whisper tiny.en", "CS_OUT_DIR"):
        assert by_name[name]["status"] == "ok", by_name[name]
    for name in REMOTES:
        assert by_name[name]["status"] == "not configured", by_name[name]
    assert {"font arabic", "font devanagari", "font cjk", "CUDA for faster-whisper", "encoder h264_nvenc"} <= set(by_name)


def test_a_dead_openai_server_is_a_failure_that_says_what_to_do(tmp_path):
    base = f"http://127.0.0.1:{free_port()}/v1"
    code, checks, stderr = _doctor(tmp_path, env={"OPENAI_BASE_URL": base})
    assert code == 1
    (line,) = [c for c in checks if c["check"] == "OPENAI_BASE_URL"]
    assert line["status"] == "fail" and base in line["detail"] and "OPENAI_BASE_URL" in line["fix"], line
    assert "OPENAI_BASE_URL" in stderr and "Traceback" not in stderr
    others = {c["check"]: c["status"] for c in checks if c["check"] in REMOTES[1:]}
    assert set(others.values()) == {"not configured"}, others


def _models(handler) -> None:
    """GET /v1/models as an OpenAI-compatible server answers it, for the key sk-test only."""
    if handler.path != "/v1/models" or handler.headers.get("Authorization") != "Bearer sk-test":
        loopback.send_json(handler, 404 if handler.path != "/v1/models" else 401, {"error": {"message": "no"}})
        return
    loopback.send_json(handler, 200, {"object": "list", "data": [{"id": "smollm2", "object": "model"},
                                                                 {"id": "tts-1", "object": "model"}]})


@pytest.fixture(scope="module")
def models_server():
    server = loopback.serve(_models, name="models-server")
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_a_live_openai_server_lists_its_models_and_a_wrong_key_fails(models_server, monkeypatch):
    from creator_tools.commands import doctor

    monkeypatch.setenv("OPENAI_BASE_URL", models_server)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    found = doctor.check_openai(offline=False)
    assert found.status == "ok" and "2 model(s): smollm2, tts-1" in found.detail, found
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    found = doctor.check_openai(offline=False)
    assert found.status == "fail" and "401" in found.detail and "OPENAI_API_KEY" in found.fix, found
    assert doctor.check_openai(offline=True).status == "warn"  # set, but --offline checks no network
