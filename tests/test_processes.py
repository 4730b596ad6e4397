"""core/processes.py and the ffmpeg helpers on it: stderr drained, deadlines, the stall watchdog, paths that
cannot be options, and the decode check cs-visuals uses for clips (issue 13 item 1, issue 14 items 5 and 18)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from creator_tools.core import processes
from creator_tools.errors import BadInput, EngineError
from creator_tools.media import ffmpeg
from media_fixtures import truncated_mp4


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    good = folder / "good.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=s=160x120:r=30:d=1", "-c:v", "libx264", "-preset", "ultrafast", str(good))
    return {"good": good, "truncated": truncated_mp4(folder)}


def test_a_child_writing_megabytes_to_stderr_does_not_deadlock():
    """ffmpeg.run read stdout to its end before stderr: a child that filled the stderr pipe (64 KB) blocked
    forever. Here 2 MB go to stderr while stdout is read line by line, and the last words are kept."""
    code = ("import sys\nfor i in range(20000): sys.stderr.write('warning %05d: ' % i + 'x' * 90 + '\\n')\n"
            "print('frame=1', flush=True)\nsys.stderr.write('last words\\n')\nsys.exit(3)\n")
    lines = []
    started = time.monotonic()
    with pytest.raises(processes.Failed) as failed:
        processes.run([sys.executable, "-c", code], stdout=processes.PIPE, on_line=lines.append, timeout=60)
    assert time.monotonic() - started < 30
    assert failed.value.code == 3 and failed.value.last_line() == "last words"
    assert lines == ["frame=1\n"] and len(failed.value.tail) == processes.TAIL_LINES


def test_the_watchdog_kills_a_child_that_makes_no_progress_and_a_deadline_kills_any():
    spin = [sys.executable, "-c", "import time\nprint('frame=1', flush=True)\ntime.sleep(60)"]
    started = time.monotonic()
    with pytest.raises(processes.Stalled, match="no progress for 1 s"):
        processes.run(spin, stdout=processes.PIPE, on_line=lambda _l: None, stall=1)
    with pytest.raises(processes.TimedOut, match="no answer within 1 s"):
        processes.run(spin, timeout=1)
    assert time.monotonic() - started < 10


def test_stop_all_kills_a_running_child_and_refuses_new_ones(monkeypatch):
    monkeypatch.setattr(processes, "_stopping", threading.Event())
    monkeypatch.setattr(processes, "_children", set())
    threading.Timer(0.5, processes.stop_all).start()
    with pytest.raises(KeyboardInterrupt):
        processes.run([sys.executable, "-c", "import time; time.sleep(60)"], timeout=30)
    with pytest.raises(KeyboardInterrupt):
        processes.run(["true"])


@pytest.fixture
def silent_server():
    """A loopback server that accepts connections and never answers (a hung store or CDN)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/video.mp4?X-Amz-Signature=secret"
    server.close()


def test_ffprobe_on_a_url_that_never_answers_times_out_with_one_line(silent_server, monkeypatch):
    monkeypatch.setenv("CS_FFPROBE_TIMEOUT", "1")
    started = time.monotonic()
    with pytest.raises(BadInput) as failed:
        ffmpeg.probe(silent_server)
    assert time.monotonic() - started < 10
    message = failed.value.message
    assert "no answer within 1 s" in message and "CS_FFPROBE_TIMEOUT" in message and "\n" not in message
    assert "secret" not in message  # a signed URL's signature stays out of the message


def test_a_path_that_looks_like_an_option_is_read_as_a_path(tmp_path, monkeypatch, clips):
    """CS_OUT_DIR=-dash made ffprobe read `-dash/...` as an option."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-dash").mkdir()
    (tmp_path / "-dash" / "a:b.mp4").write_bytes(clips["good"].read_bytes())
    assert ffmpeg.stream(ffmpeg.probe("-dash/a:b.mp4"), "video") is not None
    assert processes.safe_path("-dash/x.mp4") == "file:-dash/x.mp4"
    assert processes.safe_path("https://host/x.mp4") == "https://host/x.mp4"


def test_a_truncated_clip_fails_the_decode_check_though_it_probes(clips):
    assert ffmpeg.duration(clips["truncated"]) == pytest.approx(6.0, abs=0.1)  # the header looks fine
    problem = ffmpeg.clip_problem(clips["truncated"])
    assert problem.startswith("no frame decodes"), problem
    assert ffmpeg.clip_problem(clips["good"]) == ""


def test_ffmpeg_spinning_on_a_truncated_clip_is_stopped_by_the_watchdog(clips, tmp_path):
    """The looped truncated clip spins at 100% CPU forever, printing errors without end: killed, one line."""
    started = time.monotonic()
    with pytest.raises(EngineError) as failed:
        ffmpeg.run(["-stream_loop", "-1", "-i", str(clips["truncated"]), "-frames:v", "30", "-f", "null", "-"],
                   stall=2)
    assert time.monotonic() - started < 15
    assert "no progress for 2 s" in failed.value.message and "\n" not in failed.value.message
