"""Fonts per writing system, for text that Pillow draws (title cards): Pillow has no glyph fallback, so
text is cut into runs of one script and each run gets a font that has it. libass (captions) falls back
through fontconfig by itself. The fonts come from Debian packages (requirements-apt.txt: fonts-dejavu-core,
fonts-noto-core, fonts-noto-cjk) and are found through fontconfig's `fc-match`."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from dataclasses import dataclass

from ..core.once import once
from ..errors import ConfigError

# (first, last, script, fontconfig language, direction)
_RANGES = [
    (0x0590, 0x05FF, "hebrew", "he", "rtl"),
    (0x0600, 0x06FF, "arabic", "ar", "rtl"),
    (0x0750, 0x077F, "arabic", "ar", "rtl"),
    (0x08A0, 0x08FF, "arabic", "ar", "rtl"),
    (0xFB50, 0xFDFF, "arabic", "ar", "rtl"),
    (0xFE70, 0xFEFF, "arabic", "ar", "rtl"),
    (0x0900, 0x097F, "devanagari", "hi", "ltr"),
    (0x0980, 0x09FF, "bengali", "bn", "ltr"),
    (0x0A00, 0x0A7F, "gurmukhi", "pa", "ltr"),
    (0x0A80, 0x0AFF, "gujarati", "gu", "ltr"),
    (0x0B80, 0x0BFF, "tamil", "ta", "ltr"),
    (0x0C00, 0x0C7F, "telugu", "te", "ltr"),
    (0x0E00, 0x0E7F, "thai", "th", "ltr"),
    (0x1100, 0x11FF, "cjk", "ko", "ltr"),
    (0x2E80, 0x9FFF, "cjk", "zh-cn", "ltr"),
    (0xAC00, 0xD7AF, "cjk", "ko", "ltr"),
    (0xF900, 0xFAFF, "cjk", "zh-cn", "ltr"),
    (0xFF00, 0xFFEF, "cjk", "zh-cn", "ltr"),
    (0x20000, 0x2FA1F, "cjk", "zh-cn", "ltr"),
]
_LANGS = {script: lang for _, _, script, lang, _ in _RANGES}
_NOTO = {"cjk": "Noto Sans CJK SC", "arabic": "Noto Sans Arabic", "hebrew": "Noto Sans Hebrew",
         "devanagari": "Noto Sans Devanagari", "bengali": "Noto Sans Bengali", "gurmukhi": "Noto Sans Gurmukhi",
         "gujarati": "Noto Sans Gujarati", "tamil": "Noto Sans Tamil", "telugu": "Noto Sans Telugu",
         "thai": "Noto Sans Thai"}
_DIRECTIONS = {script: direction for _, _, script, _, direction in _RANGES}
# libass (burned captions) shapes Noto Sans Arabic's lam before lam-alef ("للأشخاص") into a missing-glyph box,
# where Pillow's Raqm draws it whole; Noto Naskh Arabic shapes right in both (tests/test_languages.py)
_LIBASS = {**_NOTO, "arabic": "Noto Naskh Arabic"}


# Colour emoji: Debian's fonts-noto-color-emoji, a CBDT bitmap font that Pillow draws only at its one strike
# size (109 px) with embedded_color=True; cards scale the drawn run to the text size.
EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
EMOJI_STRIKE = 109
_EMOJI_RANGES = [(0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0x2300, 0x23FF), (0xFE0F, 0xFE0F),
                 (0x200D, 0x200D), (0xE0020, 0xE007F)]


def is_emoji(char: str) -> bool:
    """Part of an emoji: pictographs, dingbats, flags, skin tones and the joiners/selectors between them."""
    code = ord(char)
    return any(first <= code <= last for first, last in _EMOJI_RANGES)


def script_of(char: str) -> str | None:
    """The script of CHAR ('latin' for other letters, 'emoji' for emoji), or None for spaces, digits and
    punctuation, which take the script of the text around them."""
    code = ord(char)
    if code > 0x2000 and is_emoji(char):
        return "emoji"
    for first, last, script, _, _ in _RANGES:
        if first <= code <= last:
            return script
    category = unicodedata.category(char)
    return "latin" if category[0] in "LM" else None


def direction(script: str) -> str:
    return _DIRECTIONS.get(script, "ltr")


def language(script: str) -> str | None:
    """The language tag raqm shapes a run with (None: let it guess)."""
    return {"arabic": "ar", "hebrew": "he", "devanagari": "hi", "cjk": "zh"}.get(script)


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int = 0


@once
def font_for(script: str, bold: bool = True) -> FontFile:
    """A font file with glyphs for SCRIPT (fontconfig's best sans match for the script's language)."""
    fc_match = shutil.which("fc-match")
    if not fc_match:
        raise ConfigError("fc-match not found; install fontconfig and the fonts (apt-get install fontconfig "
                          "fonts-dejavu-core fonts-noto-core fonts-noto-cjk)")
    if script == "emoji":
        import os

        if not os.path.isfile(EMOJI_FONT):
            raise ConfigError(f"{EMOJI_FONT} not found; install fonts-noto-color-emoji (apt-get install fonts-noto-color-emoji)")
        return FontFile(EMOJI_FONT, 0)
    weight = ":weight=bold" if bold else ""
    preferred = "DejaVu Sans" if script == "latin" else _NOTO.get(script, "")
    for pattern in filter(None, (preferred and preferred + weight, f"sans:lang={_LANGS.get(script, 'en')}{weight}")):
        done = subprocess.run([fc_match, "-f", "%{file}|%{index}|%{family}", pattern], capture_output=True, text=True)
        path, _, rest = done.stdout.partition("|")
        index, _, family = rest.partition("|")
        if done.returncode == 0 and path and (not preferred or pattern != preferred + weight or preferred in family):
            break
    else:
        raise ConfigError(f"no font found for {script} text; install fonts-noto-core and fonts-noto-cjk")
    return FontFile(path, int(index or 0))


def family_for(text: str) -> str | None:
    """The Noto family for the script most of TEXT's letters are in (None for Latin text): the family libass
    asks fontconfig for, so Arabic captions are drawn with an Arabic font rather than a fallback's guess."""
    counts: dict[str, int] = {}
    for char in text:
        script = script_of(char)
        if script and script not in ("latin", "emoji"):
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return None
    return _LIBASS.get(max(counts, key=counts.get))


def runs(text: str) -> list[tuple[str, str]]:
    """Cut TEXT into (script, piece) runs; neutral characters join the run before them (or the first one)."""
    result: list[list[str]] = []
    pending = ""
    for char in text:
        script = script_of(char)
        if script is None and result and result[-1][0] not in ("latin", "cjk") and (
                ord(char) >= 0x80 or not char.isspace() and not covers(result[-1][0], char)):
            # Non-ASCII punctuation (dashes, quotes), and ASCII a script's font lacks (Noto Sans Hebrew has no
            # full stop), is drawn with the Latin font, which has it: never a missing-glyph box.
            script = "latin"
        if script is None:
            if result:
                result[-1][1] += char
            else:
                pending += char
            continue
        if result and result[-1][0] == script:
            result[-1][1] += char
        else:
            result.append([script, char])
    if not result:
        return [("latin", pending)] if pending else []
    result[0][1] = pending + result[0][1]
    return [(script, piece) for script, piece in result]


def covers(script: str, char: str) -> bool:
    """Whether SCRIPT's font has a glyph for CHAR (its cmap, read once per font with fontTools)."""
    try:
        found = font_for(script)
    except ConfigError:
        return True  # no font at all is reported where the text is drawn
    return ord(char) in _cmap(found.path, found.index)


@once
def _cmap(path: str, index: int) -> frozenset[int]:
    try:
        from fontTools.ttLib import TTCollection, TTFont
    except ImportError:  # without fontTools, trust the font (the old behaviour)
        return frozenset(range(0x20, 0x80))
    font = TTCollection(path).fonts[index] if path.lower().endswith((".ttc", ".otc")) else TTFont(path, lazy=True)
    return frozenset(font.getBestCmap() or {})


def base_direction(text: str) -> str:
    """The paragraph direction: that of the first letter with a direction (Unicode bidi's rule P2)."""
    for char in text:
        script = script_of(char)
        if script is not None:
            return direction(script)
    return "ltr"
