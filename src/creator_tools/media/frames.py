"""Frame sizes by preset, shared by cs-visuals (what to fetch) and cs-render (what to draw): in one place so
no command imports another."""

from __future__ import annotations

PRESETS = {"short": (1080, 1920), "landscape": (1920, 1080), "square": (1080, 1080)}
