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
        self._clips: dict[str, tuple[bool, float | None]] = {}
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
        segment's `visual`, then clips, then name order: media/library.py's one matcher); the next
        ALTERNATIVES are kept on the shot. A clip none of whose frames decodes (a truncated file that still
        probes fine) is passed over with one warning."""
        avoided = {entry.path for entry in self.library.entries if self.asset_id(entry) in avoid}
        usable = []
        for entry in self.library.ranked(shot.query, shot.context, avoided):
            if entry.kind != "clip" or self._clip(entry.path)[0]:
                usable.append(entry)
                if len(usable) > ALTERNATIVES:
                    break
        if not usable:
            return None
        best = self._asset(usable[0])
        best.alternatives = [self._asset(entry).as_alternative() for entry in usable[1:]]
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
                     duration_s=self._clip(entry.path)[1] if entry.kind == "clip" else None)

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
