"""The record contract (DESIGN.md) as one small shape per record key, checked in one place.

Every stage checks the keys it needs and the keys it reads before it works on a record (`Stage.check`), and
`--check` modes list what is wrong with `problems(key, value)`. A problem names the exact path and what
belongs there: `voice.duration_s should be a number of seconds (0 or more), got NaN`; `check` adds the fix
(`re-run cs-voice --force for this record`). Shapes are lenient where stages are: fields a record may lack
are optional, and an optional field may be null; extra fields pass (later stages add their own).
Stdlib only: every command imports this at start-up.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Iterator

from .errors import BadInput

MAX_PROBLEMS = 3  # a message lists this many problems, then says how many more


def describe(value: Any) -> str:
    """A JSON value as a message shows it: `"abc"`, `NaN`, `-5`, `a list of 2 items`, `an object`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (int, float)):
        shown = repr(value)
        return shown if len(shown) <= 24 else f"a number of {len(shown)} digits"
    if isinstance(value, str):
        shown = json.dumps(value, ensure_ascii=False)
        return shown if len(shown) <= 42 else shown[:40] + '..."'
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}" if value else "an empty list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Shape:
    """What a value must look like. `what` reads after "should be" in a message."""

    what = "a value"

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not self.fits(value):
            yield f"{path} should be {self.what}, got {describe(value)}"

    def fits(self, value: Any) -> bool:
        return True


class Text(Shape):
    def __init__(self, what: str = "a string", nonempty: bool = False):
        self.what, self.nonempty = what, nonempty

    def fits(self, value: Any) -> bool:
        return isinstance(value, str) and (not self.nonempty or bool(value.strip()))


class Number(Shape):
    """A finite JSON number (never a bool, never a string of digits), at least `minimum`."""

    def __init__(self, what: str, minimum: float | None = None, above: bool = False, integer: bool = False):
        self.what, self.minimum, self.above, self.integer = what, minimum, above, integer

    def fits(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.integer and value != int(value):
            return False
        if self.minimum is not None and (value <= self.minimum if self.above else value < self.minimum):
            return False
        return True


class Flag(Shape):
    what = "true or false"

    def fits(self, value: Any) -> bool:
        return isinstance(value, bool)


class Choice(Shape):
    def __init__(self, *values: str):
        self.values = values
        self.what = "one of " + ", ".join(json.dumps(v) for v in values)

    def fits(self, value: Any) -> bool:
        return value in self.values and isinstance(value, str)


class AnyOf(Shape):
    def __init__(self, what: str, *shapes: Shape):
        self.what, self.shapes = what, shapes

    def fits(self, value: Any) -> bool:
        return any(shape.fits(value) for shape in self.shapes)

    def problems(self, value: Any, path: str) -> Iterator[str]:
        for shape in self.shapes:
            found = list(shape.problems(value, path))
            if not found:
                return
            if isinstance(value, dict) and isinstance(shape, Obj):  # the right kind: its own detail helps more
                yield from found
                return
        yield f"{path} should be {self.what}, got {describe(value)}"


class Field:
    __slots__ = ("shape", "required")

    def __init__(self, shape: Shape, required: bool = False):
        self.shape, self.required = shape, required


class Obj(Shape):
    """An object with known fields; `only` limits the check to the fields a stage actually reads."""

    def __init__(self, what: str, **fields: Field | Shape):
        self.what = what
        self.fields = {name: f if isinstance(f, Field) else Field(f) for name, f in fields.items()}

    def fits(self, value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for name, spec in self.fields.items():
            field = value.get(name)
            if field is None:
                if spec.required:
                    return False
            elif not spec.shape.fits(field):
                return False
        return True

    def problems(self, value: Any, path: str, only: Iterable[str] | None = None) -> Iterator[str]:
        if not isinstance(value, dict):
            yield f"{path} should be {self.what}, got {describe(value)}"
            return
        names = self.fields if only is None else [n for n in only if n in self.fields]
        for name in names:
            spec = self.fields[name]
            where = f"{path}.{name}"
            if value.get(name) is None:
                if spec.required:
                    yield (f"{where} is missing" if name not in value
                           else f"{where} should be {spec.shape.what}, got null")
                continue
            yield from spec.shape.problems(value[name], where)


class ListOf(Shape):
    def __init__(self, what: str, item: Shape, nonempty: bool = False):
        self.what, self.item, self.nonempty = what, item, nonempty

    def fits(self, value: Any) -> bool:
        fits = self.item.fits
        return isinstance(value, list) and (bool(value) or not self.nonempty) and all(fits(item) for item in value)

    def problems(self, value: Any, path: str, only: Iterable[str] | None = None) -> Iterator[str]:
        if not isinstance(value, list):
            yield f"{path} should be {self.what}, got {describe(value)}"
            return
        if self.nonempty and not value:
            yield f"{path} is an empty list; it should be {self.what} with at least one item"
            return
        for index, item in enumerate(value):
            if isinstance(self.item, Obj):
                yield from self.item.problems(item, f"{path}[{index}]", only)
            else:
                yield from self.item.problems(item, f"{path}[{index}]")


# --- the contract -------------------------------------------------------------------------------------------

SECONDS = Number("a number of seconds (0 or more)", minimum=0)
POSITIVE_SECONDS = Number("a number of seconds above 0", minimum=0, above=True)
PIXELS = Number("a whole number of pixels above 0", minimum=0, above=True, integer=True)
BYTES = Number("a whole number of bytes (0 or more)", minimum=0, integer=True)
COUNT = Number("a whole number (0 or more)", minimum=0, integer=True)
PATH = Text("a file path (a non-empty string)", nonempty=True)
TEXT = Text()
FLAG = Flag()

SEGMENT = Obj("a segment object {text, visual, on_screen}", text=TEXT, visual=TEXT, on_screen=TEXT)
SPAN = Obj("an object {start, end} in seconds", start=Field(SECONDS, True), end=Field(SECONDS, True))
WORD = Obj("a word object {word, start, end}", word=Field(TEXT, True), start=Field(SECONDS, True),
           end=Field(SECONDS, True))
ASSET_ID = AnyOf("a string or a number", TEXT, Number("a number"))
# Another candidate for a shot (cs-visuals), and what cs-review copies into the shot's `replace`.
ALTERNATIVE = Obj("an alternative object {provider, asset_id, kind, url, link, preview, author, license, duration_s}",
                  provider=Field(TEXT, True), asset_id=Field(ASSET_ID, True), kind=Field(Choice("clip", "still"), True),
                  url=TEXT, link=TEXT, preview=TEXT, author=TEXT, license=TEXT, duration_s=SECONDS)
CARD_CHOICE = Obj("{\"kind\": \"card\"}", kind=Field(Choice("card"), True))


class Replacement(Shape):
    """A shot's `replace`: {"kind": "card"}, else an alternative (each object checked as its own kind)."""

    what = "one of the shot's alternatives or {\"kind\": \"card\"}"

    def _shape(self, value: Any) -> Shape:
        return CARD_CHOICE if isinstance(value, dict) and value.get("kind") == "card" else ALTERNATIVE

    def fits(self, value: Any) -> bool:
        return self._shape(value).fits(value)

    def problems(self, value: Any, path: str) -> Iterator[str]:
        if not isinstance(value, dict):
            yield f"{path} should be {self.what}, got {describe(value)}"
            return
        yield from self._shape(value).problems(value, path)


REPLACE = Replacement()
SHOT = Obj("a shot object {start, end, kind, path, ...}", start=SECONDS, end=SECONDS, duration_s=SECONDS,
           text=TEXT, query=TEXT, queries=ListOf("a list of search strings", TEXT),
           kind=Choice("clip", "still", "card"), path=TEXT, provider=TEXT, asset_id=ASSET_ID, url=TEXT, author=TEXT,
           license=TEXT, synthetic=FLAG, alternatives=ListOf("a list of alternative objects", ALTERNATIVE),
           replace=REPLACE)
THUMB = Obj("a thumbnail object {path, width, height, size_bytes, score, text}", path=Field(PATH, True), width=PIXELS,
            height=PIXELS, size_bytes=BYTES, score=Number("a number"), text=TEXT)
FINDING = Obj("a finding {check, severity, key, excerpt, message}", check=Field(TEXT, True),
              severity=Field(Choice("block", "warn"), True), key=TEXT, excerpt=TEXT, message=TEXT)
CHAPTER = Obj("a chapter object {start, title}", start=Field(SECONDS, True), title=Field(TEXT, True))

SHAPES: dict[str, Shape] = {
    "topic": Text("a topic of a few words (a string)"),
    "title": Text("a string"),
    "hook": TEXT, "angle": TEXT, "audience": TEXT,
    "format": Choice("short", "long"),
    "media": AnyOf("a file path or an object {path}", PATH, Obj("an object {path}", path=Field(PATH, True))),
    "script": Obj("an object {title, language, segments, cta}", title=TEXT, language=TEXT, cta=TEXT,
                  segments=Field(ListOf("a list of segment objects {text, visual, on_screen}", SEGMENT,
                                        nonempty=True), True),
                  wpm=Number("a number of words a minute above 0", minimum=0, above=True), target_s=POSITIVE_SECONDS),
    "voice": Obj("an object {engine, voice, path, duration_s, segments}", engine=TEXT, voice=TEXT,
                 path=Field(PATH, True), duration_s=SECONDS,
                 segments=ListOf("a list of {start, end} objects", SPAN)),
    "captions": Obj("an object {language, words, srt, vtt, ass}", language=TEXT,
                    words=ListOf("a list of word objects {word, start, end}", WORD), srt=TEXT, vtt=TEXT, ass=TEXT),
    "visuals": ListOf("a list of shot objects {start, end, kind, path, ...}", SHOT),
    "video": Obj("an object {path, duration_s, width, height, fps, size_bytes, sha256}", path=Field(PATH, True),
                 duration_s=SECONDS, width=PIXELS, height=PIXELS,
                 fps=Number("a number of frames a second above 0", minimum=0, above=True), size_bytes=BYTES,
                 sha256=TEXT),
    "thumbs": ListOf("a list of thumbnail objects {path, width, height, size_bytes, score}", THUMB),
    "thumb": THUMB,
    "meta": Obj("an object {title, description, tags, ...}", title=TEXT, description=TEXT,
                tags=ListOf("a list of strings", TEXT),
                chapters=ListOf("a list of chapter objects {start, title}", CHAPTER),
                category_id=AnyOf('a category number (a string such as "22")', TEXT, Number("a number", integer=True)),
                language=TEXT, privacy=Choice("private", "unlisted", "public"), publish_at=TEXT,
                made_for_kids=FLAG, synthetic_media=FLAG, playlist=TEXT),
    "youtube": Obj("an object {video_id, url, privacy, ...}",
                   video_id=Field(Text("a video id (a non-empty string)", nonempty=True), True), url=TEXT,
                   privacy=TEXT, publish_at=TEXT, thumbnail_set=FLAG, caption_id=TEXT, playlist_item_id=TEXT),
    "review": Obj("an object {status, by, at, flags, notes, edits}",
                  status=Field(Choice("approved", "rejected", "changes", "unreviewed"), True),
                  by=Choice("web", "terminal", "auto"), at=TEXT, notes=TEXT, edits=Obj("an object"),
                  flags=ListOf("a list of findings {check, severity, key, excerpt, message}", FINDING)),
    "translations": Obj("an object {LANG: {title, description, tags, srt, vtt}}"),
    "stats": Obj("an object {video_id, views, ...}", video_id=TEXT, views=COUNT),
    "recommendation": Obj("an object"),
}

# Which command writes each key: the fix a message names.
MADE_BY = {"topic": "cs-idea", "title": "cs-idea", "hook": "cs-idea", "angle": "cs-idea", "audience": "cs-idea",
           "format": "cs-idea", "script": "cs-script", "voice": "cs-voice", "captions": "cs-caption",
           "visuals": "cs-visuals", "video": "cs-render", "thumbs": "cs-thumb", "thumb": "cs-thumb",
           "meta": "cs-meta", "translations": "cs-translate", "review": "cs-review", "youtube": "cs-publish", "stats": "cs-stats", "recommendation": "cs-stats recommend"}


def problems(key: str, value: Any, fields: Iterable[str] | None = None) -> list[str]:
    """Everything wrong with VALUE as the record key KEY (empty when it fits or KEY has no shape).
    FIELDS limits an object's check to those fields (what a stage reads of it)."""
    shape = SHAPES.get(key)
    if shape is None or (fields is None and shape.fits(value)):  # the common case, without building messages
        return []
    if isinstance(shape, (Obj, ListOf)):
        return list(shape.problems(value, key, fields))
    return list(shape.problems(value, key))


def fix(key: str) -> str:
    """What to do about a wrong KEY: re-run the command that writes it, or edit the record by hand."""
    if key == "media":
        return "give 'media' as a path to your recording, or {\"path\": ...}"
    maker = MADE_BY.get(key)
    return f"re-run {maker} --force for this record or fix the record" if maker else "fix the record"


def check(key: str, value: Any, fields: Iterable[str] | None = None) -> None:
    """BadInput naming the first problems with KEY and the fix, when VALUE does not fit KEY's shape."""
    found = problems(key, value, fields)
    if found:
        more = f" (and {len(found) - MAX_PROBLEMS} more)" if len(found) > MAX_PROBLEMS else ""
        raise BadInput("; ".join(found[:MAX_PROBLEMS]) + more + f"; {fix(key)}")
