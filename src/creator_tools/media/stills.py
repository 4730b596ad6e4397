"""Stills that are too large to open: Pillow's decompression-bomb check turned from a two-line Python warning
into one of our errors.

A 13000x13000 still (169 MP) decodes to about 500 MB of RGB, per still and per thread, for a frame of at most
2 MP: it is refused, not downscaled, with a message that says how to shrink it. Downloads then take the next
candidate; a library still names its shot. `refuse_bombs()` makes Pillow raise instead of warn, once for the
process (a filter, not `catch_warnings`, which is not thread-safe under -j)."""

from __future__ import annotations

import re


def refuse_bombs() -> None:
    """Make Pillow's DecompressionBombWarning an exception, process-wide (added once: a filter already in
    `warnings.filters` is not added again)."""
    import warnings

    from PIL import Image

    if not any(f[0] == "error" and f[2] is Image.DecompressionBombWarning for f in warnings.filters):
        warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def bomb_message(exc: BaseException) -> str | None:
    """The one-line reason when EXC is Pillow's decompression-bomb warning or error, else None."""
    from PIL import Image

    if not isinstance(exc, (Image.DecompressionBombWarning, Image.DecompressionBombError)):
        return None
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)) / 1e6:.0f} MP" if found else "too many pixels"
    limit = (Image.MAX_IMAGE_PIXELS or 0) / 1e6
    return (f"the image has {size}, over the {limit:.0f} MP a still may have; scale it down "
            "(ffmpeg -i IN -vf scale=4000:-2 OUT.jpg) or use another")
