"""The user-facing batch files: pipelines/Makefile rebuilds incrementally and pipelines/daily.sh never
runs twice at once."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def make(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-C", str(ROOT / "pipelines"), *args], capture_output=True, text=True, cwd=cwd,
                          timeout=1200)


@pytest.mark.slow
def test_makefile_builds_ideas_and_scripts_then_does_nothing(tmp_path):
    topics = tmp_path / "topics.txt"
    topics.write_text("# a comment\nhouseplant care\n")
    out = tmp_path / "build"
    first = make("scripts", f"TOPICS={topics}", f"OUT={out}", "LENGTH=16", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    ideas = [json.loads(l) for l in (out / "houseplant-care.ideas.jsonl").read_text().splitlines()]
    scripts = [json.loads(l) for l in (out / "houseplant-care.script.jsonl").read_text().splitlines()]
    assert ideas and [r["id"] for r in scripts] == [r["id"] for r in ideas]
    assert all("script" in r for r in scripts)
    again = make("-q", "scripts", f"TOPICS={topics}", f"OUT={out}", "LENGTH=16", cwd=tmp_path)
    assert again.returncode == 0  # `make -q`: everything is up to date


def test_daily_run_skips_while_another_holds_the_lock(tmp_path):
    lock = tmp_path / "lock"
    env = {**os.environ, "CS_LOCK": str(lock), "CS_BATCH_DIR": str(tmp_path / "build")}
    holder = subprocess.Popen(["flock", str(lock), "sleep", "30"])
    try:
        import time

        for _ in range(50):
            if lock.exists():
                break
            time.sleep(0.1)
        time.sleep(0.3)
        done = subprocess.run([str(ROOT / "pipelines" / "daily.sh"), str(tmp_path / "none.txt")], capture_output=True,
                              text=True, env=env, timeout=60)
    finally:
        holder.kill()
    assert done.returncode == 0 and "another run holds the lock" in done.stderr
