"""Offline pictures for cs-visuals' `cards` provider: a large colour emoji chosen from the sentence's words,
the shot's key phrase in big outlined type, on a soft gradient whose colours change from shot to shot.

Emoji come from the `emoji` package's names and aliases (":hot_beverage:", alias ":coffee:") plus a small map
of common words no name carries; they are drawn with Debian's Noto Color Emoji, a CBDT bitmap font that
FreeType loads only at its one strike size (109), so the glyph is drawn once and scaled."""

from __future__ import annotations

import colorsys
import re
import threading
from pathlib import Path

from ..core.once import once
from . import fonts
from .library import STOPWORDS, content_words, stem

EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
EMOJI_STRIKE = 109  # the only size the bitmap font has
FONT_EMOJI_VERSION = 15.0  # Noto Color Emoji 2.042 (Debian bookworm): newer emoji would draw as empty boxes
# Nouns and verbs people say that no emoji name carries, or whose best picture a name match would miss (no
# adjectives: "fresh coffee" should show the coffee).
KEYWORDS = {
    "money": "💰", "cash": "💵", "price": "🏷", "cost": "💸", "save": "🐷", "saving": "🐷", "budget": "📊",
    "learn": "📚", "study": "📚", "school": "🏫", "idea": "💡", "tip": "💡", "trick": "🪄", "secret": "🤫",
    "brain": "🧠", "mind": "🧠", "think": "🤔", "question": "❓", "answer": "✅", "mistake": "❌", "wrong": "❌",
    "time": "⏰", "minute": "⏱", "hour": "⌛", "morning": "🌅", "night": "🌙", "sleep": "😴", "day": "📅",
    "health": "🩺", "heart": "❤", "love": "❤", "stress": "😰", "energy": "⚡",
    "work": "💼", "job": "💼", "business": "🏢", "team": "👥", "people": "👥", "friend": "🤝", "family": "👪",
    "grow": "🌱", "growth": "📈", "success": "🏆", "win": "🏆", "goal": "🎯", "focus": "🎯", "plan": "🗺",
    "world": "🌍", "earth": "🌍", "planet": "🪐", "space": "🚀", "sky": "🌤", "sun": "☀", "light": "💡",
    "water": "💧", "ocean": "🌊", "sea": "🌊", "wave": "🌊", "beach": "🏖", "river": "🏞", "rain": "🌧",
    "food": "🍽", "eat": "🍽", "cook": "🍳", "cooking": "🍳", "drink": "🥤", "coffee": "☕", "tea": "🍵",
    "grinder": "⚙", "phone": "📱", "computer": "💻", "code": "💻", "data": "📊", "internet": "🌐",
    "music": "🎵", "sound": "🔊", "voice": "🎙", "video": "🎬", "photo": "📷", "camera": "📷", "book": "📖",
    "car": "🚗", "travel": "✈", "city": "🏙", "home": "🏠", "house": "🏠", "walk": "🚶", "run": "🏃",
    "exercise": "🏋", "sport": "⚽", "game": "🎮", "fun": "🎉", "party": "🎉", "gift": "🎁", "fire": "🔥",
    "tree": "🌳", "forest": "🌲", "flower": "🌸", "plant": "🪴", "animal": "🐾",
    "dog": "🐕", "cat": "🐈", "bird": "🐦", "fish": "🐟", "science": "🔬", "history": "📜", "art": "🎨",
    "write": "✍", "writing": "✍", "read": "📖", "news": "📰", "key": "🔑", "danger": "⚠",
    "taste": "😋", "bean": "🫘", "brew": "☕", "grind": "⚙",
    "espresso": "☕", "latte": "☕", "cappuccino": "☕", "barista": "☕", "mug": "☕", "kitchen": "🍳",
    # baking, cs-meta's own example topic: no emoji is named for these, so "sourdough" drew water from
    # "flour and water"
    "sourdough": "🍞", "dough": "🍞", "loaf": "🍞", "bake": "🍞", "baking": "🍞", "baker": "🍞", "yeast": "🍞",
    "flour": "🌾", "wheat": "🌾", "grain": "🌾", "oven": "🔥",
}
FALLBACK = ["✨", "💡", "📌", "🎬", "⭐", "🔎"]  # neutral symbols, picked by the phrase
_SKIP = re.compile(r"flag|button|keycap|skin_tone|_sign$|^regional|symbol|^input|^japanese|^squared|^circled|"
                   r"family_|couple|kiss|^[a-z]_|mark$")
_LETTERED = re.compile(r"^:[A-Z!]+_(?:arrow|button):$")  # 🔚 END, 🔜 SOON, 🆗 OK: a word written on a sign,
# no picture; their aliases (":end:", ":ok:") would otherwise match the word ("a recipe that never ends" drew 🔚)
_render_lock = threading.Lock()  # FreeType faces are not safe to draw with from two threads at once


@once
def emoji_index() -> dict[str, list[tuple[float, str]]]:
    """word stem -> [(score, emoji)]: 3 when the word is an emoji's whole name or alias, less when it is one
    word of a longer name, never the first word of a two-word one (single code points the font has, no
    flags, keycaps or skin tones)."""
    import emoji

    index: dict[str, list[tuple[float, str]]] = {}
    for char, data in emoji.EMOJI_DATA.items():
        base = char.replace("\ufe0f", "")
        if len(base) != 1 or float(data.get("E", 99)) > FONT_EMOJI_VERSION or data.get("status", 2) != 2 \
                or _LETTERED.match(data.get("en", "")):
            continue
        for name in [data.get("en", ""), *data.get("alias", [])]:
            name = name.strip(":").lower()
            if not name or _SKIP.search(name):
                continue
            raw = [p for p in re.split(r"[_\-\s]+", name) if p]
            parts = [p for p in raw if p not in STOPWORDS]
            if len(raw) == 2 == len(parts):
                parts = parts[1:]  # a compound's modifier names no picture: "guide dog" is a dog, not a guide
            for part in parts:
                score = 3.0 if len(parts) == 1 else 1.0 + 1.0 / len(parts)
                index.setdefault(stem(part), []).append((score, base))
    for word, char in KEYWORDS.items():
        index.setdefault(stem(word), []).append((3.5, char))
    for entries in index.values():
        entries.sort(key=lambda e: -e[0])
    return index


def _stems(word: str) -> list[str]:
    """The word and its crude stems ('grinding' -> grind, 'berries' -> berry), best first."""
    forms = [stem(word)]
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("er", ""), ("es", ""), ("ly", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            forms.append(word[: len(word) - len(suffix)] + repl)
    return forms


def choose_emoji(words: list[str], avoid: set[str] = frozenset(), fallback_words: list[str] = ()) -> tuple[str, str]:
    """(emoji, the word it shows) for content WORDS: the best-named match, one not in AVOID when another
    fits; then FALLBACK_WORDS (the topic), then a neutral symbol."""
    index = emoji_index()
    for pool, bonus in ((list(words), 0.0), (list(fallback_words), -1.0)):
        found: list[tuple[float, int, str, str]] = []
        for order, word in enumerate(pool):
            for form_rank, form in enumerate(_stems(word)):
                for score, char in index.get(form, [])[:3]:
                    if len(form) < 4 and score < 3:  # "de" in "fleur-de-lis" is no match for French "de"
                        continue
                    found.append((score + bonus - 0.5 * form_rank - order / 100, -order, char, word))
        fresh = [f for f in found if f[2] not in avoid]
        best = max(fresh or found, default=None)
        if best:
            return best[2], best[3]
    seed = sum(map(ord, " ".join(words)))
    choices = [c for c in FALLBACK if c not in avoid] or FALLBACK
    return choices[seed % len(choices)], ""


def key_phrase(text: str, focus: str = "", most: int = 5, language: str = "en") -> str:
    """2..MOST words of TEXT that carry it: the window with the most content words (the FOCUS word counts
    double), not starting or ending on a filler word of its LANGUAGE ("con", "por" in Spanish), not crossing
    a sentence end."""
    tokens = text.split()
    if not tokens:
        return ""
    clean = [re.sub(r"^[^\w]+|[^\w]+$", "", t) for t in tokens]
    content = [bool(content_words(c, language)) for c in clean]
    best, best_score = (0, min(len(tokens), most)), None
    for first in range(len(tokens)):
        for last in range(first + 1, min(len(tokens), first + most) + 1):
            if not content[first] or not content[last - 1] or any(re.search(r"[.!?]$", t) for t in tokens[first:last - 1]):
                continue
            score = sum(content[first:last]) * 2 + 2 * any(focus and focus in c.lower() for c in clean[first:last]) \
                - 0.5 * (last - first - sum(content[first:last]))
            if last - first < 2:
                score -= 1
            # cutting a phrase in two ("fresh | beans") reads badly: the neighbours should be fillers or a pause
            if first > 0 and content[first - 1] and not re.search(r"[,;:.!?]$", tokens[first - 1]):
                score -= 2
            if last < len(tokens) and content[last] and not re.search(r"[,;:.!?]$", tokens[last - 1]):
                score -= 2
            if best_score is None or score > best_score:
                best, best_score = (first, last), score
    phrase = " ".join(tokens[best[0]:best[1]]).strip(" ,;:.!?-–—\"'")
    return phrase[:1].upper() + phrase[1:]


# --- drawing --------------------------------------------------------------------------------------------


def palette(seed: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two soft colours a little apart in hue; SEED turns the wheel by a golden-angle step per shot."""
    hue = (seed * 0.381966) % 1.0
    top = colorsys.hls_to_rgb(hue, 0.42, 0.55)
    bottom = colorsys.hls_to_rgb((hue + 0.12) % 1.0, 0.22, 0.6)
    return tuple(round(c * 255) for c in top), tuple(round(c * 255) for c in bottom)


def _background(width: int, height: int, seed: int):
    """A diagonal gradient with a soft light glow behind where the emoji sits; drawn at an eighth of the
    size and scaled up (it is smooth, and full-size blurs cost seconds on a small CPU)."""
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    top, bottom = palette(seed)
    small = (max(8, width // 8), max(8, height // 8))
    ramp = Image.linear_gradient("L").resize(small, Image.BILINEAR)
    diagonal = ImageChops.add(ramp, ramp.rotate(90, expand=True).resize(small, Image.BILINEAR), scale=2.0)
    image = Image.composite(Image.new("RGB", small, bottom), Image.new("RGB", small, top), diagonal)
    glow = Image.new("L", small, 0)
    centre_x, centre_y, radius = small[0] // 2, int(small[1] * 0.38), min(small) // 2.5
    ImageDraw.Draw(glow).ellipse((centre_x - radius, centre_y - radius, centre_x + radius, centre_y + radius), fill=90)
    glow = glow.filter(ImageFilter.GaussianBlur(radius * 0.6))
    image = Image.composite(Image.new("RGB", small, (255, 255, 255)), image, glow)
    return image.resize((width, height), Image.BICUBIC)


def emoji_image(char: str, size: int):
    """CHAR drawn by the colour font at its strike size, cropped and scaled to SIZE pixels high (RGBA)."""
    from PIL import Image, ImageDraw

    with _render_lock:
        font = _emoji_font()
        canvas = Image.new("RGBA", (EMOJI_STRIKE * 2, EMOJI_STRIKE * 2), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((EMOJI_STRIKE, EMOJI_STRIKE), char, font=font, embedded_color=True, anchor="mm")
    box = canvas.getbbox()
    if box:
        canvas = canvas.crop(box)
    scale = size / max(canvas.size)
    return canvas.resize((max(1, round(canvas.width * scale)), max(1, round(canvas.height * scale))), Image.LANCZOS)


@once
def _emoji_font():
    from PIL import ImageFont

    from ..errors import ConfigError

    try:
        return ImageFont.truetype(EMOJI_FONT, EMOJI_STRIKE)
    except OSError:
        raise ConfigError(f"{EMOJI_FONT} not found; install fonts-noto-color-emoji (make setup)") from None


def _text_font(phrase: str, size: int):
    from PIL import ImageFont

    script = (fonts.runs(phrase) or [("latin", "")])[0][0]
    found = fonts.font_for(script)
    return ImageFont.truetype(found.path, size, index=found.index)


def _wrap(draw, phrase: str, font, max_width: float) -> list[str]:
    """Greedy lines; Chinese and Japanese, written without spaces, break between any two characters."""
    lines: list[str] = []
    for word in phrase.split():
        pieces = list(word) if any(fonts.script_of(c) == "cjk" for c in word) else [word]
        for number, piece in enumerate(pieces):
            joined = f"{lines[-1]}{'' if number else ' '}{piece}" if lines else piece
            if lines and draw.textlength(joined, font=font) <= max_width:
                lines[-1] = joined
            else:
                lines.append(piece)
    return lines


def _fit_phrase(draw, phrase: str, width: int, room: float, size: int) -> tuple[object, int, list[str]]:
    """(font, size, lines): SIZE or the largest smaller size whose lines fit the width and ROOM pixels of
    height; at the smallest size, the lines that fit (a key phrase is a few words, so that is rare)."""
    while True:
        with _render_lock:
            font = _text_font(phrase, size)
            lines = _wrap(draw, phrase, font, width * 0.86)
            widest = max(draw.textlength(line, font=font) for line in lines)
        if (len(lines) <= 3 and widest <= width * 0.86 and len(lines) * size * 1.25 <= room) or size <= 24:
            return font, size, lines[:max(1, int(room // (size * 1.25)))]
        size = round(size * 0.9)


def draw_card(path: Path, width: int, height: int, char: str, phrase: str, seed: int) -> None:
    """Write the card as a PNG of WIDTHxHEIGHT: gradient, emoji with a soft shadow, key phrase below, the
    two kept above where burned captions go (a phrase under a caption is unreadable)."""
    from .subtitles import caption_top

    top, bottom = height * 0.06, caption_top(width, height) - height * 0.03
    _compose(width, height, char, phrase, seed, top, bottom).save(path, format="PNG", compress_level=1)


def poster(width: int, height: int, char: str, seed: int, box: tuple[float, float, float, float]):
    """A card without words whose emoji fills BOX (left, top, right, bottom): a thumbnail's background when
    the video is all cards (their phrases would sit behind the thumbnail's title), the title beside it."""
    image = _background(width, height, seed).convert("RGBA")
    left, top, right, bottom = box
    side = round(min(right - left, bottom - top) * 0.9)
    glyph = emoji_image(char, side)
    _place(image, glyph, (round(left + (right - left - glyph.width) / 2), round(top + (bottom - top - glyph.height) / 2)), side)
    return _flat(image)


def _compose(width: int, height: int, char: str, phrase: str, seed: int, top: float, bottom: float):
    """The card as an RGB image: the emoji (0.55 of the room's height, at most 0.48 of the frame's short
    side) and the phrase, centred together in [TOP, BOTTOM]."""
    from PIL import ImageDraw

    image = _background(width, height, seed).convert("RGBA")
    gap = height * 0.04 if phrase else 0
    side = round(min(min(width, height) * 0.48, (bottom - top) * 0.55))
    draw = ImageDraw.Draw(image)
    start = round(min(width, height) * 0.1)
    font, size, lines = _fit_phrase(draw, phrase, width, bottom - top - side - gap, start) if phrase else (None, 0, [])
    block = side + gap + len(lines) * size * 1.25
    y = top + (bottom - top - block) / 2  # emoji and phrase centred together in the space they may use
    glyph = emoji_image(char, side)
    _place(image, glyph, ((width - glyph.width) // 2, round(y + (side - glyph.height) / 2)), side)
    y += side + gap
    with _render_lock:
        for line in lines:
            draw.text((width / 2, y), line, font=font, anchor="mt", fill="white",
                      stroke_width=max(3, size // 12), stroke_fill=(20, 20, 30))
            y += size * 1.25
    return _flat(image)


def _place(image, glyph, at: tuple[int, int], side: int) -> None:
    """GLYPH onto IMAGE at AT with a soft drop shadow, blurred at the glyph's own size (not the frame's)."""
    from PIL import Image, ImageFilter

    margin = side // 10
    shadow = Image.new("RGBA", (glyph.width + 2 * margin, glyph.height + 2 * margin), (0, 0, 0, 0))
    shadow.paste((0, 0, 0, 110), (margin, margin), glyph.getchannel("A"))
    shadow = shadow.filter(ImageFilter.GaussianBlur(side // 30))
    image.alpha_composite(shadow, (at[0] - margin + side // 40, at[1] - margin + side // 25))
    image.alpha_composite(glyph, at)


def _flat(image):
    from PIL import Image

    flat = Image.new("RGB", image.size)
    flat.paste(image, mask=image.getchannel("A"))
    return flat
