"""Every command keeps the shared contract: a --help with an example that imports nothing heavy, the common
pipe options, and a man page that is up to date with the click definitions."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
HEAVY = ["PIL", "numpy", "faster_whisper", "ctranslate2", "openai", "googleapiclient", "llama_cpp", "rich",
         "piper", "onnxruntime", "matplotlib", "psycopg", "jsonschema",
         # stdlib modules that cost milliseconds at start-up (OpenSSL init, sqlite, logging, pipes): import
         # them where a record is processed (bench/startup.sh measures the time; this only checks the imports)
         "subprocess", "sqlite3", "hashlib", "concurrent.futures", "logging",
         "distributed", "dask"]  # --cluster only
COMMON = ["--input", "--output", "--jobs", "--keep-going", "--dry-run", "--force", "--quiet", "--metrics",
          "--cluster"]
# Subcommands that read and write records (the others, like `cs-publish auth`, are one-off actions).
RECORD_COMMANDS = {"cs-stats": ["report", "recommend"], "cs-doctor": []}  # cs-doctor reads no records


def help_text(script: str, *sub: str) -> str:
    done = subprocess.run([str(Path(sys.executable).parent / script), *sub, "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_has_an_example_and_imports_nothing_heavy(script):
    module, _, attr = SCRIPTS[script].partition(":")
    probe = (f"import sys\nfrom {module} import {attr} as cli\n"
             f"try:\n    cli(['--help'], prog_name='{script}')\nexcept SystemExit:\n    pass\n"
             f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY="
    assert "Example" in done.stdout


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_record_commands_take_the_common_options(script):
    for sub in RECORD_COMMANDS.get(script, [None]):
        text = help_text(script, *([sub] if sub else []))
        missing = [option for option in COMMON if option not in text]
        assert not missing, f"{script} {sub or ''} lacks {missing}"


def test_man_pages_are_up_to_date(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "bin" / "gen-man"), str(tmp_path)], check=True)
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.1")}
    stored = {p.name: p.read_text() for p in (ROOT / "man").glob("*.1")}
    assert set(fresh) == {f"{name}.1" for name in SCRIPTS}
    stale = [name for name in fresh if stored.get(name) != fresh[name]]
    assert not stale, f"man/ is stale for {stale}: run `make man` and commit man/"


def test_names_copied_for_a_quick_help_match_their_source():
    """A command that keeps --help quick by not importing its engine copies the option's env name: same name."""
    from creator_tools.commands import caption, publish
    from creator_tools.engines import stt
    from creator_tools.youtube import quota

    assert caption.STT_MODEL_ENV == stt.MODEL_ENV
    assert publish.DEFAULT_BUDGET == quota.DEFAULT_BUDGET
