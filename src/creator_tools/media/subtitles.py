"""Word-timed captions: script-to-speech alignment, caption pages, and SRT, WebVTT and ASS writers.

`words` everywhere is a list of {word, start, end} (seconds), as in a record's `captions.words`.
cs-render calls `write_ass(words, path, width, height)` to remake the karaoke ASS for another frame size.
Pure stdlib.
"""

from __future__ import annotations

import difflib
import os
import re
from typing import Sequence

from ..artifacts import atomic_write_text
from . import textnorm

Page = list[list[dict]]  # lines of words

SENTENCE_END = re.compile(r"[.!?…。！？।؟]['\")\]」』）]*$")
NOT_SENTENCE_END = set(textnorm.ABBREVIATIONS) - {"etc."}  # "Dr." does not end a page
PAGE_GAP_S = 0.8  # a pause this long starts a new caption page
HOLD_S = 0.4  # a page stays this long after its last word, unless the next page starts sooner


# --- alignment --------------------------------------------------------------------------------------------


def align(script_words: Sequence[str], heard: Sequence[dict], language: str = "en") -> tuple[list[dict], float]:
    """Time the script's own words with whisper's: match normalised tokens ("3.5%" and "three point five
    percent" both become three/point/five/percent) with difflib; a script word takes the span of the heard
    words it matched; runs whisper misheard take the span of what it heard there; words it missed entirely
    are placed between their neighbours in proportion to their length.
    Returns (words, share of script tokens that matched)."""
    script_tokens, script_owner = _tokens(script_words, language)
    heard_tokens, heard_owner = _tokens([w["word"] for w in heard], language)
    spans: list[list[float] | None] = [None] * len(script_words)

    def claim(word: int, start: float, end: float) -> None:
        span = spans[word]
        spans[word] = [start, end] if span is None else [min(span[0], start), max(span[1], end)]

    matcher = difflib.SequenceMatcher(None, script_tokens, heard_tokens, autojunk=False)
    matched = 0
    for op, s1, s2, h1, h2 in matcher.get_opcodes():
        if op == "equal":
            matched += s2 - s1
            for offset in range(s2 - s1):
                said = heard[heard_owner[h1 + offset]]
                claim(script_owner[s1 + offset], said["start"], said["end"])
        elif op == "replace":
            # Misheard stretch: spread the script words over the time whisper spent on it.
            first, last = heard[heard_owner[h1]], heard[heard_owner[h2 - 1]]
            owners = sorted(set(script_owner[s1:s2]))
            for word, (start, end) in zip(owners, _spread(first["start"], last["end"], [script_words[i] for i in owners])):
                if spans[word] is None:
                    spans[word] = [start, end]
    _fill_gaps(script_words, spans, heard)
    words = [{"word": w, "start": round(s[0], 3), "end": round(s[1], 3)} for w, s in zip(script_words, spans)]
    return words, (matched / len(script_tokens) if script_tokens else 0.0)


def _tokens(words: Sequence[str], language: str) -> tuple[list[str], list[int]]:
    tokens, owner = [], []
    for index, word in enumerate(words):
        for token in textnorm.tokens(word, language):
            # Scripts without spaces match letter by letter: whisper groups "咖啡豆" as it likes.
            for piece in (_units(token) if any(_spaceless(c) for c in token) else [token]):
                tokens.append(piece)
                owner.append(index)
    return tokens, owner


# --- scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Burmese) -------------------------

def _spaceless(char: str) -> bool:
    code = ord(char)
    return (0x3040 <= code <= 0x30FF or 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x2FA1F
            or 0x0E00 <= code <= 0x0EFF or 0x1780 <= code <= 0x17FF or 0x1000 <= code <= 0x109F or code == 0x30FC)


def _wide(char: str) -> bool:
    """Drawn about twice as wide as a Latin letter (CJK ideographs, kana, full-width punctuation)."""
    code = ord(char)
    return 0x2E80 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFF60 \
        or 0x20000 <= code <= 0x2FA1F


def _units(text: str) -> list[str]:
    """TEXT cut into the pieces a line may break between: each letter of a spaceless script with the marks
    after it (Thai vowels and tones stay on their consonant), runs of other letters whole, punctuation kept
    on the piece before it (a line never starts with "。")."""
    import unicodedata

    pieces: list[str] = []
    for char in text:
        mark = unicodedata.category(char)[0] in "MP" or char in "\u200d\ufe0f"
        if pieces and (mark or (not _spaceless(char) and not _spaceless(pieces[-1][-1]))):
            pieces[-1] += char
        else:
            pieces.append(char)
    return pieces


def script_words(texts: Sequence[str], language: str = "en") -> list[str]:
    """The script's words as captions show them: split at spaces, and a spaceless script's text into
    letters (with their marks and punctuation), which caption lines join without spaces."""
    found: list[str] = []
    for text in texts:
        for word in text.split():
            found += _units(word) if any(_spaceless(c) for c in word) else [word]
    return found


def spread(texts: Sequence[str], spans: Sequence[tuple[float, float]], language: str = "en") -> list[dict]:
    """Words of each segment's text timed across its span of the voice, in proportion to their letters: our
    own voice's timing when whisper hears none of it (the multilingual base hears little of espeak-ng's
    Arabic: `cs-caption` on a 30-second Arabic Short found "no speech")."""
    words: list[dict] = []
    for text, (start, end) in zip(texts, spans):
        items = script_words([text], language)
        total = sum(len(w) for w in items) or 1
        at = start
        for word in items:
            length = (end - start) * len(word) / total
            words.append({"word": word, "start": round(at, 3), "end": round(at + length, 3)})
            at += length
    return words


def joiner(before: str, after: str) -> str:
    """What stands between two caption words: nothing between letters of a spaceless script, else a space."""
    return "" if before and after and (_spaceless(before[-1]) or _wide(before[-1])) and (_spaceless(after[0]) or _wide(after[0])) else " "


def join_words(items: Sequence[str]) -> str:
    out = ""
    for word in items:
        out = f"{out}{joiner(out, word)}{word}" if out else word
    return out


def text_width(text: str) -> float:
    """Width in Latin-letter units: a CJK letter counts as 1.7 (max_chars assumes Latin letters)."""
    return sum(1.7 if _wide(c) else 1 for c in text)


def _spread(start: float, end: float, words: Sequence[str]) -> list[tuple[float, float]]:
    """Split [start, end] among WORDS in proportion to their length in characters."""
    weights = [max(1, len(w)) for w in words]
    total = sum(weights)
    out, at = [], start
    for weight in weights:
        step = (end - start) * weight / total
        out.append((at, at + step))
        at += step
    return out


def _fill_gaps(script_words: Sequence[str], spans: list, heard: Sequence[dict]) -> None:
    """Give untimed words the time between their timed neighbours, and keep starts in order."""
    end_of_speech = heard[-1]["end"] if heard else 0.0
    index = 0
    while index < len(spans):
        if spans[index] is not None:
            index += 1
            continue
        stop = index
        while stop < len(spans) and spans[stop] is None:
            stop += 1
        after = spans[index - 1][1] if index else (heard[0]["start"] if heard else 0.0)
        before = spans[stop][0] if stop < len(spans) else max(end_of_speech, after)
        if before <= after:  # no room: squeeze a short slot after the previous word
            before = after + 0.08 * (stop - index)
        for offset, span in enumerate(_spread(after, before, script_words[index:stop])):
            spans[index + offset] = list(span)
        index = stop
    for index in range(1, len(spans)):  # a matching glitch must never move a word before its predecessor
        if spans[index][0] < spans[index - 1][0]:
            spans[index][0] = spans[index - 1][0]
        spans[index][1] = max(spans[index][1], spans[index][0])


# --- pages ------------------------------------------------------------------------------------------------


def pages(words: Sequence[dict], max_chars: int = 32, max_lines: int = 2) -> list[Page]:
    """Group words into caption pages of at most MAX_LINES lines of at most MAX_CHARS characters (a longer
    single word gets a line of its own). A page also ends after a sentence and at a pause."""
    result: list[Page] = []
    page: Page = []
    line: list[dict] = []

    def line_length(items: list[dict]) -> float:
        return text_width(join_words([w["word"] for w in items]))

    for number, word in enumerate(words):
        if line and line_length(line + [word]) > max_chars:
            page.append(line)
            line = []
            if len(page) >= max_lines:
                result.append(page)
                page = []
        line.append(word)
        following = words[number + 1] if number + 1 < len(words) else None
        pause = following is not None and following["start"] - word["end"] >= PAGE_GAP_S
        sentence_end = SENTENCE_END.search(word["word"]) and word["word"] not in NOT_SENTENCE_END
        if sentence_end or pause:
            page.append(line)
            result.append(page)
            page, line = [], []
    if line:
        page.append(line)
    if page:
        result.append(page)
    return result


def _page_times(all_pages: list[Page]) -> list[tuple[float, float]]:
    times = []
    for number, page in enumerate(all_pages):
        start, end = page[0][0]["start"], page[-1][-1]["end"]
        if number + 1 < len(all_pages):
            end = max(end, min(end + HOLD_S, all_pages[number + 1][0][0]["start"]))
        else:
            end += HOLD_S
        times.append((start, max(end, start + 0.05)))
    return times


def _text(line: list[dict]) -> str:
    return join_words([w["word"] for w in line])


# --- SRT and WebVTT ---------------------------------------------------------------------------------------


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


# Players and YouTube read SSA override blocks (`{\fs300}`, `{\pos(0,0)}`) and a few HTML tags in SRT, and
# SRT has no way to escape them: text from a script that looks like one is dropped, never passed on.
_SRT_CODES = re.compile(r"\{\\[^}]*\}|</?(?:b|i|u|s|font)(?:\s[^>]*)?>", re.IGNORECASE)


def srt_text(text: str) -> str:
    """TEXT without what an SRT reader would take as formatting codes ("{\\fs300}Big" -> "Big")."""
    return " ".join(_SRT_CODES.sub("", text).split())


def write_srt(words: Sequence[dict], path: str | os.PathLike, max_chars: int = 42, max_lines: int = 2) -> None:
    all_pages = pages(words, max_chars, max_lines)
    cues = []
    for page, (start, end) in zip(all_pages, _page_times(all_pages)):
        text = "\n".join(line for line in (srt_text(_text(line)) for line in page) if line)
        if text:  # a page that was only codes leaves no empty cue
            cues.append(f"{len(cues) + 1}\n{_clock(start, ',')} --> {_clock(end, ',')}\n{text}\n")
    atomic_write_text(path, "\n".join(cues))


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_vtt(words: Sequence[dict], path: str | os.PathLike, max_chars: int = 42, max_lines: int = 2) -> None:
    all_pages = pages(words, max_chars, max_lines)
    cues = ["WEBVTT\n"]
    for page, (start, end) in zip(all_pages, _page_times(all_pages)):
        text = "\n".join(_vtt_escape(_text(line)) for line in page)
        cues.append(f"{_clock(start, '.')} --> {_clock(end, '.')}\n{text}\n")
    atomic_write_text(path, "\n".join(cues))


# --- ASS with the spoken word highlighted -----------------------------------------------------------------

WHITE, HIGHLIGHT = "FFFFFF", "00E5FF"  # BBGGRR: white text, the spoken word in amber
OUTLINE, SHADOW = "&H00000000", "&H80000000"  # &HAABBGGRR


def ass_escape(text: str) -> str:
    """User text that libass shows as typed: `\\{` and `\\}` are libass's literal braces; a backslash gets a
    word joiner after it so `\\N`, `\\h` or `\\i1` in the text are not read as codes; line breaks become spaces."""
    text = text.replace("\\", "\\\u2060").replace("{", "\\{").replace("}", "\\}")
    return " ".join(text.split())


def ass_layout(width: int, height: int) -> dict:
    """Font size, outline, margins and characters per line for a frame: big bold captions that leave a
    margin (more at the bottom of a vertical frame, where the Shorts player puts its buttons)."""
    size = round(min(width, height) * 0.07)
    margin_h = round(width * 0.06)
    return {
        "size": size,
        "outline": max(2, round(size / 14)),
        # no drop shadow: the outline alone keeps the words readable on any picture (a frame with and without
        # it differs by a 3 px grey edge), and burning the shadow layer took 4-7 s more CPU for a 60 s Short
        # in encodes of the same raw frames (within the noise of a whole render, bench/render.sh CLIPS=5)
        "shadow": 0,
        "margin_h": margin_h,
        "margin_v": round(height * (0.16 if height > width else 0.07)),
        "max_chars": max(10, int((width - 2 * margin_h) / (size * 0.62))),
    }


def caption_top(width: int, height: int, line: float = 1.25) -> float:
    """The y where burned captions' two lines (each LINE times the font size) begin in a WIDTHxHEIGHT frame:
    cards keep their words above it, thumbnails their frames."""
    layout = ass_layout(width, height)
    return height - layout["margin_v"] - 2 * layout["size"] * line


def _ass_clock(seconds: float) -> str:
    centis = max(0, round(seconds * 100))
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6000)
    secs, centis = divmod(rest, 100)
    return f"{hours:d}:{minutes:02d}:{secs:02d}.{centis:02d}"


def write_ass(words: list[dict], path: str | os.PathLike, width: int, height: int, font: str = "DejaVu Sans") -> None:
    """An ASS file for a WIDTHxHEIGHT frame: pages of one or two lines at the bottom centre, each word
    coloured while it is spoken (one event per word, so the page never moves). FONT is a family name; the
    default DejaVu Sans gives way to the Noto family of the words' script (Arabic, Devanagari, CJK...), which
    libass shapes with HarfBuzz and lays out right to left with FriBidi."""
    from . import fonts

    spoken = " ".join(w["word"] for w in words)
    if font == "DejaVu Sans":
        font = fonts.family_for(spoken) or font
    # Encoding -1: libass finds each line's base direction. With 1 (left to right) the colour tag around the
    # spoken word splits an Arabic line into runs laid out left to right, so its words come out in reverse.
    encoding = -1 if fonts.base_direction(spoken) == "rtl" else 1
    layout = ass_layout(width, height)
    header = [
        "[Script Info]",
        "; made by creator-tools cs-caption",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 2",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
        "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
        "MarginL, MarginR, MarginV, Encoding",
        f"Style: Caption,{font.replace(',', ' ')},{layout['size']},&H00{WHITE},&H00{HIGHLIGHT},{OUTLINE},{SHADOW},-1,0,0,0,"
        f"100,100,0,0,1,{layout['outline']},{layout['shadow']},2,{layout['margin_h']},{layout['margin_h']},"
        f"{layout['margin_v']},{encoding}",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = []
    all_pages = pages(words, layout["max_chars"], 2)
    for page, (page_start, page_end) in zip(all_pages, _page_times(all_pages)):
        flat = [w for line in page for w in line]
        for index, word in enumerate(flat):
            start = page_start if index == 0 else word["start"]
            end = flat[index + 1]["start"] if index + 1 < len(flat) else page_end
            if end - start < 0.01:
                continue
            text = r"\N".join(
                "".join(
                    (joiner(line[k - 1]["word"], w["word"]) if k else "")
                    + (f"{{\\1c&H{HIGHLIGHT}&}}{ass_escape(w['word'])}{{\\1c&H{WHITE}&}}" if w is word else ass_escape(w["word"]))
                    for k, w in enumerate(line)
                )
                for line in page
            )
            events.append(f"Dialogue: 0,{_ass_clock(start)},{_ass_clock(end)},Caption,,0,0,0,,{text}")
    atomic_write_text(path, "\n".join(header + events) + "\n")


# --- cues (cs-translate keeps every cue's time and replaces its text) -----------------------------------

_CUE_TIME = re.compile(r"(\d+):(\d{2}):(\d{2})[,.](\d{3})\s*-->\s*(\d+):(\d{2}):(\d{2})[,.](\d{3})")


def read_srt(path: str | os.PathLike) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue of an SRT (or WebVTT) file; text keeps its line breaks."""
    with open(path, encoding="utf-8-sig") as handle:
        blocks = re.split(r"\n\s*\n", handle.read().replace("\r\n", "\n"))
    cues = []
    for block in blocks:
        lines = block.strip().split("\n")
        for number, line in enumerate(lines):
            match = _CUE_TIME.search(line)
            if match:
                h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups())
                start = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000
                end = h2 * 3600 + m2 * 60 + s2 + ms2 / 1000
                cues.append((start, end, "\n".join(lines[number + 1:]).strip()))
                break
    return cues


def write_cues(cues: Sequence[tuple[float, float, str]], srt_path: str | os.PathLike, vtt_path: str | os.PathLike) -> None:
    """The same cues as SRT and WebVTT files."""
    srt = [f"{n}\n{_clock(a, ',')} --> {_clock(b, ',')}\n{t}\n" for n, (a, b, t) in enumerate(cues, 1)]
    vtt = ["WEBVTT\n"] + [f"{_clock(a, '.')} --> {_clock(b, '.')}\n{_vtt_escape(t)}\n" for a, b, t in cues]
    atomic_write_text(srt_path, "\n".join(srt))
    atomic_write_text(vtt_path, "\n".join(vtt))
