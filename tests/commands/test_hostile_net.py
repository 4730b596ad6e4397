"""Hostile answers against the one HTTP fetcher (core/http) and its callers: `file://` links and redirects,
huge, endless and trickling bodies, a symlink planted at a part file, a decompression-bomb still, valid JSON
of the wrong shape, an HTML page, a server that accepts and never answers (stock, images and LLM APIs).
All over real HTTP from tests/hostile_server.py, with deadlines and caps made small through the environment."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hostile_server import HostileServer, png_header  # noqa: E402
from media_fixtures import espeak_narration, run_cs, script_record  # noqa: E402

from creator_tools.core import http  # noqa: E402
from creator_tools.engines.visuals import Shot, VisualSettings  # noqa: E402
from creator_tools.errors import EngineError  # noqa: E402

SECRET = b"PRIVATE: the contents of /home/me/private.jpg"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    secret = tmp_path_factory.mktemp("home") / "private.jpg"
    secret.write_bytes(SECRET)
    with HostileServer(secret) as server:
        yield server


@pytest.fixture
def net(hostile, tmp_path, monkeypatch):
    """Small limits, so each hostile case ends in about a second; a fresh CS_OUT_DIR."""
    for name, value in {"CS_OUT_DIR": str(tmp_path / "out"), "PEXELS_API_KEY": "key", "CS_VISUALS_TRIES": "2",
                        "CS_VISUALS_MAX_WAIT": "0.1", "CS_HTTP_DEADLINE": "1.5", "CS_MAX_STILL_MB": "1",
                        "CS_IMAGES_API_KEY": "key"}.items():
        monkeypatch.setenv(name, value)
    return hostile


def pexels(hostile, monkeypatch, scenario: str):
    from creator_tools.engines.visuals_stock import PexelsProvider

    monkeypatch.setenv("CS_PEXELS_URL", hostile.base(scenario))
    return PexelsProvider(VisualSettings())


def shot(query: str = "ocean") -> Shot:
    return Shot(0.0, 2.0, "The ocean rolls in.", query, width=64, height=64)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def assert_nothing_leaked(folder: Path) -> None:
    for path in files_under(folder):
        assert SECRET not in path.read_bytes(), path
    assert not [p for p in files_under(folder) if p.name.endswith(".part")]


# --- schemes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["file+ok", "redirect-file+ok"])
def test_a_file_link_is_never_read_and_the_next_candidate_is(net, monkeypatch, tmp_path, capsys, scenario):
    asset = pexels(net, monkeypatch, scenario).find(shot(), set())
    assert asset.asset_id == "pexels:photo:1"  # the second candidate, the real JPEG
    assert Path(asset.path).read_bytes() == net.jpeg
    assert "refused" in capsys.readouterr().err
    assert_nothing_leaked(tmp_path / "out")


def test_only_https_links_follow_an_https_base_url():
    allowed = http.allowed_schemes("https://api.pexels.com")
    assert http.check_url("https://videos.pexels.com/a.mp4", allowed)
    for link in ("http://videos.pexels.com/a.mp4", "file:///etc/passwd", "ftp://x/y", "data:,x", "https:///x", 42):
        with pytest.raises(http.Refused):
            http.check_url(link, allowed)


def test_images_api_file_url_falls_back_to_a_card(net, tmp_path):
    """The issue's repro: `{"data":[{"url":"file:///PATH"}]}` with --provider images,cards."""
    record = {**script_record(["The ocean rolls in."]),
              **espeak_narration(tmp_path, ["The ocean rolls in."], name="voice.wav")}
    result = run_cs("visuals", [record], "--provider", "images,cards", cwd=tmp_path,
                    env={"CS_IMAGES_BASE_URL": net.base("file"), "CS_OUT_DIR": str(tmp_path / "out")})
    assert result.code == 0, result.stderr
    assert [s["kind"] for s in result.records[0]["visuals"]] == ["card"]
    assert "refused" in result.stderr and "unexpected" not in result.stderr
    assert_nothing_leaked(tmp_path / "out")


# --- sizes and clocks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["huge+ok", "endless+ok", "trickle+ok"])
def test_oversized_endless_and_trickling_downloads_end_and_fall_back(net, monkeypatch, tmp_path, capsys, scenario):
    started = time.monotonic()
    asset = pexels(net, monkeypatch, scenario).find(shot(), set())
    assert time.monotonic() - started < 8
    assert Path(asset.path).read_bytes() == net.jpeg
    err = capsys.readouterr().err
    expected = {"huge": "says it is 5120.0 MB, over the 1 MB cap (CS_MAX_STILL_MB)",
                "endless": "over the 1 MB cap (CS_MAX_STILL_MB)", "trickle": "CS_HTTP_DEADLINE"}
    assert expected[scenario.split("+")[0]] in err, err
    assert net.count("/media/" + scenario.split("+")[0]) == 1  # given up at once, not retried
    assert_nothing_leaked(tmp_path / "out")


def test_a_body_under_the_minimum_rate_is_given_up(net, monkeypatch, tmp_path):
    monkeypatch.setattr(http, "RATE_GRACE_S", 0.5)
    limits = http.Limits(cap=1 << 20, cap_setting="CS_MAX_STILL_MB", timeout=5, deadline=30, min_rate=100.0)
    started = time.monotonic()
    with open(tmp_path / "part", "w+b") as handle, pytest.raises(http.TooSlow, match="CS_HTTP_MIN_RATE"):
        http.download(net.links("trickle")[0], handle, allowed=frozenset({"http"}), limits=limits)
    assert time.monotonic() - started < 3


def test_a_server_that_never_answers_hits_the_deadline(net, monkeypatch, capsys):
    started = time.monotonic()
    with pytest.raises(EngineError, match="Pexels"):
        pexels(net, monkeypatch, "silent").find(shot(), set())
    assert time.monotonic() - started < 8  # two tries of 1.5 s, not two of 30 s
    assert "CS_HTTP_DEADLINE" in capsys.readouterr().err


def test_messages_never_show_a_key_from_the_query(net):
    limits = http.Limits(cap=1000, cap_setting="CS_MAX_JSON_MB", timeout=5, deadline=0.5)
    with pytest.raises(http.FetchError) as caught:
        http.request("GET", net.base("silent") + "/api/?key=SECRET-KEY", allowed=frozenset({"http"}), limits=limits)
    assert "CS_HTTP_DEADLINE" in caught.value.message and "SECRET" not in caught.value.message


def test_json_answers_are_capped(net, monkeypatch):
    limits = http.Limits(cap=1000, cap_setting="CS_MAX_JSON_MB", timeout=5, deadline=5)
    with pytest.raises(http.TooLarge, match="CS_MAX_JSON_MB"):
        http.request("GET", net.links("endless")[0], allowed=frozenset({"http"}), limits=limits)


# --- files ----------------------------------------------------------------------------------------------


def test_a_symlink_planted_at_the_part_name_is_never_followed(net, monkeypatch, tmp_path):
    from creator_tools.engines.visuals_http import sha

    provider = pexels(net, monkeypatch, "ok")
    link = net.links("ok")[0]
    folder = tmp_path / "out" / "visuals" / "pexels"
    folder.mkdir(parents=True)
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    os.symlink(victim, folder / f".{sha(link)[:24]}.jpg.part")
    with pytest.raises(EngineError, match="symlink"):
        provider.find(shot(), set())
    assert victim.read_bytes() == b"keep me"


def test_open_part_refuses_links_and_other_non_files(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    os.symlink(tmp_path / "elsewhere", tmp_path / "dangling")
    for name in ("fifo", "dangling"):
        with pytest.raises(http.Refused):
            http.open_part(tmp_path / name)
    assert not (tmp_path / "elsewhere").exists()
    with http.open_part(tmp_path / "plain") as handle:
        handle.write(b"ab")
    with http.open_part(tmp_path / "plain") as handle:  # kept: a download resumes
        assert handle.tell() == 2


def test_a_decompression_bomb_still_is_refused_in_one_line(net, monkeypatch, tmp_path, capsys):
    asset = pexels(net, monkeypatch, "bomb+ok").find(shot(), set())
    assert Path(asset.path).read_bytes() == net.jpeg
    err = capsys.readouterr().err
    assert "169 MP, over the 89 MP a still may have" in err and "DecompressionBomb" not in err


def test_a_library_bomb_still_names_itself_in_one_line(tmp_path):
    from creator_tools.errors import BadInput
    from creator_tools.media.cards import fit_still

    bomb = tmp_path / "huge.png"
    bomb.write_bytes(png_header(13000, 13000))
    with pytest.raises(BadInput, match=r"huge.png: the image has 169 MP"):
        fit_still(bomb, tmp_path / "out.y4m", (64, 64))


# --- wrong shapes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario, sent", [("list", "a list ([1, 2, 3])"), ("nope", '"videos": "nope"'),
                                            ("html", "an HTML page")])
def test_stock_answers_of_the_wrong_shape_name_the_service(net, monkeypatch, tmp_path, scenario, sent):
    with pytest.raises(EngineError) as caught:
        pexels(net, monkeypatch, scenario).find(shot(), set())
    assert caught.value.message.startswith("Pexels sent") or caught.value.message.startswith("Pexels answered")
    assert sent in caught.value.message
    assert not list((tmp_path / "out").rglob("*.json"))  # a wrong answer is not cached for 24 h


@pytest.mark.parametrize("scenario, sent", [("list", "a list ([1, 2, 3])"), ("nope", '"data": "nope"'),
                                            ("html", "an HTML page")])
def test_images_answers_of_the_wrong_shape_name_the_service(net, monkeypatch, scenario, sent):
    from creator_tools.engines.visuals_images import ImagesProvider

    monkeypatch.setenv("CS_IMAGES_BASE_URL", net.base(scenario))
    with pytest.raises(EngineError) as caught:
        ImagesProvider(VisualSettings()).find(shot(), set())
    assert "the images API at" in caught.value.message and sent in caught.value.message


# --- OpenAI-compatible servers --------------------------------------------------------------------------


def test_a_hung_llm_server_defers_each_record_and_says_each_retry(net, tmp_path):
    env = {"OPENAI_BASE_URL": net.base("silent"), "OPENAI_API_KEY": "k", "CS_OPENAI_TIMEOUT": "0.5",
           "CS_OPENAI_RETRIES": "1", "CS_LLM_RETRIES": ""}
    result = run_cs("idea", "", "tea", "coffee", "--engine", "openai", cwd=tmp_path, env=env, timeout=60)
    assert result.code == 4, result.stderr
    assert len(result.records) == 2 and all(r["_error"]["retryable"] for r in result.records)
    assert result.stderr.count("retrying in") == 2  # one retry per record, each said
    assert "did not answer a chat completion within 0.5 s" in result.stderr and "deferred" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("scenario, sent", [("nope", "'{\"choices\": \"nope\"}'"), ("list", "'[1,2,3]'"),
                                            ("html", "an HTML page")])
def test_llm_answers_of_the_wrong_shape_name_the_server(net, tmp_path, scenario, sent):
    env = {"OPENAI_BASE_URL": net.base(scenario), "OPENAI_API_KEY": "k"}
    result = run_cs("idea", "", "tea", "-k", "--engine", "openai", cwd=tmp_path, env=env, timeout=60)
    assert result.code == 3, result.stderr
    assert f"sent {sent}, not a chat completion" in result.stderr, result.stderr
    assert "unexpected" not in result.stderr


def test_a_hung_tts_server_defers_the_record(net, tmp_path):
    env = {"OPENAI_BASE_URL": net.base("silent"), "OPENAI_API_KEY": "k", "CS_OPENAI_TIMEOUT": "0.5",
           "CS_OPENAI_RETRIES": "1"}
    result = run_cs("voice", [script_record(["Hello there."])], "--engine", "openai", cwd=tmp_path, env=env, timeout=60)
    assert result.code == 4, result.stderr
    assert result.records[0]["_error"]["retryable"] and result.stderr.count("retrying in") == 1
    assert "did not answer audio.speech within 0.5 s" in result.stderr


@pytest.mark.parametrize("scenario", ["huge", "endless"])
def test_llm_and_tts_answers_are_capped(net, tmp_path, scenario):
    """The openai client reads a whole answer into memory: 5 GiB declared, or zeros that never end, stop at
    the cap (CS_MAX_JSON_MB for text, CS_MAX_CLIP_MB for audio) with one line, and are not asked again."""
    env = {"OPENAI_BASE_URL": net.base(scenario), "OPENAI_API_KEY": "k", "CS_MAX_JSON_MB": "1", "CS_MAX_CLIP_MB": "2"}
    before = net.count("/chat/completions")
    result = run_cs("idea", "", "tea", "-k", "--engine", "openai", cwd=tmp_path, env=env, timeout=60)
    assert result.code == 3, result.stderr
    assert "over the 1 MB cap (CS_MAX_JSON_MB)" in result.stderr, result.stderr
    assert net.count("/chat/completions") - before == 1 and "unexpected" not in result.stderr
    result = run_cs("voice", [script_record(["Hello there."])], "--engine", "openai", cwd=tmp_path, env=env, timeout=60)
    assert result.code != 0 and "over the 2 MB cap (CS_MAX_CLIP_MB)" in result.stderr, result.stderr
    assert "unexpected" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_cap_that_is_no_number_is_one_configuration_error(net, monkeypatch):
    from creator_tools.errors import ConfigError

    monkeypatch.setenv("CS_MAX_CLIP_MB", "lots")
    with pytest.raises(ConfigError, match="CS_MAX_CLIP_MB='lots' is not a number"):
        pexels(net, monkeypatch, "ok")
