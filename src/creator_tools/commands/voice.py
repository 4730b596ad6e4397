"""cs-voice: speak each record's script as one WAV voice-over, with the start and end of every segment."""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import click

from .. import log, pipe
from ..core import config
from ..engines import tts
from ..errors import BadInput, UsageError
from ..media import textnorm
from ..records import Record

# artifacts (pathlib) and wave load where a record is spoken, so --help stays quick.
FIT_BOUNDS = (0.85, 1.15)  # speaking-rate changes that still sound natural
FIT_TOLERANCE = 0.04  # within 4% of script.target_s the voice is left as spoken

class VoiceStage(pipe.Stage):
    name = "voice"
    key = "voice"
    needs = {"script": "cs-script"}

    def __init__(self, engine: str, voice: str | None, model: str | None, rate: float, gap: float, force: bool,
                 fit: bool = True):
        self.engine_name = engine
        self.voice_name = voice
        self.model = model
        self.rate = rate
        self.gap = gap
        self.force = force
        self.fit = fit
        self.engines: dict[str, tts.TTS] = {}  # loaded engines, shared by all records and jobs
        self.lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        return {"engine": self.engine_name, "voice": self.voice_name, "rate": self.rate, "gap": self.gap, "fit": self.fit,
                "model": self.model if self.engine_name == "openai" else None}

    def artifacts(self, record: Record) -> list[str]:
        return [record["voice"]["path"]]  # a cleaned-out cs-out/ or bucket means speaking it again

    def check(self, record: Record) -> None:
        super().check(record)
        script = record["script"]
        if isinstance(script, dict) and script.get("segments") == []:
            raise BadInput("'script.segments' is empty, so there is nothing to speak segment by segment; "
                           "re-run cs-script --force for this record")
        if not isinstance(script, dict) or not any(t.strip() for t in textnorm.script_segments(script)):
            raise BadInput("'script' has no segments with text; re-run cs-script --force for this record")
        for number, segment in enumerate(script.get("segments") or []):
            hidden = textnorm.invisible_only(str(segment.get("text") or "") if isinstance(segment, dict) else "")
            if hidden:  # would speak a 0.0 s WAV, and every later stage would ask for cs-voice again
                raise BadInput(f"script.segments[{number}].text has only invisible characters "
                               f"({', '.join(hidden[:4])}), nothing to speak; write its words (or \"\" for a "
                               "pause) and run cs-voice again")

    def engine(self, language: str) -> tts.TTS:
        """The engine that speaks LANGUAGE: the chosen one when its voice speaks it; for the bundled (English)
        Piper voice and another language, espeak-ng, said once on stderr; a chosen voice that does not speak
        it is the record's error, never English phonemes read over another language's text."""
        name = tts.speaking_engine(self.engine_name, self.voice_name, language)
        # espeak without --voice picks its voice from the script's language; other engines load once.
        key = f"{name}:{language}" if name == "espeak" and not self.voice_name else name
        with self.lock:  # load once per process, even when -j starts several records at the same moment
            if key not in self.engines:
                if name != self.engine_name:
                    log.info(f"script.language {language}: the bundled Piper voice speaks English only; speaking "
                             f"{language} with espeak-ng (pass --voice with a Piper voice for {language}, or --engine openai)")
                try:
                    self.engines[key] = tts.get_tts(name, self.voice_name, rate=self.rate,
                                                    model=self.model, language=language)
                except tts.UnknownVoice:
                    if self.voice_name:
                        raise
                    # The voice came from this record's script.language: the record is wrong, not the setup.
                    raise BadInput(f"script.language {language!r} has no espeak-ng voice; use a language "
                                   "code espeak-ng knows (en, de, pt-br; `espeak-ng --voices`) or pass --voice") from None
            engine = self.engines[key]
        if not engine.speaks(language):
            raise BadInput(f"--voice {engine.voice} ({engine.name}) does not speak script.language {language!r}; "
                           f"pass a --voice that speaks it, or --engine espeak (about a hundred languages offline) "
                           "or --engine openai")
        return engine

    def process(self, record: Record) -> Record:
        from .. import artifacts

        script = record["script"]
        language = str(script.get("language") or "en")
        path = artifacts.artifact_path("voice", record["id"], self.inputs(record), ".wav")
        timings = path.with_suffix(".json")
        voice = None if self.force else self.finished(path, timings)  # same inputs, same file: no synthesis
        if voice is None:
            voice = self.speak(script, language, path, timings)
        ordered = {"engine": voice["engine"], "voice": voice["voice"], "path": artifacts.publish(path),
                   "duration_s": voice["duration_s"], "segments": voice["segments"],
                   "rate": voice.get("rate", self.rate)}
        if "fitted_from_s" in voice:
            ordered["fitted_from_s"] = voice["fitted_from_s"]
        return {**record, "voice": ordered}

    @staticmethod
    def finished(path, timings) -> dict | None:
        """The timings of the WAV at PATH when both are there and belong together: the timings name the
        WAV's sha256, so a WAV and timings from different runs (an interrupted --force, two racing runs)
        are never trusted as a pair."""
        from .. import artifacts

        if not (path.is_file() and timings.is_file()):
            return None
        try:
            voice = json.loads(timings.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(voice, dict) or voice.pop("wav_sha256", None) != artifacts.file_sha256(path):
            return None
        return voice

    def speak(self, script: dict, language: str, path, timings) -> dict:
        """Both passes (as spoken, then fitted to script.target_s) into one temp file beside PATH; the WAV
        and its timings reach their names together at the end, so an interrupt or a full disk leaves the old
        pair (or nothing), never the unfitted WAV. Of two identical runs the first WAV stays, and the other
        describes that one."""
        from .. import artifacts

        texts = textnorm.script_segments(script)
        # A WAV already there without its timings is stale (an older release, a crash): replace it.
        with artifacts.atomic_publish(path, replace=self.force or path.exists()) as wav:
            voice = self.synthesize(texts, language, wav.temp)
            speed = self.fitted_speed(voice, script)
            if speed != 1.0:  # once more at the rate that lands on the script's length
                voice = {**self.synthesize(texts, language, wav.temp, speed), "fitted_from_s": voice["duration_s"]}
            sha = artifacts.file_sha256(wav.temp)
        if not wav.won:  # another run published the same inputs first: describe its file
            return self.winner(path, timings)
        artifacts.atomic_write_text(timings, json.dumps({**voice, "wav_sha256": sha}))
        return voice

    def winner(self, path, timings) -> dict:
        """The timings of the WAV another run published a moment ago (it writes them right after)."""
        import time

        for _ in range(300):
            voice = self.finished(path, timings)
            if voice is not None:
                return voice
            time.sleep(0.1)
        from ..errors import EngineError

        raise EngineError(f"{path} was published by another run that left no timings beside it; re-run with "
                          "--force", retryable=True)

    def fitted_speed(self, voice: dict, script: dict) -> float:
        """The speed factor that brings the voice to script.target_s, within FIT_BOUNDS; 1.0 when it is close
        enough, --no-fit, no target, or an engine that cannot change speed per call."""
        target = script.get("target_s")
        if not self.fit or not isinstance(target, (int, float)) or isinstance(target, bool) or target <= 0:
            return 1.0
        engine = self.engine(str(script.get("language") or "en"))
        if abs(voice["duration_s"] / target - 1) <= FIT_TOLERANCE or not engine.adjusts_rate:
            return 1.0
        gaps = self.gap * (len(voice["segments"]) - 1)
        speech = voice["duration_s"] - gaps  # speed changes the speech, not the silences between segments
        wanted = speech / max(target - gaps, 1e-3)
        return round(min(FIT_BOUNDS[1], max(FIT_BOUNDS[0], wanted)), 3)

    def synthesize(self, texts: list[str], language: str, path, speed: float = 1.0) -> dict[str, Any]:
        """Speak each segment in turn straight into the WAV (a long script never sits in memory whole),
        with `gap` seconds of silence between segments, SPEED times the engine's set rate."""
        import wave

        engine = self.engine(language)

        def speak(text: str) -> bytes:
            spoken = textnorm.normalize(text, language)
            return engine.synthesize_at(spoken, speed)

        pieces = (speak(text) if text.strip() else b"" for text in texts)
        first = next(pieces)  # the engine knows its sample rate for sure once it has spoken
        rate = engine.sample_rate
        segments = []
        frames = 0
        with wave.open(str(path), "wb") as out:  # PATH: the temp file process() publishes
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            for number, pcm in enumerate(itertools.chain([first], pieces)):
                if number:
                    silence = round(self.gap * rate)
                    out.writeframes(b"\0\0" * silence)
                    frames += silence
                start = frames / rate
                out.writeframes(pcm)
                frames += len(pcm) // 2
                segments.append({"start": round(start, 3), "end": round(frames / rate, 3)})
        return {"engine": engine.name, "voice": engine.voice, "duration_s": round(frames / rate, 3),
                "segments": segments, "rate": round(self.rate * speed, 3)}

    def plan(self, record: Record) -> str:
        count = len(textnorm.script_segments(record.get("script") or {}))
        return f"would speak {count} segments with {self.engine_name}"

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()


@pipe.stage_command("voice")
@click.option("--engine", envvar=tts.ENGINE_ENV, default=tts.DEFAULT_ENGINE, show_default=True, metavar="NAME",
              help=f"TTS engine: piper, espeak or openai (env {tts.ENGINE_ENV}).")
@click.option("--voice", "voice", envvar=config.variable("CS_TTS_VOICE"), metavar="VOICE",
              help="Piper voice name or .onnx path (default: the bundled en_US-joe-medium); espeak-ng voice "
                   "(default: the script's language); OpenAI voice (default: alloy).")
@click.option("--model", envvar=config.variable("CS_TTS_MODEL"), metavar="NAME", help="Model for --engine openai (default: tts-1).")
@click.option("--rate", type=pipe.FiniteRange(0.25, 4.0), default=1.0, show_default=True,
              help="Speaking speed: 1.2 is 20% faster.")
@click.option("--gap", type=pipe.FiniteRange(0.0, 5.0), default=0.25, show_default=True,
              help="Seconds of silence between segments.")
@click.option("--fit/--no-fit", default=True, show_default=True,
              help="When the voice misses script.target_s by more than 4%, speak it again at the rate (0.85-1.15 "
                   "times --rate) that lands on it (piper, espeak); voice.rate records the rate used.")
def cli(opts: pipe.PipeOptions, engine: str, voice: str | None, model: str | None, rate: float,
        gap: float, fit: bool) -> pipe.Stage:
    """Speak each record's script as one WAV voice-over with per-segment times.

    \b
    Reads `script` (from cs-script); adds `voice`:
      {engine, voice, path, duration_s, segments: [{start, end}], rate[, fitted_from_s]}
    one WAV for the whole script under cs-out/voice/, segments 1:1 with script.segments.
    Numbers, money, percentages, symbols and abbreviations are read as words ("3.5%" is
    "three point five percent"); the cta is spoken at the end of the last segment.
    A WAV already made from the same script and settings is reused.

    \b
    Engines: piper (local, default), espeak (espeak-ng), openai (OPENAI_BASE_URL, OPENAI_API_KEY).

    \b
    Example:
      cs-idea "home espresso" | cs-script | cs-voice --rate 1.1 | cs-caption > voiced.jsonl
      cs-voice --engine espeak --voice en-gb -i scripts.jsonl -o voiced.jsonl
    """
    if engine not in tts.engine_names():
        raise UsageError(f"unknown TTS engine '{engine}'; use one of: {', '.join(tts.engine_names())}")
    return VoiceStage(engine, voice, model, rate, gap, opts.force, fit)

