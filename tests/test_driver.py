"""The driver's catch-all: an unexpected exception outside any record (a command's factory, a subcommand
such as `cs-stats report` or `cs-publish auth`) is one line, with a traceback only under CS_DEBUG=1."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

FACTORY = """
import sys
from creator_tools import pipe

@pipe.stage_command("boom")
def cli(opts):
    '''A command whose factory hits a bug.'''
    raise RuntimeError("the factory broke")

cli(sys.argv[1:], prog_name="cs-boom")
"""

SUBCOMMAND = """
import sys
from creator_tools import pipe

def report():
    return {}["missing"]  # a KeyError no code turned into a toolkit error

sys.exit(pipe.guard("cs-stats", report))
"""


@pytest.mark.parametrize("code, line", [
    (FACTORY, "cs-boom: error: unexpected RuntimeError: the factory broke; set CS_DEBUG=1 for a traceback"),
    (SUBCOMMAND, "cs-stats: error: unexpected KeyError: 'missing'; set CS_DEBUG=1 for a traceback"),
])
def test_unexpected_error_outside_a_record_is_one_line(code, line, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CS_DEBUG"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [line]
    debug = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                           env={**env, "CS_DEBUG": "1"}, stdin=subprocess.DEVNULL, timeout=60)
    assert "Traceback (most recent call last)" in debug.stderr and debug.stderr.rstrip().endswith(line)
