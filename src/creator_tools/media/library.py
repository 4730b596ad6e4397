"""A folder of stock media matched to a segment's `visual` keywords.

A file is tagged by the words of its name (`blue-sky_sunset.jpg`: blue, sky, sunset), by a sidecar file
beside it (`NAME.EXT.txt` or `NAME.txt`: words, one line or many), and by lines of a `tags.txt` in the
folder (`NAME.EXT: word, word`). Music is any audio file under a `music/` subfolder (or tagged `music`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

STILL_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
CLIP_EXTS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
AUDIO_EXTS = {".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac", ".opus"}
# The one list of English filler words for picture search (library tags, cs-visuals queries, card emoji):
# function words, vague verbs and number words say nothing a picture could show.
STOPWORDS = frozenset("""
a an the of and or but nor so yet in on at to into onto with without for from by about above below over under
up down out off than then as if when while because since until though although is are was were be been being
am do does did done doing have has had having will would shall should can could may might must it its it's
this that these those there here their they them he she him her his hers we us our you your yours i me my
mine who whom whose which what why how where all any each every both few more most other some such no not
only own same too very just also even still again ever never always often really quite much many lot lots
get gets got getting make makes made making take takes took go goes going went come comes came let lets
like know think thing things way ways want need say says said see use used using one two three four five six
seven eight nine ten eleven twelve twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
million first next last today now follow subscribe ok okay yes yeah well hi hello
start starts started begin begins began wait waits look looks looked seem seems keep keeps kept try tries
tried feel feels felt put puts give gives gave show shows showed tell tells told find finds found call calls
become becomes became happen happens happened fill fills filled good great best better bad big small new old
sure right able lot kind sort part
shot image video clip photo picture footage showing view broll
""".split())
_STOP = STOPWORDS  # the old private name


def content_words(text: str) -> list[str]:
    """Lower-case content words of TEXT in spoken order, each once, without filler words and numbers."""
    found: list[str] = []
    for word in re.findall(r"\w+(?:['’]\w+)?", str(text or "").lower()):
        word = word.strip("_").replace("’", "'")
        if len(word) < 2 or word in STOPWORDS or word.isdigit() or word.split("'")[0] in STOPWORDS:
            continue
        if word not in found:
            found.append(word)
    return found


def stem(word: str) -> str:
    """A plural 's' dropped so 'clouds' matches 'cloud' (not 'glass' or 'bus')."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> set[str]:
    """Lower-case keywords of TEXT (letters and digits in any script), without filler words; a plural 's'
    is dropped so 'clouds' matches 'cloud'."""
    return {stem(word.split("'")[0]) for word in content_words(text)}


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

    def match(self, visual: str, used: set[Path] | None = None) -> Entry | None:
        """The still or clip sharing the most keywords with VISUAL (ties: unused first, then clips, then
        name order); None when nothing shares a word."""
        wanted = words(visual)
        used = used or set()
        best, best_key = None, None
        for entry in self.entries:
            if entry.kind == "audio":
                continue
            score = len(wanted & entry.tags)
            if not score:
                continue
            key = (score, entry.path not in used, entry.kind == "clip")
            if best_key is None or key > best_key:
                best, best_key = entry, key
        return best

    def music(self) -> Entry | None:
        tracks = [e for e in self.entries if e.kind == "audio" and "music" in e.tags]
        return tracks[0] if tracks else None
