"""Hostile input, each case a repro line from issue 10 ("Bad input"), driven through the installed commands:
every one must end in one clear stderr line (or an error record with -k), the right exit status, no
traceback, and nothing lost or overwritten. cs-script on finished records is the instant stage, cs-voice
with espeak-ng the cheap real one; whisper runs only for the damaged-media cases."""

from __future__ import annotations

import json
import math
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from media_fixtures import script_record

from creator_tools import schemas

BIN = Path(sys.executable).parent


def sh(command: str, cwd: Path, stdin: str = "", env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "CS_OUT_DIR": str(cwd / "cs-out"), **(env or {})}
    return subprocess.run(["bash", "-c", command], input=stdin, capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=timeout)


def lines(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def strict(text: str) -> list[dict]:
    """Parse JSON Lines as a strict JSON reader would: NaN and Infinity are errors."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return [json.loads(line, parse_constant=refuse) for line in text.splitlines() if line.strip()]


def one_error_line(done: subprocess.CompletedProcess, command: str) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"{command}: error: "), done.stderr
    return errors[0]


def finished(n: int) -> dict:
    """A record cs-script has nothing to do for (hand-written script)."""
    return {"id": f"r{n}", "title": f"T{n}", "script": {"title": "t", "language": "en", "cta": "",
                                                        "segments": [{"text": "Hi.", "visual": "x", "on_screen": "x"}]}}


# --- 1, 5: --metrics and -o never replace what they must not, and say why they cannot write ---------------------


def test_metrics_into_a_fifo_writes_through_it(tmp_path):
    # mkfifo m.fifo; cs-voice ... --metrics m.fifo  replaced the FIFO with a text file
    fifo = tmp_path / "m.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    done = sh("cs-script --metrics m.fifo", tmp_path, lines([finished(1)]))
    reader.join(timeout=30)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert 'cs_records_in_total{command="cs-script"} 1' in got[0]


def test_metrics_through_a_symlink_keeps_the_link(tmp_path):
    (tmp_path / "stats").mkdir()
    (tmp_path / "m.prom").symlink_to("stats/real.prom")
    done = sh("cs-script --metrics m.prom", tmp_path, lines([finished(1)]))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "m.prom").is_symlink()
    assert 'cs_records_out_total{command="cs-script"} 1' in (tmp_path / "stats" / "real.prom").read_text()


def test_output_through_a_symlink_keeps_the_link(tmp_path):
    (tmp_path / "real.jsonl").write_text("old\n")
    (tmp_path / "out.jsonl").symlink_to("real.jsonl")
    done = sh("cs-script -o out.jsonl", tmp_path, lines([finished(1)]))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.jsonl").is_symlink()
    assert json.loads((tmp_path / "real.jsonl").read_text())["id"] == "r1"


@pytest.mark.parametrize("flags, says", [
    ("-o /tmp", "-o /tmp is a folder; give a file name, e.g. /tmp/out.jsonl"),
    ("-o file.jsonl/x", "-o file.jsonl/x: {cwd}/file.jsonl is a file, not a folder; choose a path"),
    ("--metrics /tmp", "--metrics /tmp is a folder; give a file name, e.g. /tmp/cs-script.prom"),
    ("--metrics /proc/nope/m.prom", "--metrics /proc/nope/m.prom: cannot make /proc/nope"),
])
def test_unwritable_output_paths_are_usage_errors_before_any_work(tmp_path, flags, says):
    (tmp_path / "file.jsonl").write_text("precious\n")
    done = sh(f"cs-script {flags}", tmp_path, lines([finished(1)]))
    line = one_error_line(done, "cs-script")
    assert done.returncode == 2 and says.format(cwd=tmp_path) in line
    assert done.stdout == ""  # refused before the records, not after them
    assert (tmp_path / "file.jsonl").read_text() == "precious\n"


# --- 2: ids null, "" and 0 -------------------------------------------------------------------------------------


def test_null_empty_and_zero_ids_keep_their_records(tmp_path):
    good = {**script_record(["A short line."]), "id": None}
    empty_id = {**script_record(["Another line."]), "id": "", "script": {"segments": []}}
    zero_id = {**script_record(["Third line."]), "id": 0, "script": "not a script"}
    done = sh("cs-voice --engine espeak -k", tmp_path, lines([good, empty_id, zero_id]))
    assert done.returncode == 3, done.stderr
    out = strict(done.stdout)
    assert len(out) == 3  # nothing vanished
    assert isinstance(out[0]["id"], str) and len(out[0]["id"]) == 12 and "_error" not in out[0]
    assert not Path(out[0]["voice"]["path"]).name.startswith("None-")
    assert isinstance(out[1]["id"], str) and out[1]["id"] and "script.segments is an empty list" in out[1]["_error"]["message"]
    assert out[2]["id"] == 0 and "script should be an object" in out[2]["_error"]["message"]
    assert "record 0: script should be an object" in done.stderr


# --- 4, 12: lines that are no record ---------------------------------------------------------------------------

DEEP = '{"x":' + "[" * 2000 + "]" * 2000 + "}"


@pytest.mark.parametrize("command", ["idea", "script", "voice", "caption", "render", "thumb", "meta", "publish"])
def test_deeply_nested_json_is_a_bad_line_in_every_command(tmp_path, command):
    done = sh(f"cs-{command} -k", tmp_path, DEEP + "\n")
    line = one_error_line(done, f"cs-{command}")
    assert done.returncode == 3 and "<stdin>:1: not a JSON object" in line and "nested too deeply" in line
    (error,) = strict(done.stdout)
    assert error["_error"]["line"] == 1 and error["_error"]["type"] == "BadInput"


def test_an_unparseable_line_with_keep_going_leaves_an_error_record(tmp_path):
    text = lines([finished(1)]) + "[1]\n" + lines([finished(2)])
    done = sh("cs-script -k", tmp_path, text)
    assert done.returncode == 3
    first, bad, last = strict(done.stdout)
    assert (first["id"], last["id"]) == ("r1", "r2")
    assert len(bad["id"]) == 12 and bad["id"] not in ("r1", "r2")
    assert bad["_error"] == {"command": "cs-script", "type": "BadInput", "retryable": False, "input": "<stdin>", "line": 2,
                             "message": "<stdin>:2: not a JSON object; each line must be one {...} record"}
    # the next stage passes it on untouched, so the failure shows at the end of the pipe
    piped = sh("cs-script -k | cs-script -k", tmp_path, text)
    assert piped.returncode == 0 and strict(piped.stdout)[1] == bad


# --- 16: NaN and Infinity -----------------------------------------------------------------------------------------


def test_nan_on_input_is_named_and_never_written_back(tmp_path):
    text = lines([finished(1)]) + '{"id": "n", "voice": {"duration_s": NaN}, "score": [1, -Infinity], "big": 1e999}\n'
    done = sh("cs-script -k", tmp_path, text)
    assert done.returncode == 3
    good, bad = strict(done.stdout)  # strict JSON: no bare NaN
    assert bad["id"] == "n" and bad["voice"] == {"duration_s": None} and bad["score"] == [1, None]
    assert bad["_error"]["line"] == 2
    line = one_error_line(done, "cs-script")
    assert "<stdin>:2: big, score[1], voice.duration_s are NaN or infinity" in line and "write a number or null" in line
    stopped = sh("cs-script", tmp_path, text)
    assert stopped.returncode == 1 and [r["id"] for r in strict(stopped.stdout)] == ["r1"]


# --- 8, 14: wrong types inside stage keys, named by path with the fix ---------------------------------------------


def test_wrong_shapes_are_record_errors_and_good_records_flow_on(tmp_path):
    records = [script_record(["First good line."], record_id="g1"),
               {**script_record(["x"], record_id="obj"), "script": {"title": "t", "segments": {"text": "hi"}}},
               {**script_record(["x"], record_id="empty"), "script": {"title": "t", "segments": []}},
               {**script_record(["x"], record_id="seg"), "script": {"segments": ["just a string"]}},
               script_record(["Second good line."], record_id="g2")]
    done = sh("cs-voice --engine espeak -k", tmp_path, lines(records))
    assert done.returncode == 3 and "Traceback" not in done.stderr and "unexpected" not in done.stderr
    out = {r["id"]: r for r in strict(done.stdout)}
    assert list(out) == ["g1", "obj", "empty", "seg", "g2"]
    assert "voice" in out["g1"] and "voice" in out["g2"]
    assert out["obj"]["_error"]["message"] == (
        "script.segments should be a list of segment objects {text, visual, on_screen}, got an object; "
        "re-run cs-script --force for this record or fix the record")
    assert out["empty"]["_error"]["message"].startswith("script.segments is an empty list")
    assert out["seg"]["_error"]["message"].startswith(
        'script.segments[0] should be a segment object {text, visual, on_screen}, got "just a string"')


def _render_record(record_id: str, **changes) -> dict:
    words = [{"word": w, "start": 0.5 * n, "end": 0.5 * n + 0.4} for n, w in enumerate("one two three four five".split())]
    record = {**script_record(["One two three four five."], record_id=record_id),
              "voice": {"engine": "espeak", "voice": "en", "path": "voice.wav", "duration_s": 2.5,
                        "segments": [{"start": 0.0, "end": 2.5}]},
              "captions": {"language": "en", "words": words, "srt": None, "vtt": None, "ass": None}}
    for path, value in changes.items():
        key, _, field = path.partition("__")
        if field:
            record[key] = {**record[key], field: value}
        else:
            record[key] = value
    return record


def test_render_names_the_key_and_the_fix(tmp_path):
    bad_word = _render_record("word")
    bad_word["captions"]["words"][3] = {**bad_word["captions"]["words"][3], "start": "1.5"}
    records = [_render_record("str", voice="voice.wav"), _render_record("abc", voice__duration_s="abc"),
               _render_record("neg", voice__duration_s=-5), bad_word, _render_record("num", voice=42)]
    done = sh("cs-render -k", tmp_path, lines(records))
    assert done.returncode == 3 and "Traceback" not in done.stderr and "unexpected" not in done.stderr
    errors = {r["id"]: r["_error"]["message"] for r in strict(done.stdout)}
    voice_fix = "re-run cs-voice --force for this record or fix the record"
    assert errors["str"] == f'voice should be an object {{engine, voice, path, duration_s, segments}}, got "voice.wav"; {voice_fix}'
    assert errors["abc"] == f'voice.duration_s should be a number of seconds (0 or more), got "abc"; {voice_fix}'
    assert errors["neg"] == f"voice.duration_s should be a number of seconds (0 or more), got -5; {voice_fix}"
    assert errors["word"].startswith('captions.words[3].start should be a number of seconds (0 or more), got "1.5"; '
                                     "re-run cs-caption --force")
    assert errors["num"].startswith("voice should be an object") and "has no 'voice' key" not in errors["num"]


def test_caption_says_voice_is_not_an_object(tmp_path):
    # voice: 42 -> "record has no 'voice' key"
    done = sh("cs-caption", tmp_path, lines([{"id": "v", "voice": 42}]))
    line = one_error_line(done, "cs-caption")
    assert done.returncode == 1
    assert line == ("cs-caption: error: <stdin>:1: record v: voice should be an object {engine, voice, path, "
                    "duration_s, segments}, got 42; re-run cs-voice --force for this record or fix the record")


def test_out_dir_under_a_regular_file_is_one_line_before_any_record(tmp_path):
    """Issue 14 item 18: an unusable CS_OUT_DIR is a setting, found once at start (before any synthesis),
    not after each record's work; -k does not turn it into one error record per line."""
    (tmp_path / "notes.txt").write_text("not a folder\n")
    records = [script_record(["One."], record_id="a"), script_record(["Two."], record_id="b")]
    done = sh("cs-voice --engine espeak -k", tmp_path, lines(records), env={"CS_OUT_DIR": "notes.txt/out"})
    assert done.returncode == 1 and done.stdout == "" and "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line] == [
        "cs-voice: error: CS_OUT_DIR=notes.txt/out: notes.txt is a file, not a folder; point CS_OUT_DIR at a "
        "folder you can write to"]
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not os.access(locked, os.W_OK):  # root writes anywhere: the permission case needs a normal user
        done = sh("cs-voice --engine espeak -k", tmp_path, lines(records), env={"CS_OUT_DIR": "locked/out"})
        assert done.returncode == 1 and "cannot write in locked (permission denied)" in done.stderr


def test_problems_name_exact_paths_for_check_modes():
    words = [{"word": "a", "start": 0, "end": 0.2}] * 3 + [{"word": "b", "start": "x", "end": math.inf}]
    assert schemas.problems("captions", {"words": words}) == [
        'captions.words[3].start should be a number of seconds (0 or more), got "x"',
        "captions.words[3].end should be a number of seconds (0 or more), got Infinity"]
    assert schemas.problems("meta", "hello") == ['meta should be an object {title, description, tags, ...}, got "hello"']
    assert schemas.problems("meta", {"title": "ok", "tags": ["a", 3], "privacy": "secret"}) == [
        "meta.tags[1] should be a string, got 3",
        'meta.privacy should be one of "private", "unlisted", "public", got "secret"']
    assert schemas.problems("voice", {"path": "v.wav", "duration_s": 3.2, "segments": [{"start": 0, "end": 3.2}]}) == []
    assert schemas.problems("voice", {"duration_s": 1}) == ["voice.path is missing"]
    assert schemas.problems("unknown-key", object()) == []


# --- 15: cs-thumb's title ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=320x240:d=2:r=10",
                    "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


def test_thumb_title_of_the_wrong_type_is_an_error_not_dropped(tmp_path, clip):
    video = {"path": str(clip), "duration_s": 2.0}
    records = [{"id": "meta", "title": "Fallback title", "meta": {"title": 42}, "video": video},
               {"id": "top", "title": ["a", "list"], "video": video},
               {"id": "ok", "title": "A fine title", "video": video}]
    done = sh("cs-thumb -k -n 1", tmp_path, lines(records))
    assert done.returncode == 3, done.stderr
    out = {r["id"]: r for r in strict(done.stdout)}
    assert out["meta"]["_error"]["message"] == "meta.title should be a string, got 42; re-run cs-meta --force for this record or fix the record"
    assert out["top"]["_error"]["message"].startswith("title should be a string, got a list of 2 items")
    assert Path(out["ok"]["thumb"]["path"]).is_file()


# --- 13: damaged media gets no made-up caption -------------------------------------------------------------------


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    subprocess.run(["espeak-ng", "-w", str(folder / "speech.wav"),
                    "Good coffee starts with fresh beans and a clean grinder. Brew with water at ninety degrees."], check=True)
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=blue:s=320x240:d=6",
                    "-i", str(folder / "speech.wav"), "-c:v", "libx264", "-c:a", "aac", "-shortest",
                    "-movflags", "+faststart", str(folder / "full.mp4")], check=True)
    return folder


@pytest.mark.slow
def test_a_truncated_mp4_is_an_error_not_a_made_up_caption(tmp_path, speech):
    # head -c 60% video.mp4: the first part decodes silently, whisper made up an ending ("Thank you.")
    data = (speech / "full.mp4").read_bytes()
    for share in (60, 90):
        (tmp_path / f"cut{share}.mp4").write_bytes(data[: len(data) * share // 100])
    records = [{"id": "cut60", "media": "cut60.mp4"}, {"id": "cut90", "media": "cut90.mp4"},
               {"id": "whole", "media": str(speech / "full.mp4")}]
    done = sh("cs-caption -k --no-script", tmp_path, lines(records))
    assert done.returncode == 3, done.stderr
    out = {r["id"]: r for r in strict(done.stdout)}
    for name in ("cut60", "cut90"):
        message = out[name]["_error"]["message"]
        assert message.startswith(f"{name}.mp4 is cut short or damaged: its header promises 5.3 s of sound but only")
        assert "captions" not in out[name]
    heard = " ".join(w["word"] for w in out["whole"]["captions"]["words"]).lower()
    assert heard.startswith("good coffee starts with fresh beans")


@pytest.mark.slow
def test_hiss_without_speech_gets_no_caption(tmp_path):
    # 30 s of -57 dB hiss was captioned with six "." words and exit 0
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "anoisesrc=a=0.0015:d=30:c=white:r=16000", str(tmp_path / "hiss.wav")], check=True)
    done = sh("cs-caption", tmp_path, lines([{"id": "hiss", "media": "hiss.wav"}]))
    line = one_error_line(done, "cs-caption")
    assert done.returncode == 1 and "no speech found in hiss.wav" in line and done.stdout == ""


# --- interrupted -o runs say one thing ---------------------------------------------------------------------------


def test_sigterm_on_an_output_file_run_says_one_consistent_thing(tmp_path):
    records = [script_record([f"Sentence number {n} is spoken here at some length for this test."], record_id=f"s{n}")
               for n in range(200)]
    (tmp_path / "in.jsonl").write_text(lines(records))
    (tmp_path / "out.jsonl").write_text("precious\n")
    env = {**os.environ, "CS_OUT_DIR": str(tmp_path / "cs-out")}
    process = subprocess.Popen([str(BIN / "cs-voice"), "--engine", "espeak", "-i", "in.jsonl", "-o", "out.jsonl"],
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while not list((tmp_path / "cs-out").glob("voice/*.wav")) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.terminate()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 130
    assert stderr.splitlines() == ["cs-voice: error: interrupted; out.jsonl left as it was and the partial output "
                                   "discarded; re-run the same command (finished files are reused)"]
    assert (tmp_path / "out.jsonl").read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("command", [["voice", "--rate", "nan"], ["voice", "--gap", "nan"], ["visuals", "--max-shot", "nan"],
                                     ["visuals", "--min-shot", "nan"], ["render", "--crossfade", "nan"],
                                     ["thumb", "--scene", "nan"], ["publish", "--schedule-every", "nan"],
                                     ["publish", "--schedule-every", "1e308"], ["idea", "--temperature", "inf", "tea"]])
def test_non_finite_numbers_in_flags_are_usage_errors(tmp_path, command):
    """nan passes every range comparison, so click.FloatRange let it in and it crashed deep inside."""
    done = subprocess.run([str(BIN / f"cs-{command[0]}"), *command[1:]], input="{}\n", capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"cs-{command[0]}: error: Invalid value for '{command[1]}'"), line


def _cs(command: list[str], text: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / f"cs-{command[0]}"), *command[1:]], input=text, capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={**os.environ, "CS_OUT_DIR": str(cwd / "out")})


def test_a_lone_surrogate_escape_is_that_lines_error_and_the_rest_flows(tmp_path):
    lines = '{"id": "q", "note": "\\ud800"}\n{"id": "r", "meta": {}, "ok": "\\ud83d\\ude00"}\n'
    done = _cs(["meta", "--check", "-k"], lines, tmp_path)
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 3 and len(records) == 2 and "Traceback" not in done.stderr
    assert records[0]["_error"]["line"] == 1 and "surrogate" in records[0]["_error"]["message"]
    assert records[1]["id"] == "r" and records[1]["ok"] == "\U0001F600"


def test_a_hand_edited_inputs_key_that_is_no_object_is_replaced(tmp_path):
    record = {**script_record(["Hi there."], "", record_id="j"), "_inputs": "junk"}
    done = _cs(["voice", "--engine", "espeak", "-k"], json.dumps(record) + "\n", tmp_path)
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["_inputs"]) == {"voice"}


def test_metrics_never_replace_the_records_or_the_input(tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "meta": {}}\n')
    for args in (["-i", str(source), "--metrics", str(source)], ["-i", str(source), "-o", "o.jsonl", "--metrics", "./o.jsonl"]):
        done = _cs(["meta", "--check", "-k", *args], "", tmp_path)
        assert done.returncode == 2 and "--metrics" in done.stderr and "also given to" in done.stderr, done.stderr
    assert source.read_text() == '{"id": "a", "meta": {}}\n' and not (tmp_path / "o.jsonl").exists()


def test_a_byte_order_mark_on_the_first_line_is_read_past(tmp_path):
    """Windows editors save UTF-8 with a BOM: the file's first record is still a record."""
    source = tmp_path / "edited.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + (json.dumps(finished(1)) + "\n" + json.dumps(finished(2)) + "\n").encode())
    done = _cs(["script", "-i", str(source)], "", tmp_path)
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in strict(done.stdout)] == ["r1", "r2"]


def test_an_unreadable_history_names_its_own_flag(tmp_path):
    done = _cs(["idea", "espresso", "-n", "1", "--history", str(tmp_path)], "", tmp_path)
    assert done.returncode == 2
    assert one_error_line(done, "cs-idea").endswith(f"cannot read {tmp_path}: Is a directory; check the path given to --history")


@pytest.mark.parametrize("music, says", [("notes.txt", "has no audio to play under the voice"),
                                         ("gone.mp3", "no such file or object")])
def test_music_that_is_no_audio_is_one_usage_line_before_any_record(tmp_path, music, says):
    (tmp_path / "notes.txt").write_text("not a song\n")
    done = _cs(["render", "-k", "--music", str(tmp_path / music)], lines([finished(1), finished(2)]), tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert one_error_line(done, "cs-render").startswith(f"cs-render: error: --music {tmp_path / music}: {says}")
