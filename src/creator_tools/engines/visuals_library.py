"""`library`: a local folder of stills and clips (--library DIR or $CS_LIBRARY), matched to a shot's query by
file name, sidecar and tags.txt words (media/library.py, which cs-render also uses)."""

from __future__ import annotations

import os
import threading

from ..errors import ConfigError
from .visuals import Asset, Provider, Shot, VisualSettings

LIBRARY_ENV = "CS_LIBRARY"


class LibraryProvider(Provider):
    name = "library"

    def __init__(self, settings: VisualSettings):
        super().__init__(settings)
        from ..media.library import Library

        root = settings.library or os.environ.get(LIBRARY_ENV)
        if not root:
            raise ConfigError(f"the library provider needs a folder; give --library DIR or set {LIBRARY_ENV}")
        if not os.path.isdir(root):
            raise ConfigError(f"library folder {root} does not exist; check --library or {LIBRARY_ENV}")
        self.library = Library(root)
        self._clips: dict[str, tuple[bool, float | None]] = {}
        self._lock = threading.Lock()

    @classmethod
    def available(cls, settings: VisualSettings) -> bool:
        return bool(settings.library or os.environ.get(LIBRARY_ENV))

    def listing(self) -> list[list]:
        """What the folder holds (part of cs-visuals' settings: a new or retagged file redoes the shots)."""
        return [[str(e.path), sorted(e.tags)] for e in self.library.entries if e.kind != "audio"]

    def asset_id(self, entry) -> str:
        return "library:" + entry.path.relative_to(self.library.root).as_posix()

    def find(self, shot: Shot, avoid: set[str]) -> Asset | None:
        """The unused file sharing the most words with the shot's query (ties: more words shared with the
        segment's `visual`, then clips, then name order). A clip none of whose frames decodes (a truncated
        download that still probes fine) is passed over with one warning."""
        avoided = {entry.path for entry in self.library.entries if self.asset_id(entry) in avoid}
        for best in self.library.ranked(shot.query, shot.context, avoided):
            if best.kind != "clip":
                return Asset(kind=best.kind, path=str(best.path.resolve()), provider=self.name,
                             asset_id=self.asset_id(best))
            usable, seconds = self._clip(best.path)
            if usable:
                return Asset(kind="clip", path=str(best.path.resolve()), provider=self.name,
                             asset_id=self.asset_id(best), duration_s=seconds)
        return None

    def _clip(self, path) -> tuple[bool, float | None]:
        """(usable, length) of a library clip, checked once per file by decoding its first frame."""
        from .. import log
        from ..media import ffmpeg

        key = str(path)
        with self._lock:
            if key in self._clips:
                return self._clips[key]
        problem = ffmpeg.clip_problem(path)
        seconds = None
        if problem:
            log.warn(f"{path}: not a usable clip ({problem}); skipping it (replace or remove the file)")
        else:
            try:
                seconds = round(ffmpeg.duration(path), 3) or None
            except Exception:
                seconds = None  # cs-render measures it again
        with self._lock:
            self._clips[key] = (not problem, seconds)
        return self._clips[key]
