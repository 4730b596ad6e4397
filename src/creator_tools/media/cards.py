"""Images made once per render by Pillow: library stills fitted to the frame and title cards with a
segment's on-screen text, both written as one-frame 4:2:0 YUV4MPEG files in BT.709 limited range, so the
ffmpeg graph decodes each one once and never converts a pixel (see media/graph.py)."""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInput
from . import fonts
from .graph import write_y4m

# RGB -> Y'CbCr, BT.709, limited range (Y 16-235, C 16-240), as a Pillow 12-tuple matrix with offsets
# (+0.5 rounds, since Pillow truncates).
_BT709 = (
    0.18259, 0.61423, 0.06201, 16.5,
    -0.10064, -0.33857, 0.43922, 128.5,
    0.43922, -0.39894, -0.04027, 128.5,
)


def save_y4m(image, path: Path) -> None:
    """Write an RGB Pillow image (even width and height) as a one-frame yuv420p Y4M."""
    from PIL import Image

    width, height = image.size
    y, cb, cr = image.convert("RGB").convert("RGB", _BT709).split()
    half = (width // 2, height // 2)
    write_y4m(path, [y.tobytes(), cb.resize(half, Image.BOX).tobytes(), cr.resize(half, Image.BOX).tobytes()], width, height)


def fit_still(source: Path, path: Path, size: tuple[int, int]) -> None:
    """Scale SOURCE to cover SIZE and centre-crop it (the still is a little larger than the frame, so the
    Ken Burns pan has room to move)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    from .stills import bomb_message, refuse_bombs

    refuse_bombs()
    try:
        with Image.open(source) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise BadInput(f"{source}: {bomb_message(exc)}") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise BadInput(f"{source}: not a readable image ({exc}); fix or remove it from the library") from None
    fitted = ImageOps.fit(image, size, Image.BICUBIC)  # a few % up or any way down: bicubic is plenty
    save_y4m(fitted, path)


def _palette(index: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    palettes = [((20, 30, 70), (70, 20, 90)), ((10, 60, 70), (20, 30, 60)), ((70, 30, 20), (90, 20, 60)),
                ((20, 60, 30), (10, 30, 60))]
    return palettes[index % len(palettes)]


def _background(width: int, height: int, index: int):
    from PIL import Image

    top, bottom = _palette(index)
    # a vertical gradient made from a 1-pixel-wide column, stretched (no per-pixel Python)
    column = Image.new("RGB", (1, 256))
    column.putdata([tuple(round(a + (b - a) * i / 255) for a, b in zip(top, bottom)) for i in range(256)])
    return column.resize((width, height), Image.BILINEAR)


def _font(script: str, size: int):
    from PIL import ImageFont

    found = fonts.font_for(script)
    if script == "emoji":  # a bitmap font: only its strike size loads; _emoji scales what it draws
        size = fonts.EMOJI_STRIKE
    return ImageFont.truetype(found.path, size, index=found.index, layout_engine=ImageFont.Layout.RAQM
                              if _has_raqm() else ImageFont.Layout.BASIC)


def _emoji(piece: str, size: int):
    """PIECE (a run of emoji) drawn in colour and scaled so one emoji is about SIZE pixels tall (RGBA)."""
    from PIL import Image, ImageDraw

    font = _font("emoji", size)
    width = max(1, round(font.getlength(piece)))
    image = Image.new("RGBA", (width, round(fonts.EMOJI_STRIKE * 1.25)), (0, 0, 0, 0))
    ImageDraw.Draw(image).text((0, 0), piece, font=font, embedded_color=True)
    scale = size / fonts.EMOJI_STRIKE
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))), Image.LANCZOS)


def _has_raqm() -> bool:
    from PIL import features

    return bool(features.check("raqm"))


def _words(text: str) -> list[str]:
    """Break points: spaces, and between CJK characters (which are written without spaces)."""
    words: list[str] = []
    for chunk in text.split():
        current = ""
        for char in chunk:
            if fonts.script_of(char) == "cjk" and current:
                words.append(current)
                current = ""
            current += char
        if current:
            words.append(current)
    return words


def _measure(run: tuple[str, str], size: int) -> float:
    script, piece = run
    if script == "emoji":  # the spaces around an emoji run are as wide as the text's own spaces
        spaces = len(piece) - len(piece.strip())
        return _font(script, size).getlength(piece.strip()) * size / fonts.EMOJI_STRIKE + \
            spaces * _font("latin", size).getlength(" ")
    return _font(script, size).getlength(piece, direction=fonts.direction(script), language=fonts.language(script)) \
        if _has_raqm() else _font(script, size).getlength(piece)


def _layout(text: str, size: int, max_width: int) -> list[list[tuple[str, str]]]:
    """Greedy line breaking; each line is a list of single-script runs in logical order."""
    lines: list[str] = []
    current = ""
    for word in _words(text):
        joiner = "" if (current and fonts.script_of(word[0]) == "cjk" and fonts.script_of(current[-1]) == "cjk") else " "
        candidate = f"{current}{joiner}{word}" if current else word
        if current and sum(_measure(r, size) for r in fonts.runs(candidate)) > max_width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return [fonts.runs(line) for line in lines]


def title_card(text: str, path: Path, width: int, height: int, index: int = 0) -> None:
    """A frame-sized card with TEXT centred in big bold type, in any script: each run of one script is drawn
    with a font that has it, shaped by raqm (Arabic joined right to left, Devanagari conjuncts), and runs
    are laid out right to left when the text starts in a right-to-left script."""
    from PIL import ImageDraw

    image = _background(width, height, index)
    draw = ImageDraw.Draw(image)
    text = " ".join(str(text or "").split())
    if text:
        max_width = width * 0.84
        size = round(min(width, height) * 0.09)
        while True:
            lines = _layout(text, size, max_width)
            if (len(lines) * size * 1.5 <= height * 0.6 and
                    all(sum(_measure(r, size) for r in line) <= max_width for line in lines)) or size <= 16:
                break
            size = round(size * 0.88)
        rtl = fonts.base_direction(text) == "rtl"
        line_height = size * 1.5
        y = (height - line_height * len(lines)) / 2
        for line in lines:
            widths = [_measure(r, size) for r in line]
            x = (width - sum(widths)) / 2
            order = list(zip(line, widths))
            if rtl:
                order.reverse()
            for (script, piece), run_width in order:
                if script == "emoji":
                    drawn = _emoji(piece.strip(), size)
                    lead = _measure((script, piece[:len(piece) - len(piece.lstrip())]), size)
                    image.paste(drawn, (round(x + lead), round(y + line_height / 2 - drawn.height / 2)), drawn)
                    x += run_width
                    continue
                font = _font(script, size)
                options = {"direction": fonts.direction(script), "language": fonts.language(script)} if _has_raqm() else {}
                draw.text((x, y + line_height / 2), piece.strip() if len(line) == 1 else piece, font=font,
                          fill="white", anchor="lm", stroke_width=max(2, size // 18), stroke_fill=(0, 0, 0), **options)
                x += run_width
            y += line_height
    save_y4m(image, path)
    return image
