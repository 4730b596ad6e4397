"""core/files.py, the one atomic writer: exclusive temp names, modes, FIFOs, links, sweeps, full disks.

Most cases drive real commands (`cs-meta -o`, `--metrics`) in subprocesses; the writer itself is called in
process where a command adds nothing but start-up time."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

from creator_tools.core import files

RECORD = {"id": "a", "topic": "tea"}


def _meta_input(tmp_path):
    """One record cs-script's check passes straight through (dry run: no model needed)."""
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(RECORD) + "\n")
    return path


def _run(command, *argv, **kwargs):
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), command), *argv], capture_output=True,
                          text=True, timeout=60, **kwargs)


def test_planted_link_at_the_old_temp_name_is_never_followed(tmp_path):
    """Issue 14 item 3: -o FILE used to write through a link at `.FILE.PID.tmp`; mkstemp names are random
    and created exclusively, so whatever a planted link points at stays untouched and FILE is a file."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out.jsonl"
    # Plant links at every name a PID-based writer could pick for the next few processes.
    first = os.getpid()
    for pid in range(first, first + 400):
        os.symlink(victim, tmp_path / f".out.jsonl.{pid}.tmp")
    result = _run("cs-idea", "--dry-run", "-o", str(out), "-i", str(_meta_input(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == "precious\n"
    assert out.is_file() and not out.is_symlink()
    assert json.loads(out.read_text())["id"] == "a"


def test_writer_creates_no_guessable_names_and_keeps_umask_mode(tmp_path):
    target = tmp_path / "x.txt"
    seen = []
    with files.atomic_output(target) as temp:
        seen.append(temp.name)
        assert stat.S_IMODE(os.stat(temp).st_mode) == 0o600  # private while being written
        temp.write_text("hi")
        assert not target.exists()  # never a partial file at the final name
    assert str(os.getpid()) in seen[0] and seen[0] != f".x.txt.{os.getpid()}.tmp"
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~files.UMASK
    assert target.read_text() == "hi"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_umask_is_never_flipped_while_threads_write(tmp_path):
    """The old writer set os.umask(0) for a moment: a thread creating a file then made it world-writable."""
    stop = threading.Event()
    modes = []

    def create():
        n = 0
        while not stop.is_set():
            path = tmp_path / f"t{n}"
            fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o666)
            os.close(fd)
            modes.append(stat.S_IMODE(path.stat().st_mode))
            n += 1

    thread = threading.Thread(target=create)
    thread.start()
    try:
        for n in range(300):
            files.atomic_write_text(tmp_path / "w" / f"{n}.txt", "x")
    finally:
        stop.set()
        thread.join()
    assert modes and set(modes) == {0o666 & ~files.UMASK}


def test_error_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with files.atomic_output(target) as temp:
            temp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_private_mode_and_folder(tmp_path):
    token = tmp_path / "state" / "token.json"
    files.private_dir(token.parent)
    files.atomic_write_text(token, "{}", mode=files.PRIVATE_FILE)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(token.parent.stat().st_mode) == 0o700


def test_symlinked_target_is_followed(tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    files.atomic_write_text(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new\n"


def test_symlinked_output_is_followed_by_a_command(tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    (tmp_path / "link.jsonl").symlink_to(real)
    result = _run("cs-idea", "--dry-run", "-o", str(tmp_path / "link.jsonl"), "-i", str(_meta_input(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "link.jsonl").is_symlink()
    assert json.loads(real.read_text())["id"] == "a"


def test_fifo_is_written_straight_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    assert files.atomic_write_text(fifo, "through\n")
    reader.join(10)
    assert got == ["through\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_publish_if_absent_keeps_the_first_file(tmp_path):
    """Issue 14 item 17: of two runs writing one artifact, the first file stays and both describe it."""
    target = tmp_path / "a.wav"
    with files.atomic_publish(target, replace=False) as first:
        first.temp.write_bytes(b"first")
    with files.atomic_publish(target, replace=False) as second:
        second.temp.write_bytes(b"second")
    assert (first.won, second.won) == (True, False)
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["a.wav"]


def test_full_disk_names_the_folder():
    """Issue 14 item 15: /dev/full is the full disk every machine has (ENOSPC on write)."""
    with pytest.raises(files.DiskFull) as caught:
        files.atomic_write_bytes("/dev/full", b"x" * 10)
    assert "no space left in /dev" in caught.value.message and "free space" in caught.value.message


def test_full_disk_metrics_is_one_line(tmp_path):
    result = _run("cs-idea", "-q", "--dry-run", "--metrics", "/dev/full", "-i", str(_meta_input(tmp_path)))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "cs-idea: error: cannot write --metrics /dev/full: no space left in /dev; free space there "
        "(or point CS_OUT_DIR / -o elsewhere) and re-run (finished files are reused); the records were written"]


SLOW_WRITER = """
import sys, time
from creator_tools.core import files
with files.atomic_output(sys.argv[1]) as temp:
    temp.write_text("partial")
    scratch = files.scratch_dir(sys.argv[2], "cs-render")
    print(temp, scratch, flush=True)
    time.sleep(60)
"""


def test_sigkill_leftovers_are_swept_by_the_next_writer(tmp_path):
    """Issue 14 item 10: a SIGKILL'd run's temp file and scratch folder go at the next run's first write
    there; a live process's temp files stay."""
    target, base = tmp_path / "video" / "a.mp4", tmp_path / "out"
    child = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(target), str(base)], stdout=subprocess.PIPE,
                             text=True)
    temp, scratch = child.stdout.readline().split()
    live = subprocess.Popen([sys.executable, "-c", SLOW_WRITER, str(tmp_path / "video" / "b.mp4"), str(base)],
                            stdout=subprocess.PIPE, text=True)
    live_temp, live_scratch = live.stdout.readline().split()
    try:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert os.path.exists(temp) and os.path.isdir(scratch)
        files.sweep(target.parent, again=True)
        files.sweep(base / ".tmp", again=True)
        assert not os.path.exists(temp) and not os.path.exists(scratch)
        assert os.path.exists(live_temp) and os.path.isdir(live_scratch)
    finally:
        live.kill()
        live.wait(10)
    assert not target.exists()


def test_sweep_runs_once_per_folder_at_the_first_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".a.wav.{files._HOST}-{pid}.abc123.part.wav"
    stale.write_bytes(b"x")
    other_host = tmp_path / f".a.wav.elsewhere-{pid}.abc123.part.wav"  # a shared folder: not ours to judge
    other_host.write_bytes(b"x")
    files.atomic_write_text(tmp_path / "b.txt", "b")
    assert not stale.exists() and other_host.exists()
