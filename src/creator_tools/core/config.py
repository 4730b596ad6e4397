"""Every environment variable the toolkit reads, in one table, read in one place.

A variable set to an empty (or blank) string counts as unset everywhere, so `OPENAI_BASE_URL= cs-script`
and `OPENAI_BASE_URL= cs-voice` behave alike. Reading a name that is not in the table is a bug (KeyError),
so the table, the README's environment section and creator-tools(7) (both generated from it by
`bin/gen-man`) always list every variable. Adding a variable is one `Variable(...)` line below.

Standard library only: command modules import this at start-up to name click `envvar=`s, so `--help`
stays instant (the engines' own modules, with their heavy imports, are never needed for a name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, TypeVar

ALL = ("all",)
LLM = ("cs-idea", "cs-script", "cs-meta")
YOUTUBE = ("cs-publish", "cs-stats")
FILES = ("cs-voice", "cs-caption", "cs-visuals", "cs-render", "cs-thumb", "cs-publish")


@dataclass(frozen=True)
class Variable:
    name: str
    default: str | None  # None: unset means "not configured" (or a default computed where noted in MEANING)
    meaning: str  # one sentence for people: the README table and creator-tools(7)
    commands: tuple[str, ...] = ALL  # the cs-* commands that read it ("all": every command)
    group: str = "toolkit"  # toolkit, engines, remotes, youtube, storage, pipelines, tests

    def where(self) -> str:
        return "every command" if self.commands == ALL else ", ".join(self.commands)


VARIABLES: tuple[Variable, ...] = (
    # --- every command ----------------------------------------------------------------------------------
    Variable("CS_OUT_DIR", "cs-out", "Where files (audio, captions, video, thumbnails) are written: a folder, "
             "or s3://bucket/prefix for an S3-compatible store.", FILES),
    Variable("CS_CACHE_DIR", None, "Cache of fetched store objects and search answers; default "
             "$XDG_CACHE_HOME/creator-tools. Safe to delete.", FILES),
    Variable("CS_DEBUG", None, "Set to 1 to print a traceback with an unexpected error."),
    Variable("CS_CLUSTER", None, "Dask scheduler (tcp://HOST:8786 or a scheduler file) that --cluster "
             "defaults to.", ("cs-voice", "cs-caption", "cs-visuals", "cs-render", "cs-thumb", "cs-script",
                              "cs-idea", "cs-meta")),
    Variable("CS_CLUSTER_WAIT", "30", "Seconds --cluster waits for a first worker."),
    Variable("CS_FFPROBE_TIMEOUT", "30", "Seconds any ffprobe (a file, a signed store URL) or a clip's "
             "first-frame decode check may take before it is killed.", FILES + ("cs-doctor",)),
    Variable("CS_FFMPEG_STALL", "60", "Seconds an ffmpeg may go without writing a frame before the watchdog "
             "kills it (a clip whose frames never decode).", FILES),
    Variable("XDG_CACHE_HOME", None, "Base of the cache folder when CS_CACHE_DIR is unset; default ~/.cache.",
             FILES),
    Variable("XDG_STATE_HOME", None, "Base of the state folder (ledgers, stats store); default ~/.local/state.",
             YOUTUBE),
    Variable("XDG_CONFIG_HOME", None, "Base of the config folder (the YouTube token); default ~/.config.", YOUTUBE),
    Variable("TERM", None, "TERM=dumb turns progress bars off.", ALL),
    # --- engines ----------------------------------------------------------------------------------------
    Variable("CS_LLM_ENGINE", None, "LLM engine: local (llama.cpp) or openai; default openai when "
             "OPENAI_BASE_URL or OPENAI_API_KEY is set, else local.", LLM, "engines"),
    Variable("CS_LLM_MODEL", None, "LLM model: a GGUF path for local, a model name for openai.", LLM, "engines"),
    Variable("CS_LLM_SEED", None, "Seed for the LLM (a whole number), for repeatable drafts.", LLM, "engines"),
    Variable("CS_LLM_THREADS", None, "CPU threads of the local LLM; default min(CPUs, 8).", LLM, "engines"),
    Variable("CS_LLM_CONTEXT", "4096", "Context length in tokens of the local LLM.", LLM, "engines"),
    Variable("CS_LLM_RETRIES", None, "Retries of the openai LLM engine; default CS_OPENAI_RETRIES, else 4.",
             LLM, "engines"),
    Variable("CS_LLM_TIMEOUT", None, "Seconds the openai LLM engine waits per request; default "
             "CS_OPENAI_TIMEOUT, else 120.", LLM, "engines"),
    Variable("CS_LANGUAGE", "en", "BCP-47 language of new concepts and scripts (cs-idea, cs-script --language); "
             "later stages follow script.language.", ("cs-idea", "cs-script"), "engines"),
    Variable("CS_TTS_ENGINE", "piper", "Text-to-speech engine (piper, espeak, openai).", ("cs-voice", "cs-script"),
             "engines"),
    Variable("CS_TTS_VOICE", None, "Voice of the TTS engine (a Piper voice name or .onnx file, an OpenAI voice).",
             ("cs-voice", "cs-script"), "engines"),
    Variable("CS_TTS_MODEL", "tts-1", "Model of the openai TTS engine.", ("cs-voice",), "engines"),
    Variable("CS_TTS_RETRIES", None, "Retries of the openai TTS engine; default CS_OPENAI_RETRIES, else 1.",
             ("cs-voice",), "engines"),
    Variable("CS_TTS_TIMEOUT", None, "Seconds the openai TTS engine waits per request; default "
             "CS_OPENAI_TIMEOUT, else 120.", ("cs-voice",), "engines"),
    Variable("CS_PIPER_VOICES", None, "Folders (colon-separated) searched for a Piper --voice NAME.onnx.",
             ("cs-voice",), "engines"),
    Variable("CS_STT_WINDOW_S", "600", "Seconds of a recording cs-caption hears at once; longer recordings go in "
             "windows so memory stays flat with length.", ("cs-caption",), "engines"),
    Variable("CS_STT_MODEL", None, "faster-whisper model name or folder for cs-caption; default the bundled "
             "tiny.en for English and the bundled multilingual base for other languages.", ("cs-caption",),
             "engines"),
    Variable("CS_VISUALS", None, "Visual providers cs-visuals tries in order (library, pexels, pixabay, "
             "images, cards); default those of library, pexels, pixabay that are configured, then cards.", ("cs-visuals",), "engines"),
    Variable("CS_VISUALS_TERMS", "rules", "How cs-visuals picks each sentence's search terms: rules (nouns a "
             "viewer would picture) or llm (one model call per script, checked against the sentence).",
             ("cs-visuals",), "engines"),
    Variable("CS_THUMB_WORDS", "rules", "How cs-thumb picks the at most 5 title words a thumbnail shows: rules or "
             "llm (checked like the rule).", ("cs-thumb",), "engines"),
    Variable("CS_LIBRARY", None, "Folder of your own clips and stills for the library provider.", ("cs-visuals",),
             "engines"),
    Variable("CS_IMAGE_MODEL", "gpt-image-1", "Model of the images provider.", ("cs-visuals",), "engines"),
    # --- remotes ----------------------------------------------------------------------------------------
    Variable("OPENAI_BASE_URL", None, "Base URL of the OpenAI-compatible server (OpenAI, Ollama, vLLM, "
             "llama.cpp server) for the openai engines; default https://api.openai.com/v1.",
             (*LLM, "cs-voice", "cs-visuals"), "remotes"),
    Variable("OPENAI_API_KEY", None, "Key for OPENAI_BASE_URL (a local server often needs none).",
             (*LLM, "cs-voice", "cs-visuals"), "remotes"),
    Variable("CS_OPENAI_RETRIES", None, "Retries of every OpenAI-compatible client (LLM, TTS, images) unless "
             "CS_LLM_RETRIES, CS_TTS_RETRIES or CS_IMAGES_RETRIES says otherwise.",
             (*LLM, "cs-voice", "cs-visuals"), "remotes"),
    Variable("CS_OPENAI_TIMEOUT", None, "Seconds every OpenAI-compatible client waits per request unless "
             "CS_LLM_TIMEOUT, CS_TTS_TIMEOUT or CS_IMAGES_TIMEOUT says otherwise.",
             (*LLM, "cs-voice", "cs-visuals"), "remotes"),
    Variable("CS_MAX_CLIP_MB", "500", "Largest video clip a download may be, in MB (a bigger one is refused and "
             "the next candidate tried), and largest audio an OpenAI-compatible TTS server may answer with.",
             ("cs-visuals", "cs-voice"), "remotes"),
    Variable("CS_MAX_STILL_MB", "50", "Largest still image a download may be, in MB.", ("cs-visuals",), "remotes"),
    Variable("CS_MAX_JSON_MB", "10", "Largest API answer (JSON) read, in MB.", ("cs-visuals", "cs-voice", *LLM), "remotes"),
    Variable("CS_HTTP_DEADLINE", "600", "Seconds one HTTP request may take in all (connect, answer, body).",
             ("cs-visuals", "cs-voice", *LLM), "remotes"),
    Variable("CS_HTTP_MIN_RATE", "10", "Slowest average body rate accepted, in KB/s (after the first 10 s): a "
             "trickling download ends.", ("cs-visuals", "cs-voice", *LLM), "remotes"),
    Variable("CS_IMAGES_BASE_URL", None, "Server of the images provider, before OPENAI_BASE_URL (a GPU box for "
             "pictures, a hosted API for text).", ("cs-visuals",), "remotes"),
    Variable("CS_IMAGES_API_KEY", None, "Key for CS_IMAGES_BASE_URL, before OPENAI_API_KEY.", ("cs-visuals",),
             "remotes"),
    Variable("CS_IMAGES_RETRIES", None, "Retries of the images provider; default CS_OPENAI_RETRIES, else 4.",
             ("cs-visuals",), "remotes"),
    Variable("CS_IMAGES_TIMEOUT", None, "Seconds the images provider waits per request; default "
             "CS_OPENAI_TIMEOUT, else 180.", ("cs-visuals",), "remotes"),
    Variable("PEXELS_API_KEY", None, "Pexels API key(s), comma-separated (rotated when one is rate-limited).",
             ("cs-visuals",), "remotes"),
    Variable("PIXABAY_API_KEY", None, "Pixabay API key(s), comma-separated.", ("cs-visuals",), "remotes"),
    Variable("CS_PEXELS_URL", "https://api.pexels.com", "Base URL of the Pexels API (a mirror or a test server).",
             ("cs-visuals",), "remotes"),
    Variable("CS_PIXABAY_URL", "https://pixabay.com", "Base URL of the Pixabay API.", ("cs-visuals",),
             "remotes"),
    Variable("CS_VISUALS_TRIES", "4", "Tries per stock or images request before the provider is left for a "
             "minute.", ("cs-visuals",), "remotes"),
    Variable("CS_VISUALS_MAX_WAIT", "30", "Longest pause in seconds cs-visuals honours from a Retry-After.",
             ("cs-visuals",), "remotes"),
    # --- YouTube ----------------------------------------------------------------------------------------
    Variable("CS_YOUTUBE_TOKEN", None, "The token file `cs-publish auth` wrote; default "
             "$XDG_CONFIG_HOME/creator-tools/youtube-token.json.", YOUTUBE, "youtube"),
    Variable("CS_YOUTUBE_ENDPOINT", None, "Root URL of the YouTube APIs (a test server); default Google's.",
             YOUTUBE, "youtube"),
    Variable("CS_YOUTUBE_BACKOFF_BASE", "1.0", "Seconds of the first pause before a retried YouTube call "
             "(doubled each time).", YOUTUBE, "youtube"),
    Variable("CS_REQUIRE_REVIEW", "1", "0: public, unlisted and scheduled uploads need no review.status approved "
             "(as --no-review); a record with a block finding always needs an approval.", ("cs-publish",), "youtube"),
    Variable("CS_DB", None, "Upload and quota ledger: a SQLite file or postgresql://...; default "
             "$XDG_STATE_HOME/creator-tools/youtube.sqlite.", YOUTUBE, "youtube"),
    Variable("CS_DB_TIMEOUT", "30", "Seconds a command waits for a SQLite ledger or store another process has "
             "locked (a migration, a long write) before saying it is busy.", YOUTUBE, "youtube"),
    Variable("CS_STATS_DB", None, "The stats store: a SQLite file or postgresql://...; default "
             "$XDG_STATE_HOME/creator-tools/stats.sqlite.", ("cs-stats", "cs-idea"), "youtube"),
    # --- storage (read by boto3, listed so people find them) --------------------------------------------
    Variable("AWS_ENDPOINT_URL", None, "S3-compatible endpoint (MinIO, R2) for CS_OUT_DIR=s3://...; read by boto3.",
             FILES, "storage"),
    Variable("AWS_ACCESS_KEY_ID", None, "S3 access key; read by boto3.", FILES, "storage"),
    Variable("AWS_SECRET_ACCESS_KEY", None, "S3 secret key; read by boto3.", FILES, "storage"),
    Variable("AWS_DEFAULT_REGION", None, "S3 region; read by boto3.", FILES, "storage"),
    Variable("AWS_PROFILE", None, "Profile in ~/.aws for the S3 store; read by boto3.", FILES, "storage"),
    # --- the batch scripts in pipelines/ (read by the shell, listed so people find them) ----------------
    Variable("CS_BATCH_DIR", "pipelines/build", "Build folder of pipelines/daily.sh.", ("pipelines/daily.sh",),
             "pipelines"),
    Variable("CS_LOCK", "/tmp/creator-tools-daily.lock", "Lock file that keeps two daily runs apart.",
             ("pipelines/daily.sh",), "pipelines"),
    Variable("CS_BIN", "~/creator-tools/.venv/bin", "Where publish-cron.sh finds the cs-* commands.",
             ("pipelines/publish-cron.sh",), "pipelines"),
    Variable("CS_READY_DIR", "~/videos/ready", "Records ready to publish (*.jsonl) for publish-cron.sh.",
             ("pipelines/publish-cron.sh",), "pipelines"),
    Variable("CS_PUBLISHED_DIR", "~/videos/published", "Where publish-cron.sh writes the published records.",
             ("pipelines/publish-cron.sh",), "pipelines"),
    # --- tests ------------------------------------------------------------------------------------------
    Variable("CS_FAKE_VERSION", None, "Tests only: a cluster worker started with it claims that version.", ALL,
             "tests"),
)

TABLE: dict[str, Variable] = {variable.name: variable for variable in VARIABLES}


def variable(name: str) -> str:
    """NAME itself, after checking the table has it: for click's `envvar=` and for messages."""
    return TABLE[name].name


def get(name: str, default: str | None = None) -> str | None:
    """$NAME stripped; DEFAULT (else the table's default) when unset or blank."""
    entry = TABLE[name]  # a variable missing from the table is a bug: add it there
    value = (os.environ.get(name) or "").strip()
    if value:
        return value
    return default if default is not None else entry.default


def is_set(name: str) -> bool:
    """Whether $NAME has a value (blank counts as unset)."""
    TABLE[name]
    return bool((os.environ.get(name) or "").strip())


N = TypeVar("N", int, float)


def number(name: str, kind: Callable[[str], N] = float, default: N | None = None) -> N | None:
    """$NAME as a number (KIND int or float); when unset DEFAULT, else the table's default (None if it has
    none). A value that is no number is the user's setting: one ConfigError naming the variable."""
    if not is_set(name):
        if default is not None or TABLE[name].default is None:
            return default
        return kind(TABLE[name].default)
    value = get(name)
    try:
        return kind(value)
    except ValueError:
        from ..errors import ConfigError

        raise ConfigError(f"{name}={value!r} is not a number; set it to one or unset it") from None


def child_environment(defaults: dict[str, str]) -> dict[str, str]:
    """The environment for a child process: this one's, plus DEFAULTS for variables it does not set (tuning
    a child may take, such as glibc's MALLOC_* knobs; the user's own value wins)."""
    return {**defaults, **os.environ}


def first(*names: str) -> str | None:
    """The first of NAMES that is set: the variable a value comes from, for messages."""
    return next((name for name in names if is_set(name)), None)


def out_location() -> str:
    """$CS_OUT_DIR as given (a folder or a store URL); the one place its default (./cs-out) is read."""
    return get("CS_OUT_DIR") or "cs-out"


def debug() -> bool:
    """CS_DEBUG=1 (any value but 0): tracebacks with unexpected errors."""
    return get("CS_DEBUG") not in (None, "0")


# --- generated documentation --------------------------------------------------------------------------

README_BEGIN = "<!-- environment: generated by bin/gen-man from src/creator_tools/core/config.py -->"
README_END = "<!-- end of environment -->"


def markdown_table() -> str:
    """The README's table (between README_BEGIN and README_END)."""
    rows = ["| Variable | Default | Meaning | Read by |", "|---|---|---|---|"]
    for entry in VARIABLES:
        default = f"`{entry.default}`" if entry.default is not None else ""
        rows.append(f"| `{entry.name}` | {default} | {entry.meaning.replace('|', '/')} | {entry.where()} |")
    return "\n".join(rows)
