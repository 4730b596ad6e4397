"""cs-caption: word-timed captions (SRT, WebVTT, karaoke ASS) for a record's voice-over, video or recording."""

from __future__ import annotations

import os
import re
from typing import Any

import click

from .. import log, pipe
from ..core import config
from ..errors import BadInput, MissingInput, UsageError
from ..records import Record

# The whisper engine, the subtitle writers and artifacts (pathlib, dataclasses, difflib) load when a record
# is captioned, so --help stays quick; the one name the options need is copied here.
STT_MODEL_ENV = config.variable("CS_STT_MODEL")  # engines.stt.MODEL_ENV (tests/test_contract.py checks they agree)
SOURCES = ("voice", "video", "media")  # where the audio comes from, in order of preference
MIN_SCRIPT_MATCH = 0.5  # below this share of matched words the recording is not the script: show what was said


def source_of(record: Record) -> tuple[str, str] | None:
    """(key, path) of the audio to transcribe: voice.path, else video.path, else media (a path or {path})."""
    for key in SOURCES:
        value = record.get(key)
        path = value.get("path") if isinstance(value, dict) else value if isinstance(value, str) else None
        if path:
            return key, str(path)
    return None


def _spans(record: Record) -> list[tuple[float, float]]:
    """voice.segments as (start, end), one per script segment; [] when they are missing or malformed."""
    voice = record.get("voice") if isinstance(record.get("voice"), dict) else {}
    spans = []
    for span in voice.get("segments") or []:
        if not (isinstance(span, dict) and all(isinstance(span.get(k), (int, float)) for k in ("start", "end"))):
            return []
        spans.append((float(span["start"]), float(span["end"])))
    return spans


def frame_size(record: Record, size: tuple[int, int] | None) -> tuple[int, int]:
    if size:
        return size
    from ..media.frames import size_for

    return size_for(record)  # the one rule: landscape for `format: long`, else a 1080x1920 Short


class CaptionStage(pipe.Stage):
    name = "caption"
    key = "captions"
    reads = {"voice": None, "video": ("path",), "media": None, "script": None}

    def __init__(self, model: str | None, device: str, compute_type: str | None, language: str | None,
                 size: tuple[int, int] | None, font: str, use_script: bool):
        self.model = model
        self.device = device
        self.compute_type = compute_type
        self.language = language
        self.size = size
        self.font = font
        self.use_script = use_script

    def settings(self) -> dict[str, Any]:
        from ..engines import stt

        return {"model": self.model or config.get(stt.MODEL_ENV) or stt.DEFAULT_MODEL,
                "language": self.language, "size": self.size, "font": self.font, "use_script": self.use_script}

    def inputs(self, record: Record) -> Any:
        found = source_of(record)
        source = {"key": found[0], "value": record.get(found[0])} if found else None
        if found and found[0] == "media":  # a creator's own file may change in place: its size and time too
            try:
                stat = os.stat(found[1])
                source["stat"] = [stat.st_size, int(stat.st_mtime)]
            except OSError:
                pass
        script = record.get("script") if self.use_script else None
        settings = self.settings()
        language = self._language(record)
        if not (self.model or config.is_set(STT_MODEL_ENV)) and language and not language.lower().startswith("en"):
            from ..engines import stt

            settings["model"] = stt.default_model(language)  # the multilingual base, not tiny.en
        return {"source": source, "script": script, "format": record.get("format"), "settings": settings}

    def _language(self, record: Record) -> str | None:
        script = record.get("script") if isinstance(record.get("script"), dict) else {}
        return self.language or script.get("language")

    def artifacts(self, record: Record) -> list[str]:
        return [record["captions"][kind] for kind in ("srt", "vtt", "ass")]

    def check(self, record: Record) -> None:
        super().check(record)  # the shapes of voice, video, media and script
        found = source_of(record)
        if not found:
            raise MissingInput("voice", "cs-voice", "or give the record a 'video' path or a 'media' path")
        from .. import artifacts

        if not artifacts.exists(found[1]):
            hint = "re-run cs-voice --force" if found[0] == "voice" else "check the path in the record"
            raise BadInput(f"{found[0]} file {found[1]} does not exist; {hint}")

    def process(self, record: Record) -> Record:
        from .. import artifacts
        from ..engines import stt
        from ..media import subtitles, textnorm

        key, path = source_of(record)
        script = record.get("script") if self.use_script else None
        language = self._language(record)
        whisper = stt.get_stt(self.model, self.device, self.compute_type, language)
        transcript = whisper.transcribe(artifacts.local_path(path), language)
        heard_language, heard = transcript.language, transcript.words
        words = [{k: w[k] for k in ("word", "start", "end")} for w in heard]
        share = 0.0
        if script and isinstance(script, dict):
            script_words = subtitles.script_words(textnorm.script_segments(script), language or heard_language)
            aligned, share = subtitles.align(script_words, heard, heard_language)
            log.info(f"record {record['id']}: whisper heard {share:.0%} of the script's words ({heard_language})")
            if share >= MIN_SCRIPT_MATCH or (key == "voice" and heard):
                words = aligned  # our own voice speaks the script: show its words, whatever whisper made of them
            else:
                log.warn(f"record {record['id']}: only {share:.0%} of the script was heard in {path}; "
                         "captions show what was said (use --no-script to skip the script)")
        spans = _spans(record) if key == "voice" and script and isinstance(script, dict) else []
        if not words and spans:  # our own voice, which whisper did not hear: the script timed by its segments
            log.warn(f"record {record['id']}: whisper heard nothing in {path}; captions are the script, timed by "
                     "the voice's segments")
            words, share = subtitles.spread(textnorm.script_segments(script), spans, language or "en"), 1.0
        if not words:
            raise BadInput(f"no speech found in {path}; check that the {key} file has a voice track")
        words = stt.tighten(words, transcript.envelope)
        inputs = self.inputs(record)
        files = {suffix: artifacts.artifact_path("captions", record["id"], inputs, f".{suffix}")
                 for suffix in ("srt", "vtt", "ass")}
        width, height = frame_size(record, self.size)
        subtitles.write_srt(words, files["srt"])
        subtitles.write_vtt(words, files["vtt"])
        subtitles.write_ass(words, files["ass"], width, height, self.font)
        # Captions of a script are in the script's language (whisper names languages by base code: "zh").
        caption_language = language if language and (share >= MIN_SCRIPT_MATCH or key == "voice") else heard_language
        captions = {"language": caption_language, "words": words, **{k: artifacts.publish(v) for k, v in files.items()}}
        return {**record, "captions": captions}

    def resources(self) -> dict[str, float]:
        return {"GPU": 1} if self.device == "cuda" else {}  # --cluster: only a worker with a GPU takes it

    def plan(self, record: Record) -> str:
        key, path = source_of(record)
        return f"would transcribe {path} (from '{key}') and add 'captions'"


def _size(_ctx, _param, value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    match = re.fullmatch(r"(\d{2,5})[xX](\d{2,5})", value.strip())
    if not match:
        raise click.BadParameter("use WIDTHxHEIGHT, e.g. 1080x1920")
    return int(match.group(1)), int(match.group(2))


@pipe.stage_command("caption")
@click.option("--model", envvar=STT_MODEL_ENV, metavar="NAME|DIR",
              help=f"faster-whisper model name or folder (env {STT_MODEL_ENV}; default: the bundled tiny.en for "
                   "English, the bundled multilingual base for other languages).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where whisper runs; int8 on CPU, float16 on CUDA.")
@click.option("--compute-type", metavar="TYPE", help="Override the CTranslate2 compute type (int8, float16, ...).")
@click.option("--language", metavar="CODE", help="Spoken language (default: the script's, else detected).")
@click.option("--size", callback=_size, metavar="WxH",
              help="Frame size for the ASS file (default: 1920x1080 for format long, else 1080x1920).")
@click.option("--font", default="DejaVu Sans", show_default=True, help="Caption font family for the ASS file.")
@click.option("--script/--no-script", "use_script", default=True, show_default=True,
              help="Show the script's own words and punctuation, timed by whisper, when the record has one.")
def cli(opts: pipe.PipeOptions, model: str | None, device: str, compute_type: str | None, language: str | None,
        size: tuple[int, int] | None, font: str, use_script: bool) -> pipe.Stage:
    """Caption a voice-over, video or recording: word-timed SRT, VTT and karaoke ASS.

    \b
    Reads `voice.path` (cs-voice), else `video.path` (cs-render), else `media` (your own recording),
    and `script` when present (caption text then follows the script's words and punctuation).
    Adds `captions`: {language, words: [{word, start, end}], srt, vtt, ass}; the files go to
    cs-out/captions/. The ASS shows one or two lines at a time with the spoken word highlighted,
    sized for the record's `format` (long: 1920x1080, else 1080x1920) or --size.

    \b
    Example:
      cs-voice < scripts.jsonl | cs-caption > captioned.jsonl
      echo '{"media": "talk.mp4"}' | cs-caption --model small.en --device cuda
    """
    if compute_type and device == "cpu" and compute_type == "float16":
        raise UsageError("float16 needs --device cuda; use --compute-type int8 on the CPU")
    return CaptionStage(model, device, compute_type, language, size, font, use_script)
