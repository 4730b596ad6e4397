"""Thumbnail making: candidate frames from a video (one ffmpeg call), a score per frame (sharpness, contrast,
brightness), a large outlined title overlay that stays readable at phone size, and a 1280x720 JPEG at high
quality (90 or more) under YouTube's 50 MB thumbnail limit.

PIL and numpy are imported inside the functions so importing this module stays cheap.
"""

from __future__ import annotations

import glob
import io
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..core.once import once
from ..errors import BadInput, ConfigError
from . import ffmpeg, fonts

WIDTH, HEIGHT = 1280, 720
MAX_BYTES = 50 * 1024 * 1024  # YouTube thumbnails.set: up to 50 MB since 2026-09-14 (it was 2 MB)
QUALITY = (95, 90)  # JPEG qualities tried: high, never squeezed below 90
MAX_LINES = 3
LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.local/share/fonts"))


@dataclass
class Frame:
    image: Any  # PIL.Image.Image, 1280x720 RGB
    score: float
    tiny: Any  # numpy array: a 32x18 grey copy, to tell near-duplicate frames apart
    text_width: int = WIDTH  # how wide the title may run from its edge (a poster keeps its picture's side)
    shade: bool = True  # darken under the title (a busy frame needs it; a calm card does not)
    centred: bool = False  # the title in the middle of its side (a poster), not along the bottom (a frame)


# --- candidate frames -----------------------------------------------------------------------------------


def extract_frames(video: str | Path, duration: float, pool: int, scene: float, portrait: bool = False,
                   keep: float = 1.0) -> list[Any]:
    """About `pool` frames spread evenly over the video plus the first frame after each scene change
    (score above `scene`), cropped to fill 1280x720 (PORTRAIT: centred on a blurred background), from one
    ffmpeg run. Only the top KEEP of each frame is used (the part above burned captions). Returns PIL
    images in time order."""
    from PIL import Image

    duration = duration if duration and duration > 0 else ffmpeg.duration(video)
    if duration <= 0:
        raise BadInput(f"{video}: video has no duration; re-render it with cs-render --force")
    step = duration / (pool + 1)
    # Skip the first half step (fades in from black, logos); take a frame every `step` seconds, and a frame
    # right after a cut unless one was taken less than half a step ago.
    select = (
        f"isnan(prev_selected_t)*gte(t\\,{step / 2:.3f})"
        f"+gte(t-prev_selected_t\\,{step:.3f})"
        f"+gt(scene\\,{scene:.3f})*gte(t-prev_selected_t\\,{step / 2:.3f})"
    )
    cover = f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=increase,crop={WIDTH}:{HEIGHT}"
    above = f"crop=iw:trunc(ih*{keep:.4f}/2)*2:0:0," if keep < 1 else ""
    if portrait:  # a vertical video, whole, over a blurred, zoomed copy of itself: a crop would cut most of it
        frame = f"split[whole][back];[back]{cover},boxblur=24[blurred];[whole]scale=-2:{HEIGHT}[front];" \
                f"[blurred][front]overlay=(W-w)/2:0,setsar=1"
    else:
        frame = f"{cover},setsar=1"
    graph = f"select='{select}',{above}{frame}"
    # Long videos: scene scores on keyframes only, or decoding every frame takes minutes.
    fast = ["-skip_frame", "nokey"] if duration > 300 else []
    from .. import artifacts

    with artifacts.scratch("cs-thumb") as work:  # under $CS_OUT_DIR/.tmp, swept if a kill leaves it
        pattern = os.path.join(work, "%05d.png")
        ffmpeg.run([*fast, "-i", str(video), "-an", "-vf", graph, "-vsync", "vfr", pattern],
                   total_seconds=duration, description="frames")
        names = sorted(glob.glob(os.path.join(work, "*.png")))
        if not names:  # a video shorter than half a step: take its first frame
            ffmpeg.run(["-i", str(video), "-an", "-vf", above + frame, "-frames:v", "1", pattern],
                       description="frames")
            names = sorted(glob.glob(os.path.join(work, "*.png")))
        frames = []
        for name in names:
            with Image.open(name) as image:
                frames.append(image.convert("RGB"))
    if not frames:
        raise BadInput(f"{video}: ffmpeg found no video frames; check that the file has a video stream")
    return frames


def score(image: Any) -> tuple[float, Any]:
    """A 0..1 score: sharp (variance of the Laplacian), contrasty (spread of luminance) and neither too dark
    nor too bright. Also returns a tiny grey copy for duplicate checks."""
    import numpy as np

    grey = np.asarray(image.convert("L").resize((320, 180)), dtype=np.float32)
    laplacian = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]
    sharp = float(laplacian.var())
    sharpness = sharp / (sharp + 300.0)  # ~0.5 for an ordinary in-focus frame at this size
    contrast = min(float(grey.std()) / 64.0, 1.0)
    mean = float(grey.mean()) / 255.0
    brightness = max(0.0, 1.0 - abs(mean - 0.5) / 0.5)
    value = 0.5 * sharpness + 0.3 * contrast + 0.2 * brightness
    if mean < 0.08 or mean > 0.95:  # black or blown-out frames make useless thumbnails
        value *= 0.3
    tiny = np.asarray(image.convert("L").resize((32, 18)), dtype=np.float32)
    return round(value, 4), tiny


def best_frames(frames: list[Any], count: int) -> list[Frame]:
    """The `count` best-scored frames, skipping near-duplicates of frames already chosen while others are
    left; best first."""
    import numpy as np

    scored = []
    for image in frames:
        value, tiny = score(image)
        scored.append(Frame(image, value, tiny))
    scored.sort(key=lambda frame: frame.score, reverse=True)
    chosen: list[Frame] = []
    for frame in scored:
        if len(chosen) == count:
            break
        if all(float(np.abs(frame.tiny - other.tiny).mean()) > 6.0 for other in chosen):
            chosen.append(frame)
    for frame in scored:  # not enough distinct frames: allow look-alikes
        if len(chosen) == count:
            break
        if not any(frame is other for other in chosen):
            chosen.append(frame)
    return sorted(chosen, key=lambda frame: frame.score, reverse=True)


# --- fonts ----------------------------------------------------------------------------------------------


@once
def _font_files() -> tuple[str, ...]:
    """DejaVu Sans Bold, then Noto bold faces, then other Noto faces installed on this machine."""
    noto = []
    for root in FONT_DIRS:
        noto += glob.glob(os.path.join(root, "**", "Noto*"), recursive=True)
    noto = [n for n in noto if n.lower().endswith((".ttf", ".otf", ".ttc"))]
    # Plain Noto Sans before the looped, serif and UI variants.
    order = lambda n: (not os.path.basename(n).startswith("NotoSans"), "UI" in os.path.basename(n), n)  # noqa: E731
    bold = sorted((n for n in noto if "Bold" in os.path.basename(n) and "Italic" not in n), key=order)
    other = sorted((n for n in noto if n not in bold and "Italic" not in n), key=order)
    return tuple(([LATIN_FONT] if os.path.isfile(LATIN_FONT) else []) + bold + other)


def _load(path: str, size: int) -> Any:
    # One set of font objects per thread: a FreeType face must not be used by two threads at once (-j N).
    return _load_for_thread(path, size, threading.get_ident())


@once
def _load_for_thread(path: str, size: int, thread: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


def _covers(path: str, text: str) -> int:
    """How many of TEXT's characters the font draws with a real glyph (not its empty-box .notdef glyph)."""
    font = _load(path, 40)
    notdef = font.getmask("\U0010fffd")
    notdef_key = (notdef.size, bytes(notdef))
    count = 0
    for char in set(text):
        if char.isspace():
            continue
        mask = font.getmask(char)
        if (mask.size, bytes(mask)) != notdef_key:
            count += 1
    return count


def pick_font(text: str, wanted: str | None = None) -> tuple[str, bool]:
    """The font file to draw TEXT with and whether it has every character: WANTED if given, else the first
    of DejaVu Sans Bold and the installed Noto fonts that covers the whole text (else the one covering most)."""
    if wanted:
        if not os.path.isfile(wanted):
            raise ConfigError(f"font {wanted} not found; give an existing .ttf/.otf file to --font")
        return wanted, True
    files = _font_files()
    if not files:
        raise ConfigError("no font found for the title; install fonts-dejavu-core (apt-get install fonts-dejavu-core)")
    need = len({c for c in text if not c.isspace()})
    best, best_count = files[0], -1
    for path in files:
        try:
            count = _covers(path, text)
        except OSError:
            continue
        if count == need:
            return path, True
        if count > best_count:
            best, best_count = path, count
    return best, False


# --- title overlay --------------------------------------------------------------------------------------


def _wrap(text: str, font: Any, width: int) -> list[str]:
    """Greedy wrap by pixel width; a word wider than a line (or text in a script without spaces, such as
    Chinese) breaks between characters."""
    tokens: list[tuple[str, bool]] = []  # (piece, space before it)
    for word in text.split():
        if font.getlength(word) <= width:
            tokens.append((word, True))
        else:
            tokens += [(cluster, index == 0) for index, cluster in enumerate(_clusters(word))]
    lines: list[str] = []
    for piece, spaced in tokens:
        joined = lines[-1] + (" " if spaced else "") + piece if lines else piece
        if lines and font.getlength(joined) <= width:
            lines[-1] = joined
        else:
            lines.append(piece)
    return lines


def _clusters(word: str) -> list[str]:
    """WORD cut between characters but never before a combining mark (Thai vowels and tones, accents)."""
    import unicodedata

    clusters: list[str] = []
    for char in word:
        if clusters and (unicodedata.category(char) in ("Mn", "Mc", "Me") or char in "\u200d\ufe0f"):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def layout(text: str, font_path: str, box: tuple[int, int]) -> tuple[Any, list[str]]:
    """The largest font size (from 168 px down to 44) at which TEXT fits BOX in at most 3 lines without
    breaking a word; at the smallest size, the third line ends in an ellipsis if the text is still too long.
    Five words of a title fill two or three lines at 120-168 px: large enough to read at phone size."""
    width, height = box
    spaced = [word for word in text.split() if not any(fonts.script_of(c) in ("cjk", "thai") for c in word)]
    for size in range(168, 43, -4):
        font = _load(font_path, size)
        if size > 44 and any(font.getlength(word) > width for word in spaced):
            continue  # "Ho / mebrewing": a word of a spaced script is broken only when nothing else fits
        lines = _wrap(text, font, width)
        line_height = int(size * 1.12)
        if len(lines) <= MAX_LINES and line_height * len(lines) <= height:
            return font, lines
    lines = lines[:MAX_LINES]
    last = lines[-1]
    while last and font.getlength(last + "…") > width:
        last = last[:-1].rstrip()
    lines[-1] = last + "…"
    return font, lines


TEXT_WORDS = 5  # what a viewer reads on a phone-size thumbnail at a glance
_CLAUSE_END = re.compile(r"\s*(?:[:|?!(\[]|\s[-–—]\s)\s*")


def thumb_text(title: str, focus: Callable[[str], str] | None = None) -> str:
    """At most TEXT_WORDS words of TITLE, in its order, for the thumbnail: the whole title when short, else
    its first clause when that is 2 to 5 words ("Why Home Espresso Tastes Bitter (and how to fix it)"),
    else the window of the title with the most content words (FOCUS(title), its head noun, counts double;
    asked only then, as it may load a tagger)."""
    from ..text import _trim_dangling
    from .picture_cards import key_phrase

    title = " ".join(title.split())
    if len(title.split()) <= TEXT_WORDS:
        return title
    first = _CLAUSE_END.split(title, maxsplit=1)[0].strip(" ,;.")
    if 2 <= len(first.split()) <= TEXT_WORDS:
        return first
    phrase = _trim_dangling(key_phrase(title, focus(title) if focus else "", most=TEXT_WORDS))
    return phrase or " ".join(title.split()[:TEXT_WORDS])


def text_problems(text: str, title: str) -> list[str]:
    """Why TEXT (a rule's or a model's) is no thumbnail text for TITLE: too many words, or a word the title
    lacks (compared without case and punctuation)."""
    import unicodedata

    plain = lambda value: [unicodedata.normalize("NFKC", w).casefold().strip(".,;:!?\"'()[]") for w in value.split()]  # noqa: E731
    found = []
    if not text.strip():
        found.append("it is empty")
    if len(text.split()) > TEXT_WORDS:
        found.append(f"it has {len(text.split())} words (at most {TEXT_WORDS})")
    missing = [w for w in plain(text) if w and w not in set(plain(title))]
    if missing:
        found.append(f"not in the title: {', '.join(missing)}")
    return found


def overlay_title(image: Any, title: str, font_path: str, width: int = WIDTH, shade: bool = True,
                  centred: bool = False) -> Any:
    """A copy of IMAGE with TITLE in large white letters with a black outline, in the lower part (over a
    darkening with SHADE; in the middle when CENTRED) and WIDTH pixels from its side, so it reads at
    168x94 (YouTube's smallest size)."""
    from PIL import Image, ImageDraw

    margin = 56
    font, lines = layout(title, font_path, (width - 2 * margin, int(HEIGHT * (0.8 if centred else 0.62))))
    size = font.size
    line_height = int(size * 1.12)
    top = (HEIGHT - line_height * len(lines)) // 2 if centred else HEIGHT - margin - line_height * len(lines)
    result = image.convert("RGB").copy()
    if shade:
        _darken_below(result, top)
    draw = ImageDraw.Draw(result)
    stroke = max(3, size // 14)
    rtl = right_to_left(title)
    for number, line in enumerate(lines):
        x = WIDTH - margin - int(font.getlength(line)) if rtl else margin
        draw.text((x, top + number * line_height), line, font=font, fill=(255, 255, 255),
                  stroke_width=stroke, stroke_fill=(0, 0, 0))
    return result


def _darken_below(image: Any, top: int) -> None:
    """A vertical gradient over IMAGE: clear above TOP - 120, 70% black from TOP (where the title starts)."""
    from PIL import Image

    shade = Image.new("L", (1, HEIGHT))
    start = max(0, top - 120)
    for y in range(HEIGHT):
        shade.putpixel((0, y), 0 if y < start else min(180, int(180 * (y - start) / max(1, top - start))))
    image.paste(Image.new("RGB", (WIDTH, HEIGHT), "black"), (0, 0), shade.resize((WIDTH, HEIGHT)))


def right_to_left(text: str) -> bool:
    """Whether the first letter with a direction is Arabic or Hebrew: such titles align to the right."""
    import unicodedata

    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("L", "R", "AL"):
            return kind != "L"
    return False


def encode_jpeg(image: Any, limit: int = MAX_BYTES) -> bytes:
    """JPEG bytes at quality 95, else 90, under LIMIT (a 1280x720 frame is far below 50 MB at either)."""
    data = b""
    for quality in QUALITY:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
        data = buffer.getvalue()
        if len(data) <= limit:
            return data
    buffer = io.BytesIO()  # still too big (noise-like frames): halve the detail, keep the size
    image.resize((WIDTH // 2, HEIGHT // 2)).resize((WIDTH, HEIGHT)).save(buffer, "JPEG", quality=60, optimize=True)
    return buffer.getvalue()
