"""Everything people read goes to stderr: errors, warnings, progress. stdout carries records only.
rich is imported only when a progress bar is actually shown (stderr is a terminal and not --quiet)."""

from __future__ import annotations

import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from .core import config

_state = {"command": "cs", "quiet": False}
_lock = threading.Lock()
# On a cluster worker (--cluster) a record's messages are collected per thread and sent back with its result,
# so the client prints them under its own `cs-NAME:` prefix (see capture()).
_local = threading.local()


def setup(command: str, quiet: bool = False) -> None:
    _state["command"] = command
    _state["quiet"] = quiet


def _emit(text: str) -> None:
    with _lock:
        try:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
        except (BrokenPipeError, ValueError):
            pass


def _captured(level: str, message: str) -> bool:
    said = getattr(_local, "said", None)
    if said is None:
        return False
    said.append((level, message))
    return True


def error(message: str) -> None:
    """`cs-NAME: error: what happened. What to do.` --quiet never hides these."""
    if not _captured("error", message):
        _emit(f"{_state['command']}: error: {message}")


def warn(message: str) -> None:
    if not _captured("warn", message):
        _emit(f"{_state['command']}: warning: {message}")


def info(message: str) -> None:
    if not _captured("info", message) and not _state["quiet"]:
        _emit(f"{_state['command']}: {message}")


@contextmanager
def capture() -> Iterator[list[tuple[str, str]]]:
    """Collect this thread's error/warn/info calls as (level, message) instead of printing them; replay them
    elsewhere with `say(level, message)`."""
    _local.said = said = []
    try:
        yield said
    finally:
        _local.said = None


def say(level: str, message: str) -> None:
    {"error": error, "warn": warn, "info": info}[level](message)


def debug_enabled() -> bool:
    return config.debug()


def show_progress() -> bool:
    return not _state["quiet"] and sys.stderr.isatty() and config.get("TERM") != "dumb"


_bar: dict = {"progress": None, "tasks": 0}


@contextmanager
def progress(description: str, total: float | None = None) -> Iterator[Callable[..., None]]:
    """Yield `update(completed=None, advance=None, total=None, description=None)`; a no-op unless stderr
    is a terminal. Every caller shares one rich display, since rich allows only one live display at a time
    (the driver's record count and a render's frame count show together)."""
    if not show_progress():
        yield lambda **_: None
        return
    with _lock:
        bar = _bar["progress"] or _start_bar()
        _bar["tasks"] += 1
        task = bar.add_task(f"{_state['command']}: {description}", total=total)

    def update(**fields) -> None:
        if fields.get("description"):
            fields["description"] = f"{_state['command']}: {fields['description']}"
        bar.update(task, **{k: v for k, v in fields.items() if v is not None})

    try:
        yield update
    finally:
        with _lock:
            bar.remove_task(task)
            _bar["tasks"] -= 1
            if not _bar["tasks"]:
                bar.stop()
                _bar["progress"] = None


def _start_bar():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    )
    bar.start()
    _bar["progress"] = bar
    return bar
