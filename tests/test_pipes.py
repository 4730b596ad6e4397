"""The pipe contract, driven through real shell pipelines: streaming, | head, -j ordering, bad lines in the
middle, -o replacement, --dry-run, --metrics and progress only on a terminal. cs-voice with espeak-ng is the
cheap real stage; cs-script on finished records is the instant one."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from media_fixtures import script_record

BIN = Path(sys.executable).parent


def sh(command: str, cwd: Path, stdin: str = "", timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "CS_OUT_DIR": str(cwd / "cs-out")}
    return subprocess.run(["bash", "-c", "set -o pipefail; " + command], input=stdin, capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def lines(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def finished(n: int) -> dict:
    """A record cs-script has nothing to do for (hand-written script)."""
    return {"id": f"r{n}", "title": f"T{n}", "script": {"title": "t", "language": "en", "cta": "",
                                                        "segments": [{"text": "Hi.", "visual": "x", "on_screen": "x"}]}}


def test_head_ends_the_stage_quietly_with_exit_0(tmp_path):
    (tmp_path / "many.jsonl").write_text(lines(finished(n) for n in range(20000)))
    done = sh("cs-script -i many.jsonl | head -1; echo \"status=${PIPESTATUS[0]}\"", tmp_path)
    out, status = done.stdout.splitlines()
    assert json.loads(out)["id"] == "r0"
    assert status == "status=0" and done.stderr == ""


def test_one_record_in_gives_one_record_out_while_input_stays_open(tmp_path):
    env = {**os.environ, "CS_OUT_DIR": str(tmp_path / "cs-out")}
    process = subprocess.Popen([str(BIN / "cs-voice"), "--engine", "espeak"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env)
    try:
        process.stdin.write(json.dumps(script_record(["One short line."], record_id="s1")) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "no output while the input was still open"
        assert json.loads(process.stdout.readline())["id"] == "s1"
    finally:
        process.stdin.close()
        assert process.wait(timeout=60) == 0


def test_jobs_keep_input_order(tmp_path):
    records = [script_record(["word " * (12 - 3 * n) + "end."], record_id=f"j{n}") for n in range(4)]
    done = sh("cs-voice --engine espeak -j 3", tmp_path, lines(records))
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["j0", "j1", "j2", "j3"]


def test_bad_line_in_the_middle_with_keep_going(tmp_path):
    good = [script_record(["First."], record_id="g1"), script_record(["Second."], record_id="g2")]
    text = lines(good[:1]) + "{broken json\n" + lines(good[1:]) + lines([{"id": "e1", "_error": {"command": "cs-x"}}])
    done = sh("cs-voice --engine espeak -k | jq -c '{id, ok: (.voice != null), line: ._error.line}'", tmp_path, text)
    assert done.returncode == 3
    out = [json.loads(line) for line in done.stdout.splitlines()]
    # The broken line becomes an error record in its place: a made-up id and the line number.
    assert [r["ok"] for r in out] == [True, False, True, False] and out[1]["line"] == 2
    assert [r["id"] for r in out[:1] + out[2:]] == ["g1", "g2", "e1"] and len(out[1]["id"]) == 12
    assert done.stderr.startswith("cs-voice: error: <stdin>:2: not a JSON object")


def test_without_keep_going_the_first_bad_line_stops_with_exit_1(tmp_path):
    text = lines([finished(1)]) + "[1, 2]\n" + lines([finished(2)])
    done = sh("cs-script", tmp_path, text)
    assert done.returncode == 1
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ["r1"]
    assert done.stderr.strip() == "cs-script: error: <stdin>:2: not a JSON object; each line must be one {...} record"


def test_output_file_is_replaced_only_when_the_run_ends_well(tmp_path):
    (tmp_path / "out.jsonl").write_text("precious\n")
    bad = sh("cs-script -o out.jsonl", tmp_path, lines([finished(1)]) + "nope\n")
    assert bad.returncode == 1 and (tmp_path / "out.jsonl").read_text() == "precious\n"
    (tmp_path / "more.jsonl").write_text(lines([finished(2)]))
    good = sh("cs-script -o out.jsonl -i - -i more.jsonl", tmp_path, lines([finished(1)]))
    assert good.returncode == 0, good.stderr
    assert [json.loads(l)["id"] for l in (tmp_path / "out.jsonl").read_text().splitlines()] == ["r1", "r2"]


def test_dry_run_changes_nothing_and_metrics_count(tmp_path):
    records = [script_record(["Hello."], record_id="d1")]
    done = sh("cs-voice --engine espeak --dry-run --metrics m.prom", tmp_path, lines(records))
    assert done.returncode == 0
    assert [json.loads(line) for line in done.stdout.splitlines()] == records
    assert "would" in done.stderr and not (tmp_path / "cs-out").exists()
    metrics = (tmp_path / "m.prom").read_text()
    assert 'cs_records_in_total{command="cs-voice"} 1' in metrics
    assert 'cs_records_failed_total{command="cs-voice"} 0' in metrics
    assert "# TYPE cs_record_seconds summary" in metrics


def test_progress_shows_only_on_a_terminal(tmp_path):
    records = lines([script_record(["A line to speak."], record_id="p1")])
    quiet = sh("cs-voice --engine espeak", tmp_path, records)
    assert quiet.returncode == 0 and quiet.stderr == ""
    leader, follower = pty.openpty()
    env = {**os.environ, "CS_OUT_DIR": str(tmp_path / "cs-out2"), "TERM": "xterm", "COLUMNS": "100"}
    process = subprocess.Popen([str(BIN / "cs-voice"), "--engine", "espeak"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=follower, text=True, cwd=tmp_path, env=env)
    process.communicate(records, timeout=120)
    os.close(follower)
    seen = b""
    while select.select([leader], [], [], 0.5)[0]:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert b"cs-voice" in seen and b"records" in seen


def test_a_full_disk_is_one_line_not_a_traceback(tmp_path):
    done = sh("cs-script > /dev/full", tmp_path, lines([finished(1)]))
    assert done.returncode == 1
    assert done.stderr.strip() == "cs-script: error: cannot write to stdout: No space left on device; free space or choose another -o"
    missing = sh("cs-script -i nowhere.jsonl", tmp_path)
    assert missing.returncode == 2 and "cannot read nowhere.jsonl" in missing.stderr
