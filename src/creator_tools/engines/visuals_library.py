"""`library`: a local folder of stills and clips (--library DIR or $CS_LIBRARY), matched to a shot's query by
file name, sidecar and tags.txt words (media/library.py, which cs-render also uses)."""

from __future__ import annotations

import os
import threading

from ..errors import ConfigError
from ..core import config
from .visuals import Asset, Provider, Shot, VisualSettings

LIBRARY_ENV = config.variable("CS_LIBRARY")
ALTERNATIVES = 3


class LibraryProvider(Provider):
    name = "library"

    def __init__(self, settings: VisualSettings):
        super().__init__(settings)
        from ..media.library import Library

        root = settings.library or config.get(LIBRARY_ENV)
        if not root:
            raise ConfigError(f"the library provider needs a folder; give --library DIR or set {LIBRARY_ENV}")
        if not os.path.isdir(root):
            raise ConfigError(f"library folder {root} does not exist; check --library or {LIBRARY_ENV}")
        self.library = Library(root)
        self._durations: dict[str, float | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def available(cls, settings: VisualSettings) -> bool:
        return bool(settings.library or config.get(LIBRARY_ENV))

    def listing(self) -> list[list]:
        """What the folder holds (part of cs-visuals' settings: a new or retagged file redoes the shots)."""
        return [[str(e.path), sorted(e.tags)] for e in self.library.entries if e.kind != "audio"]

    def asset_id(self, entry) -> str:
        return "library:" + entry.path.relative_to(self.library.root).as_posix()

    def find(self, shot: Shot, avoid: set[str]) -> Asset | None:
        """The unused file sharing the most words with the shot's query (ties: more words shared with the
        segment's `visual`, then clips, then name order); the next ALTERNATIVES are kept on the shot."""
        from ..media.library import words

        wanted, context = words(shot.query), words(shot.context)
        ranked = []
        for order, entry in enumerate(self.library.entries):
            if entry.kind == "audio" or self.asset_id(entry) in avoid:
                continue
            score = len(wanted & entry.tags)
            if score:
                ranked.append(((-score, -len(context & entry.tags), entry.kind != "clip", order), entry))
        if not ranked:
            return None
        ranked.sort(key=lambda item: item[0])
        best = self._asset(ranked[0][1])
        best.alternatives = [self._asset(entry).as_alternative() for _, entry in ranked[1:1 + ALTERNATIVES]]
        return best

    def fetch(self, choice: dict, shot: Shot) -> Asset:
        """The library file CHOICE names by its asset id (never a path from the record: only this folder's files)."""
        for entry in self.library.entries:
            if entry.kind != "audio" and self.asset_id(entry) == choice.get("asset_id"):
                return self._asset(entry)
        from ..errors import BadInput

        raise BadInput(f"replace {choice.get('asset_id')!r} is not in the library {self.library.root} any more; "
                       "choose another alternative")

    def _asset(self, entry) -> Asset:
        return Asset(kind=entry.kind, path=str(entry.path.resolve()), provider=self.name, asset_id=self.asset_id(entry),
                     duration_s=self._duration(entry.path) if entry.kind == "clip" else None)

    def _duration(self, path) -> float | None:
        from .. import log
        from ..errors import CSError
        from ..media import ffmpeg

        key = str(path)
        with self._lock:
            if key in self._durations:
                return self._durations[key]
        try:
            seconds: float | None = round(ffmpeg.duration(path), 3)
        except CSError as exc:
            log.warn(f"{path}: cannot read its length ({exc.message}); cs-render will probe it")
            seconds = None
        with self._lock:
            self._durations[key] = seconds
        return seconds
