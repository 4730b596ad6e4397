"""Every command keeps the shared contract: a --help with an example that imports nothing heavy, the common
pipe options, and a man page that is up to date with the click definitions."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
HEAVY = ["PIL", "numpy", "faster_whisper", "ctranslate2", "openai", "googleapiclient", "llama_cpp", "rich",
         "piper", "onnxruntime", "matplotlib", "psycopg", "jsonschema", "glin_profanity", "tokenizers", "playwright",
         # stdlib modules that cost milliseconds at start-up (OpenSSL init, sqlite, logging, pipes): import
         # them where a record is processed (bench/startup.sh measures the time; this only checks the imports)
         "subprocess", "sqlite3", "hashlib", "concurrent.futures", "logging",
         "distributed", "dask"]  # --cluster only
COMMON = ["--input", "--output", "--jobs", "--keep-going", "--dry-run", "--force", "--quiet", "--metrics",
          "--cluster"]
# Subcommands that read and write records (the others, like `cs-publish auth`, are one-off actions).
RECORD_COMMANDS = {"cs-stats": ["report", "recommend"], "cs-doctor": []}  # cs-doctor reads no records


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


def in_process_help(script: str, *sub: str) -> str:
    """--help through click's CliRunner: the option list needs no fresh interpreter (the import checks above do)."""
    import importlib

    from click.testing import CliRunner

    module, _, attr = SCRIPTS[script].partition(":")
    done = CliRunner().invoke(getattr(importlib.import_module(module), attr), [*sub, "--help"], prog_name=script)
    assert done.exit_code == 0, done.output
    return done.output


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_record_commands_take_the_common_options(script):
    for sub in RECORD_COMMANDS.get(script, [None]):
        text = in_process_help(script, *([sub] if sub else []))
        missing = [option for option in COMMON if option not in text]
        assert not missing, f"{script} {sub or ''} lacks {missing}"


def test_man_pages_are_up_to_date(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "bin" / "gen-man"), str(tmp_path)], check=True)
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.[17]")}
    stored = {p.name: p.read_text() for p in (ROOT / "man").glob("*.[17]")}
    assert set(fresh) == {f"{name}.1" for name in SCRIPTS} | {"creator-tools.7"}
    stale = [name for name in fresh if stored.get(name) != fresh[name]]
    assert not stale, f"man/ is stale for {stale}: run `make man` and commit man/"


def test_names_copied_for_a_quick_help_match_their_source():
    """A command that keeps --help quick by not importing its engine copies the option's env name: same name."""
    from creator_tools.commands import caption, publish
    from creator_tools.engines import stt
    from creator_tools.youtube import quota

    assert caption.STT_MODEL_ENV == stt.MODEL_ENV
    assert publish.DEFAULT_BUDGET == quota.DEFAULT_BUDGET


def test_readme_environment_table_is_up_to_date():
    from creator_tools.core import config

    text = (ROOT / "README.md").read_text()
    begin, end = text.index(config.README_BEGIN) + len(config.README_BEGIN), text.index(config.README_END)
    assert text[begin:end].strip() == config.markdown_table(), "README.md's environment table is stale: run `make man`"


ENV_READ = re.compile(r"os\.environ\.get\(|os\.getenv\(|os\.environ\[|envvar=\"")


def test_every_environment_read_goes_through_the_config_table():
    """One table of variables (core/config.py): a read anywhere else would be missing from the docs."""
    source = ROOT / "src" / "creator_tools"
    found = [f"{path.relative_to(source)}:{n}" for path in sorted(source.rglob("*.py")) if path.name != "config.py"
             for n, line in enumerate(path.read_text().splitlines(), 1) if ENV_READ.search(line)]
    assert not found, f"read these through creator_tools.core.config (add the variable to its table): {found}"


def test_every_variable_named_in_code_is_in_the_table():
    """CS_* names in messages and `config.get(...)` calls all exist in the table (a typo reads nothing)."""
    from creator_tools.core import config

    source = ROOT / "src" / "creator_tools"
    named = {m for path in source.rglob("*.py") for m in re.findall(r"\bCS_[A-Z][A-Z0-9_]*[A-Z0-9]\b", path.read_text())}
    patterns = {"CS_IMAGES", "CS_FFPROBE_TIMEOUT"}  # a prefix (openai_config), another helper's variable
    assert not sorted(named - set(config.TABLE) - patterns)


# --- layers -------------------------------------------------------------------------------------------

PACKAGE = ROOT / "src" / "creator_tools"
LOWER = ("core", "engines", "media", "youtube", "stats", "storage")  # below the CLI layer
CLI_LAYER = ("creator_tools.pipe", "creator_tools.pipeline", "creator_tools.commands", "click")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every import in creator_tools (top level and inside functions), as absolute module names."""
    import ast

    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)  # `from . import pipe`
    return graph


def test_no_import_circle_anywhere():
    """Modules import downwards only (function-level imports included): a circle means a layer is wrong."""
    graph = _imports()
    edges = {name: {m for m in found if m in graph and m != name} for name, found in graph.items()}
    for name in graph:  # a package's own __init__ is not an edge back up
        edges[name] = {m for m in edges[name] if not name.startswith(m + ".")}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not circles, f"import circles: {circles}"


def test_lower_layers_never_import_click_or_the_cli():
    """core/, engines/, media/, youtube/, stats/ and storage build records' work; the CLI layer (click, pipe,
    pipeline/, commands/) is above them, so an engine is usable without a command line."""
    bad = []
    for name, found in _imports().items():
        if name.split(".")[1:2] and name.split(".")[1] in LOWER:
            bad += [f"{name} imports {m}" for m in found if m.startswith(CLI_LAYER)]
    assert not bad, bad


def test_no_command_imports_another():
    bad = [f"{name} imports {m}" for name, found in _imports().items() if name.startswith("creator_tools.commands.")
           for m in found if m.startswith("creator_tools.commands.") and m != name]
    assert not bad, bad


def test_core_imports_nothing_above_it():
    allowed = ("creator_tools.core", "creator_tools.errors")
    bad = [f"{name} imports {m}" for name, found in _imports().items() if name.startswith("creator_tools.core")
           for m in found if m.startswith("creator_tools") and not m.startswith(allowed)]
    assert not bad, bad
