"""The one definition of a video's frame: the presets, and which one a record's `format` gets. Shared by
cs-caption (the ASS size), cs-visuals (what to fetch) and cs-render (what to draw), so no command imports
another.

A record without `format` (or with any value but `long`) is a vertical Short, 1080x1920 (cs-caption assumed
landscape and cs-render portrait before; HACKING.md says so too). Cheap to import: --help reads PRESETS.
"""

from __future__ import annotations

PRESETS = {"short": (1080, 1920), "landscape": (1920, 1080), "square": (1080, 1080)}
DEFAULT_PRESET = "short"


def preset_for(record: dict, preset: str = "auto") -> str:
    """PRESET, or for `auto` the record's: landscape for `format: long`, else short."""
    if preset != "auto":
        return preset
    return "landscape" if record.get("format") == "long" else DEFAULT_PRESET


def size_for(record: dict, preset: str = "auto") -> tuple[int, int]:
    return PRESETS[preset_for(record, preset)]
