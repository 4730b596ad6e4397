"""Helpers for tests that need real records and small generated media: run a cs-* command in a subprocess,
make script records, turn a WAV into a video or another audio format, and measure WAVs.
Import from tests (`from media_fixtures import ...`, tests/ is on sys.path under pytest's rootdir) or
copy the pattern; nothing here mocks an engine."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

BIN = Path(sys.executable).parent


@dataclass
class Run:
    code: int
    records: list[dict]
    stderr: str
    seconds: float


def run_cs(command: str, records: Iterable[dict] | str, *args: str, cwd: Path, env: dict | None = None,
           timeout: float = 600) -> Run:
    """Run `cs-COMMAND ARGS` in CWD with RECORDS (dicts, or raw text) on stdin; records parsed from stdout."""
    import time

    text = records if isinstance(records, str) else "".join(json.dumps(r) + "\n" for r in records)
    environment = {**os.environ, "CS_OUT_DIR": str(Path(cwd) / "cs-out"), **(env or {})}
    started = time.monotonic()
    done = subprocess.run([str(BIN / f"cs-{command}"), *args], input=text, capture_output=True, text=True,
                          cwd=cwd, env=environment, timeout=timeout)
    seconds = time.monotonic() - started
    out = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return Run(done.returncode, out, done.stderr, seconds)


def script_record(texts: list[str], cta: str = "", *, record_id: str = "rec1", fmt: str = "short",
                  language: str = "en") -> dict:
    segments = [{"text": t, "visual": f"b-roll {n}", "on_screen": ""} for n, t in enumerate(texts, 1)]
    return {"id": record_id, "format": fmt,
            "script": {"title": "Test", "language": language, "segments": segments, "cta": cta}}


def espeak_narration(folder: Path, texts: list[str], gap_s: float = 0.0, name: str = "narration.wav") -> dict:
    """The `voice` and `captions` keys for TEXTS spoken one after another by espeak-ng (165 wpm), each
    followed by GAP_S of silence, in one WAV under FOLDER. Words are spread evenly over their sentence:
    good enough for burned captions and shot timing, and no whisper run."""
    frames, spans, words, at, rate = [], [], [], 0.0, 22050
    for number, text in enumerate(texts):
        part = folder / f"part{number}.wav"
        done = subprocess.run(["espeak-ng", "-s", "165", "-w", str(part), text], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        with wave.open(str(part)) as handle:
            rate = handle.getframerate()
            data = handle.readframes(handle.getnframes()) + b"\0\0" * int(gap_s * handle.getframerate())
        length = len(data) / 2 / rate
        spoken = length - gap_s
        spans.append({"start": round(at, 3), "end": round(at + spoken, 3)})
        tokens = text.split()
        for index, token in enumerate(tokens):
            start = at + spoken * index / len(tokens)
            words.append({"word": token, "start": round(start, 3), "end": round(start + spoken / len(tokens), 3)})
        frames.append(data)
        at += length
    voice = folder / name
    with wave.open(str(voice), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(b"".join(frames))
    return {"voice": {"engine": "espeak", "voice": "en", "path": str(voice), "duration_s": round(at, 3), "segments": spans},
            "captions": {"language": "en", "words": words, "srt": None, "vtt": None, "ass": None}}


def wav_info(path: str | Path) -> tuple[int, int]:
    """(sample rate, frame count) of a WAV."""
    with wave.open(str(path)) as reader:
        return reader.getframerate(), reader.getnframes()


def wav_samples(path: str | Path) -> tuple[int, array]:
    with wave.open(str(path)) as reader:
        assert reader.getsampwidth() == 2 and reader.getnchannels() == 1
        samples = array("h")
        samples.frombytes(reader.readframes(reader.getnframes()))
        return reader.getframerate(), samples


def loud_spans(path: str | Path, start: float, end: float, threshold: float = 0.02, window: float = 0.01) -> tuple[float, float]:
    """(first, last) time within [start, end] where the 10 ms RMS level passes THRESHOLD (of full scale):
    when speech begins and ends, measured from the samples alone."""
    rate, samples = wav_samples(path)
    size = max(1, int(rate * window))
    first = last = None
    for at in range(int(start * rate), min(len(samples), int(end * rate)), size):
        chunk = samples[at:at + size]
        if not chunk:
            break
        rms = (sum(s * s for s in chunk) / len(chunk)) ** 0.5 / 32768
        if rms >= threshold:
            first = at / rate if first is None else first
            last = (at + len(chunk)) / rate
    assert first is not None, f"no sound between {start} and {end} s in {path}"
    return first, last


def to_video(wav: str | Path, out: str | Path, size: str = "320x240") -> Path:
    """A small H.264/AAC MP4: a plain colour picture with WAV as its sound."""
    subprocess.run([shutil.which("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=0x224466:s={size}:r=10", "-i", str(wav), "-shortest", "-c:v", "libx264",
                    "-preset", "ultrafast", "-c:a", "aac", "-b:a", "64k", str(out)], check=True)
    return Path(out)


def to_audio(wav: str | Path, out: str | Path) -> Path:
    """WAV re-encoded to the format OUT's suffix names (.ogg, .m4a, .mp3, .flac)."""
    subprocess.run([shutil.which("ffmpeg"), "-hide_banner", "-loglevel", "error", "-y", "-i", str(wav), str(out)],
                   check=True)
    return Path(out)


def word_error_rate(reference: list[str], hypothesis: list[str]) -> float:
    """Levenshtein distance over words, divided by the reference length."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1] / max(1, len(reference))


def srt_cues(text: str) -> list[tuple[float, float, str]]:
    """Parse SRT strictly enough to catch format slips: numbered cues, HH:MM:SS,mmm times, text."""
    cues = []
    for number, block in enumerate(text.strip().split("\n\n"), 1):
        lines = block.split("\n")
        assert lines[0] == str(number), f"cue {number} is numbered {lines[0]!r}"
        match = re.fullmatch(r"(\d\d):(\d\d):(\d\d),(\d\d\d) --> (\d\d):(\d\d):(\d\d),(\d\d\d)", lines[1])
        assert match, f"bad SRT time line {lines[1]!r}"
        h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, match.groups())
        cues.append((h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000,
                     "\n".join(lines[2:])))
    return cues


def truncated_mp4(folder: Path) -> Path:
    """An MP4 whose moov says 6 s while its mdat was cut after 200 bytes: it probes fine, no frame decodes
    (issue 14 item 5: used as a clip, ffmpeg spun on it forever)."""
    import struct

    good = folder / "whole.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=s=160x120:r=30:d=6", "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart",
                    str(good)], check=True)
    data = good.read_bytes()
    at = 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"mdat":
            break
        at += size
    cut = folder / "truncated.mp4"
    cut.write_bytes(data[:at + 8 + 200])
    return cut
