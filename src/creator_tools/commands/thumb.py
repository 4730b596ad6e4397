"""cs-thumb: pick the best frames of the video and put the title on them as 1280x720 thumbnails."""

from __future__ import annotations

import os
from typing import Any

import click

from ..core import config
from .. import log, pipe
from ..engines.llm import LLMSettings
from ..records import Record

NAME = "thumb"
WORDS_ENV = config.variable("CS_THUMB_WORDS")
WORDS_SYSTEM = ("You pick the words for a YouTube thumbnail. From the video title, choose at most 5 of its words, "
                "in its order, that make a viewer want to watch: the subject and its hook. Use only words of the "
                "title. Answer JSON only.")
WORDS_EXAMPLES = [("Title: Why Your Home Espresso Tastes Bitter and How to Fix It Today",
                   '{"text": "Home Espresso Tastes Bitter"}')]


def title_of(record: Record) -> str:
    """The text to overlay: meta.title when cs-meta ran first, else the script's title, else the idea's."""
    for value in ((record.get("meta") or {}).get("title"), (record.get("script") or {}).get("title"), record.get("title")):
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return ""


class Thumb(pipe.Stage):
    name = NAME
    key = "thumbs"
    needs = {"video": "cs-render"}
    reads = {"meta": ("title",), "script": ("title",), "title": None}  # the title to draw, of the right type

    def __init__(self, variants: int, scene: float, font: str | None, text: bool, words: str = "rules",
                 llm: LLMSettings | None = None):
        self.variants = variants
        self.scene = scene
        self.font = font
        self.text = text
        self.words, self.llm = words, llm or LLMSettings()

    def settings(self) -> dict[str, Any]:
        # "words": the thumbnail shows at most that many words of the title (thumbnail.thumb_text)
        return {"variants": self.variants, "scene": self.scene, "font": self.font, "text": self.text,
                "words": [self.words, thumbnail_words()], **({"llm": self.llm.fingerprint()} if self.words == "llm" else {})}

    def inputs(self, record: Record) -> Any:
        video = record.get("video") or {}
        # The video file's hash (or path and size, for hand-made records) and the title name the work.
        source = video.get("sha256") or [video.get("path"), video.get("size_bytes")]
        found = {"video": source, "title": title_of(record) if self.text else "", "settings": self.settings()}
        cards = card_emoji(record)
        if cards:  # only then, so thumbnails of other videos keep their fingerprints
            found["cards"] = cards
        return found

    def artifacts(self, record: Record) -> list[str | None]:
        return [thumb["path"] for thumb in record["thumbs"]] or [None]  # no thumbnails: not done

    def plan(self, record: Record) -> str:
        return f"would write {self.variants} thumbnails from {record['video'].get('path')}"

    def process(self, record: Record) -> Record:
        from .. import artifacts  # pathlib: not needed for --help
        from ..errors import BadInput
        from ..media import thumbnail

        video = record["video"]
        path = video.get("path") if isinstance(video, dict) else None
        if not path:
            raise BadInput("record's 'video' has no 'path'; run cs-render first")
        path = artifacts.local_path(path)
        if not os.path.isfile(path):
            raise BadInput(f"{path}: no such file; re-run cs-render --force for this record or fix video.path")
        title = title_of(record) if self.text else ""
        text = self._text(record, title) if title else ""
        font_path = self._font(record, text)
        chosen = self._backgrounds(record, path, text)
        inputs = self.inputs(record)
        thumbs = []
        for number, frame in enumerate(chosen, 1):
            image = thumbnail.overlay_title(frame.image, text, font_path, frame.text_width, frame.shade,
                                            frame.centred) if text else frame.image
            data = thumbnail.encode_jpeg(image)
            target = artifacts.artifact_path(NAME, record["id"], inputs, f"-{number}.jpg")
            artifacts.atomic_write_bytes(target, data)
            thumbs.append({"path": artifacts.publish(target), "width": thumbnail.WIDTH, "height": thumbnail.HEIGHT,
                           "size_bytes": len(data), "score": frame.score, "text": text})
        return {**record, "thumbs": thumbs, "thumb": max(thumbs, key=lambda thumb: thumb["score"])}


    def _text(self, record: Record, title: str) -> str:
        """The thumbnail's words: the rule's, or (--words llm) the model's when they pass the same checks
        (at most 5 words, all from the title); asked twice, then the rule's with a warning."""
        from ..media import thumbnail

        if self.words == "llm" and len(title.split()) > thumbnail.TEXT_WORDS:
            from ..engines.llm import InvalidReply, get_llm

            schema = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "maxLength": 80}}}
            problems = ["no answer"]
            for attempt in range(2):
                try:
                    reply = get_llm(self.llm).json(WORDS_SYSTEM, f"Title: {title}", schema, max_tokens=40,
                                                   examples=WORDS_EXAMPLES, seed_offset=attempt)
                except InvalidReply as exc:
                    problems = [exc.message]
                    break
                text = " ".join(str(reply["text"]).split()).strip(" .,;:")
                problems = thumbnail.text_problems(text, title)
                if not problems:
                    return text
            log.warn(f"record {record['id']}: the model's thumbnail words were refused ({'; '.join(problems)}); "
                     "using the title's own")
        return thumbnail.thumb_text(title, _head)

    def _font(self, record: Record, title: str) -> str | None:
        from ..media import thumbnail

        if not title:
            return None
        font_path, complete = thumbnail.pick_font(title, self.font)
        if not complete:
            log.warn(f"record {record['id']}: no installed font has every character of the title; "
                     "install fonts-noto-core or fonts-noto-cjk, or give --font")
        return font_path

    def _backgrounds(self, record: Record, path: str, title: str) -> list[Any]:
        """The thumbnails' pictures, best first: wordless cards for a video of cards, else its best frames."""
        from ..media import thumbnail

        posters = _posters(card_emoji(record), record.get("topic"), title, self.variants)
        if posters:
            return posters
        duration, width, height = _shape(record["video"], path)
        frames = thumbnail.extract_frames(path, duration, max(3 * self.variants, 10), self.scene, height > width,
                                           _above_captions(record, width, height))
        return thumbnail.best_frames(frames, self.variants)


def thumbnail_words() -> int:
    from ..media.thumbnail import TEXT_WORDS

    return TEXT_WORDS


def _head(title: str) -> str:
    """The title's head noun (what the thumbnail's text should keep), tagged as cs-visuals tags sentences."""
    from ..media import terms

    heads = terms.sentence_terms([title])[0].heads
    return heads[0] if heads else ""


def card_emoji(record: Record) -> list[str]:
    """The pictures of a video made of cards alone, in order, each once; [] when any shot is footage, a
    still or a hand-made shot without an emoji."""
    shots = record.get("visuals")
    if not isinstance(shots, list) or not shots:
        return []
    if not all(isinstance(s, dict) and s.get("kind") == "card" and isinstance(s.get("emoji"), str) for s in shots):
        return []
    return list(dict.fromkeys(shot["emoji"] for shot in shots))


def _posters(emoji: list[str], topic: Any, title: str, count: int) -> list[Any]:
    """For a video of cards: COUNT wordless cards, the topic's picture first, then the video's. A frame of
    the video would put its card's phrase behind the thumbnail's title. The title runs down the left (the
    right, for Arabic or Hebrew) and the picture fills the other side; scores keep that order."""
    if not emoji:
        return []
    from ..media import picture_cards, terms, thumbnail

    # The head nouns first, as the cards chose theirs: "home espresso" is coffee, not a house.
    char, word = picture_cards.choose_emoji(terms.head_first(topic if isinstance(topic, str) else ""), set(),
                                            terms.head_first(title))
    order = list(dict.fromkeys(([char] if word else []) + emoji))
    width, height = thumbnail.WIDTH, thumbnail.HEIGHT
    if not title:
        box, text_width = (0, 0, width, height), width
    else:
        text_width = round(width * 0.62)
        rtl = thumbnail.right_to_left(title)
        box = (0, height * 0.06, width - text_width + 40, height * 0.94) if rtl else \
            (text_width - 40, height * 0.06, width, height * 0.94)
    return [thumbnail.Frame(picture_cards.poster(width, height, order[n % len(order)], n, box), round(1.0 - 0.05 * n, 4),
                            None, text_width=text_width, shade=False, centred=True) for n in range(count)]


def _above_captions(record: Record, width: int, height: int) -> float:
    """The share of the frame above cs-render's burned captions (1.0 when it burned none): a thumbnail
    with half a caption line under its title reads as clutter."""
    captions = record.get("captions")
    if not (isinstance(captions, dict) and (captions.get("words") or captions.get("ass"))) or min(width, height) <= 0:
        return 1.0
    from ..media.subtitles import caption_top

    return max(0.5, caption_top(width, height, line=1.3) / height)  # a little room for their outline


def _shape(video: dict, path: str) -> tuple[float, int, int]:
    """(duration in seconds, width, height) from the record, or from ffprobe when the record lacks them."""
    duration, width, height = video.get("duration_s"), video.get("width"), video.get("height")
    if not all(isinstance(v, (int, float)) and v > 0 for v in (duration, width, height)):
        from ..media import ffmpeg

        info = ffmpeg.probe(path)
        stream = ffmpeg.stream(info, "video")
        if stream is None:
            from ..errors import BadInput

            raise BadInput(f"{path}: no video stream; re-run cs-render --force for this record")
        duration = float(info["format"].get("duration") or 0)
        width, height = stream.get("width") or 0, stream.get("height") or 0
        if abs(int(stream.get("tags", {}).get("rotate", 0) or 0)) in (90, 270):
            width, height = height, width
    return float(duration), int(width), int(height)


@pipe.stage_command(NAME)
@click.option("-n", "--variants", type=click.IntRange(1, 10), default=3, show_default=True,
              help="How many thumbnails to make (from different frames); the best goes in 'thumb'.")
@click.option("--scene", type=pipe.FiniteRange(0.05, 1.0), default=0.3, show_default=True,
              help="Scene-change threshold for candidate frames (lower finds more cuts).")
@click.option("--font", type=click.Path(dir_okay=False), metavar="FILE",
              help="Font for the title. Default: DejaVu Sans Bold, or a Noto font covering the title's script.")
@click.option("--text/--no-text", default=True, show_default=True, help="Overlay the title.")
@click.option("--words", type=click.Choice(["rules", "llm"]), envvar=WORDS_ENV, default="rules", show_default=True,
              help=f"Who picks the at most 5 title words drawn: rules (a short title whole, else its first clause "
                   f"or its most contentful words) or llm (checked: only the title's words) (env {WORDS_ENV}).")
@pipe.llm_options
def cli(opts: pipe.PipeOptions, variants: int, scene: float, font: str | None, text: bool, words: str,
        llm: LLMSettings) -> pipe.Stage:
    """Pick the best frames of the video and put the title on them as 1280x720 thumbnails.

    Candidate frames come from scene changes and even spacing (one ffmpeg pass), scored for sharpness,
    contrast and brightness; at most 5 words of the title (meta.title, else script.title, else title:
    all of a short title, else its first clause or its words with the most content) are drawn large
    with an outline, and kept as `text`. JPEGs at quality 90 or more, under YouTube's 50 MB limit. Files go to $CS_OUT_DIR/thumb/ (default ./cs-out).
    A video made only of cs-visuals cards gets its cards' pictures redrawn without their words instead
    (the topic's picture first, the title beside it), so no card phrase sits behind the title.

    \b
    Reads:  video.path (and meta.title, script.title or title; captions: frames are taken from above
            the captions cs-render burned in)
    Adds:   thumbs  [{path, width, height, size_bytes, score, text}, ...], best first
            thumb   the best of them

    \b
    Example:
      cs-render < voiced.jsonl | cs-thumb -n 3 > thumbed.jsonl
      cs-thumb --words llm --engine openai -i rendered.jsonl -o thumbed.jsonl
      jq -r .thumb.path thumbed.jsonl
    """
    return Thumb(variants, scene, font, text, words, llm)
