"""A folder of stock media matched to a segment's `visual` keywords.

A file is tagged by the words of its name (`blue-sky_sunset.jpg`: blue, sky, sunset), by a sidecar file
beside it (`NAME.EXT.txt` or `NAME.txt`: words, one line or many), and by lines of a `tags.txt` in the
folder (`NAME.EXT: word, word`). Music is any audio file under a `music/` subfolder (or tagged `music`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..text import STOPWORDS, content_words, stem  # noqa: F401  (the shared text rules, re-exported for callers)
from ..text import keywords as words  # the shared keyword rules; `words` stays this module's name

STILL_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
CLIP_EXTS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
AUDIO_EXTS = {".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".opus"}
@dataclass
class Entry:
    path: Path
    kind: str  # still, clip or audio
    tags: set[str] = field(default_factory=set)


class Library:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.entries: list[Entry] = []
        index = self._tag_index()
        for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
            ext = path.suffix.lower()
            kind = "still" if ext in STILL_EXTS else "clip" if ext in CLIP_EXTS else "audio" if ext in AUDIO_EXTS else None
            if kind is None:
                continue
            tags = words(path.stem.replace("-", " ").replace("_", " "))
            for sidecar in (path.with_name(path.name + ".txt"), path.with_suffix(".txt")):
                if sidecar.is_file():
                    tags |= words(sidecar.read_text(encoding="utf-8", errors="replace"))
            tags |= index.get(path.relative_to(self.root).as_posix(), set()) | index.get(path.name, set())
            if kind == "audio" and "music" in path.relative_to(self.root).parts[:-1]:
                tags.add("music")
            self.entries.append(Entry(path, kind, tags))

    def _tag_index(self) -> dict[str, set[str]]:
        index: dict[str, set[str]] = {}
        listing = self.root / "tags.txt"
        if listing.is_file():
            for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
                name, sep, tags = line.partition(":")
                if sep and name.strip() and not name.startswith("#"):
                    index.setdefault(name.strip(), set()).update(words(tags))
        return index

    def ranked(self, query: str, context: str = "", avoid=()) -> list[Entry]:
        """The stills and clips sharing a keyword with QUERY, best first: most words shared with QUERY, then
        with CONTEXT (the segment's `visual`), then clips, then name order; entries whose path is in AVOID
        left out. The one matcher: cs-visuals' library provider and cs-render (a record without `visuals`)
        both ask it."""
        wanted, around = words(query), words(context)
        scored = []
        for entry in self.entries:
            if entry.kind == "audio" or entry.path in avoid:
                continue
            score = len(wanted & entry.tags)
            if score:
                scored.append(((score, len(around & entry.tags), entry.kind == "clip"), entry))
        scored.sort(key=lambda pair: pair[0], reverse=True)  # stable: name order breaks the last ties
        return [entry for _, entry in scored]

    def match(self, visual: str, used: set[Path] | None = None) -> Entry | None:
        """The best entry for VISUAL not in USED, else the best one used already (a repeat beats a card
        only when nothing else matches); None when nothing shares a word."""
        best = self.ranked(visual, avoid=used or set())
        return best[0] if best else next(iter(self.ranked(visual)), None)

    def music(self) -> Entry | None:
        tracks = [e for e in self.entries if e.kind == "audio" and "music" in e.tags]
        return tracks[0] if tracks else None
