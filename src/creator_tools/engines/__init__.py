"""Engine registries: built-in engines are import paths loaded only when chosen; other packages add engines
through entry points (group `creator_tools.llm`, `creator_tools.tts`, ...)."""

from __future__ import annotations

import importlib
from typing import Any

from ..core.once import Once
from ..errors import UsageError


def names(group: str, builtins: dict[str, str]) -> list[str]:
    from importlib.metadata import entry_points

    return sorted({*builtins, *(ep.name for ep in entry_points(group=group))})


def load(group: str, builtins: dict[str, str], name: str, hint: str) -> Any:
    """The engine class called NAME; UsageError listing the choices when there is none."""
    target = builtins.get(name)
    if target is None:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group=group) if ep.name == name]
        if not found:
            raise UsageError(f"unknown {group.rsplit('.', 1)[-1].upper()} engine '{name}'; use one of: "
                              f"{', '.join(names(group, builtins))} ({hint})")
        return found[0].load()
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


class OncePerProcess(Once):
    """Things slow to build (a model, a worker's stage), built once per key and process: core.once.Once
    (threads asking at once wait for one load; a failed load is not kept, so the next record tries again)."""
