"""cs-render: script + voice + captions (+ visuals) -> MP4: one picture track (media/track.py) for every
record, encoded with the captions and the audio mix by one final ffmpeg (media/graph.py)."""

from __future__ import annotations


import os
import time
from typing import TYPE_CHECKING

import click

from ..core.once import once
from .. import log, pipe
from ..errors import BadInput, EngineError, UsageError
from ..media.frames import PRESETS, preset_for  # the one frame rule (cheap to import)

if TYPE_CHECKING:
    from pathlib import Path

# Everything else (ffmpeg helpers, subprocess, hashlib, tempfile, threads, pathlib) is imported where it is
# used, so `cs-render --help` loads little beyond click and the pipe driver.

TARGET_LUFS = -14.0
PAN_MARGIN = 1.08  # stills are prepared this much larger than the frame: room for the Ken Burns pan


def _even(value: float) -> int:
    return int(round(value / 2)) * 2


@once
def pick_encoder(choice: str) -> str:
    """`auto`: h264_nvenc when this ffmpeg has it and a GPU answers a tiny probe encode, else libx264."""
    from ..core import processes
    from ..media import ffmpeg, graph

    if choice != "auto":
        return choice
    if "h264_nvenc" not in ffmpeg.encoders():
        return "libx264"
    probe = [ffmpeg.binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
             "color=s=256x256:d=0.2", *graph.encoder_args("h264_nvenc"), "-f", "null", "-"]
    try:
        processes.run(probe, timeout=30)
    except processes.Failed:
        return "libx264"
    return "h264_nvenc"


def segment_bounds(record: dict, count: int, duration: float) -> list[float]:
    """Where each segment's visual starts: at its narration's start (from voice.segments), else spread by
    text length. Always starts at 0 and ends at the voice's end."""
    spans = (record.get("voice") or {}).get("segments") or []
    if len(spans) == count and count:
        starts = [0.0] + [float(s["start"]) for s in spans[1:]]
    else:
        texts = [len(str(s.get("text") or "")) + 1 for s in record["script"]["segments"]]
        total, run, starts = sum(texts), 0, []
        for size in texts:
            starts.append(duration * run / total)
            run += size
    bounds = [min(max(0.0, s), duration) for s in starts] + [duration]
    for k in range(1, len(bounds)):  # keep every segment at least a few frames long
        bounds[k] = max(bounds[k], bounds[k - 1] + 0.2) if k < len(bounds) - 1 else bounds[k]
    return bounds


class Render(pipe.Stage):
    name = "render"
    key = "video"
    needs = {"script": "cs-script", "voice": "cs-voice", "captions": "cs-caption"}

    def __init__(self, preset: str, library: str | None, music: str | None, encoder: str, threads: int,
                 crossfade: float):
        self.preset, self.encoder, self.threads, self.crossfade = preset, encoder, threads, crossfade
        self.music = music
        self.library = None
        if library:
            from ..media.library import Library

            self.library = Library(library)
        self.library_path = library

    def settings(self) -> dict:
        listing = [str(e.path) for e in self.library.entries] if self.library else []
        return {"preset": self.preset, "library": self.library_path, "files": listing, "music": self.music,
                "crossfade": self.crossfade}

    def inputs(self, record: dict):
        found = {**super().inputs(record), "format": record.get("format")}
        if "visuals" in record:  # only when present, so records made before cs-visuals keep their videos
            found["visuals"] = record["visuals"]
        return found

    def artifacts(self, record: dict) -> list[str]:
        return [record["video"]["path"]]  # a deleted MP4 (file or object) means rendering it again

    def size(self, record: dict) -> tuple[int, int]:
        return PRESETS[preset_for(record, self.preset)]

    def resources(self) -> dict[str, float]:
        return {"GPU": 1} if self.encoder == "h264_nvenc" else {}  # --cluster: only a worker with a GPU takes it

    def plan(self, record: dict) -> str:
        width, height = self.size(record)
        if isinstance(record.get("visuals"), list):
            return f"would render {len(record['visuals'])} shots at {width}x{height}"
        return f"would render {len(record['script'].get('segments') or [])} segments at {width}x{height}"

    def process(self, record: dict) -> dict:
        from pathlib import Path

        from .. import artifacts
        from ..artifacts import artifact_path
        from ..media import track as visuals

        script, voice = record["script"], record["voice"]
        if not (script.get("segments") or []) and not record.get("visuals"):
            raise BadInput("script has no segments; run cs-script again")
        voice_path, duration = visuals.voice_length(voice)
        if "visuals" in record:
            shots = visuals.check(record["visuals"], duration)
        else:
            shots = self._segment_shots(record, duration)
        width, height = self.size(record)
        output = artifact_path("video", record["id"], self.inputs(record), ".mp4")
        if not output.is_file():
            with artifacts.scratch("cs-render") as temp:  # under $CS_OUT_DIR/.tmp, swept after a SIGKILL
                plan = self._plan(record, Path(temp), width, height, duration, voice_path, shots)
                self._render(shots, plan, output)
        cards = sum(1 for shot in shots if shot["kind"] == "card")
        uri = artifacts.publish(output)
        return {**record, "video": {**describe(output, cards), "path": uri}}

    def _segment_shots(self, record: dict, duration: float) -> list[dict]:
        """A record without `visuals` (made before cs-visuals, or without it): one shot per script segment,
        from its narration's start: the --library file that best matches its `visual` (media/library.py's
        one matcher), else a title card of its `on_screen` text, drawn by the picture track. From here on it
        is rendered exactly like a record with `visuals`."""
        segments = record["script"]["segments"]
        bounds = segment_bounds(record, len(segments), duration)
        used: set = set()
        shots = []
        for k, segment in enumerate(segments):
            entry = self.library.match(segment.get("visual") or "", used) if self.library else None
            start = 0.0 if k == 0 else bounds[k]
            label = f"script.segments[{k}].visual"
            if entry is None:
                text = segment.get("on_screen") or segment.get("text") or ""
                shots.append({"kind": "card", "text": text, "start": start, "index": k, "label": label})
                continue
            used.add(entry.path)
            shots.append({"kind": entry.kind, "path": str(entry.path.resolve()), "start": start, "index": k,
                          "label": f"{label} ({entry.path})"})
        return shots

    def _render(self, shots: list[dict], plan, output: Path) -> None:
        """Each shot from its start to its end, made and encoded span by span by the track's producers
        (media/track.py says why); the loudness passes (ffmpeg, audio only) run while Pillow prepares the
        stills and cards and the first producers start: only the sound waits for the gain."""
        from concurrent.futures import ThreadPoolExecutor

        from ..media import track as visuals

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="cs-render") as pool:
            gain = pool.submit(self._gain, plan)
            track = visuals.prepare(shots, plan, pool)
            prepared = time.monotonic()
            self._encode(plan, output, track, gain.result)
        if log.debug_enabled():
            log.info(f"timing: images {prepared - started:.2f} s, ffmpeg {time.monotonic() - prepared:.2f} s")

    # --- preparation ----------------------------------------------------------------------------------

    def _plan(self, record: dict, temp: Path, width: int, height: int, duration: float, voice: Path,
              shots: list[dict]):
        from pathlib import Path

        from ..artifacts import local_path
        from ..media import graph
        from ..media import track as visuals

        music = Path(local_path(self.music)) if self.music else None
        if music is None and self.library and self.library.music():
            music = self.library.music().path
        if music is not None and not music.is_file():
            raise BadInput(f"{music}: music file not found; check --music")
        return graph.Plan(
            width=width, height=height, voice=voice,
            bounds=[0.0] + [shot["start"] for shot in shots[1:]] + [duration],
            captions=self._captions(record, temp, width, height), music=music, crossfade=self.crossfade,
            still_size=(_even(width * PAN_MARGIN), _even(height * PAN_MARGIN)), work_dir=temp,
            bandwidth=visuals.bandwidth(voice, music),
        )

    def _captions(self, record: dict, temp: Path, width: int, height: int) -> Path | None:
        """The caption ASS at this frame size, under a plain name in the temp dir (nothing in its path can
        break the filter graph): rebuilt from `captions.words`, else a copy of `captions.ass`."""
        import shutil

        from .. import artifacts

        captions = record.get("captions") or {}
        target = temp / "captions.ass"
        if captions.get("words"):
            from ..media.subtitles import write_ass

            write_ass(captions["words"], target, width, height)
            return target
        if captions.get("ass") and artifacts.exists(captions["ass"]):
            shutil.copyfile(artifacts.local_path(captions["ass"]), target)
            return target
        log.warn(f"record {record['id']}: captions have no words and no ASS file; rendering without captions")
        return None

    # --- ffmpeg ---------------------------------------------------------------------------------------

    def _loudness(self, plan, gain_db: float | None) -> float | None:
        from ..media import ffmpeg, graph

        from ..core import processes

        argv = [ffmpeg.binary(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-progress", "pipe:1",
                *graph.measure_args(plan, gain_db)]
        code, stderr = ffmpeg.capture(argv, stall=processes.stall_limit())
        if code != 0:
            lines = [line for line in stderr.splitlines() if line.strip()]
            raise EngineError(f"measuring loudness failed ({lines[-1] if lines else 'no message'}); check the voice file")
        return graph.parse_integrated(stderr)

    def _gain(self, plan) -> float:
        """The gain that brings the mix to -14 LUFS: measured on the audio alone (fast), then measured
        again through the limiter and corrected once, so the single video pass lands within a fraction of
        a dB."""
        measured = self._loudness(plan, None)
        if measured is None:
            return 0.0
        gain = TARGET_LUFS - measured
        after = self._loudness(plan, gain)
        if after is not None:
            gain += TARGET_LUFS - after
        return max(-40.0, min(40.0, gain))

    def _encode(self, plan, output: Path, track, gain) -> None:
        from ..artifacts import atomic_output
        from ..media import track as visuals

        encoder = pick_encoder(self.encoder)
        # replace=False: of two identical runs the first video stays, and both describe that one (x264 is not
        # byte-deterministic); cs-render renders only when no video is there, so --force never needs to replace.
        with atomic_output(output, replace=False) as temp:
            try:
                visuals.encode(plan, temp, encoder, self.threads, track, gain)
            except EngineError:
                if encoder == "libx264":
                    raise
                log.warn(f"{encoder} failed; rendering again with libx264")
                visuals.encode(plan, temp, "libx264", self.threads, track, gain)

    def close(self) -> None:
        """Interrupted (SIGTERM, Ctrl-C) or done: no ffmpeg child of any -j worker may run on and land a file."""
        from ..media import ffmpeg

        ffmpeg.stop_all()


def describe(path: Path, cards: int = 0) -> dict:
    """The `video` key; `cards` counts generated title cards (cs-meta sets synthetic_media from it)."""
    from ..artifacts import file_sha256
    from ..media import ffmpeg

    info = ffmpeg.probe(path)
    video = ffmpeg.stream(info, "video") or {}
    rate = video.get("avg_frame_rate") or "0/1"
    num, _, den = rate.partition("/")
    return {
        "path": str(path),
        "duration_s": round(float(info["format"].get("duration") or 0), 3),
        "width": int(video.get("width") or 0),
        "height": int(video.get("height") or 0),
        "fps": round(int(num) / int(den or 1), 3) if int(den or 1) else 0,
        "size_bytes": path.stat().st_size,
        "sha256": file_sha256(path),
        "cards": cards,
    }


@pipe.stage_command("render")
@click.option("--preset", type=click.Choice(["auto", *PRESETS]), default="auto", show_default=True,
              help="Frame size; auto: short for `format: short`, landscape for `long`.")
@click.option("--library", type=click.Path(exists=True, file_okay=False), help="Folder of stills and clips matched to each segment's `visual`.")
@click.option("--music", type=click.Path(dir_okay=False), help="Background music (a file or an s3:// URI), ducked under the voice.")
@click.option("--encoder", type=click.Choice(["auto", "libx264", "h264_nvenc"]), default="auto", show_default=True,
              help="auto: h264_nvenc when a GPU answers, else libx264.")
@click.option("--threads", type=click.IntRange(0, 64), default=0, show_default=True, help="Encoder threads (0: auto).")
@click.option("--crossfade", type=pipe.FiniteRange(0, 5), default=0.5, show_default=True, help="Seconds of crossfade between segments.")
def cli(opts, preset, library, music, encoder, threads, crossfade):
    """Render a record's script, voice and captions into an MP4: one ffmpeg process per video.

    \b
    Reads `script` (segments' `visual` and `on_screen`), `voice` (the WAV and its segment times; its length is
    measured, never taken from `duration_s`), `captions` (`words`, or the `ass` file), `format` and, when
    cs-visuals added it, `visuals`; adds `video`: {path, duration_s, width, height, fps, size_bytes, sha256}.
    With `visuals`, each shot is shown from its start to its end: a clip trimmed to the shot, looped when
    shorter and cropped to fill the frame, a still with a slow Ken Burns pan, a card with a slow drift,
    crossfading into the next shot. Without it, each segment is one shot from its narration's start: the
    --library still or clip whose file name or tags share most words with its `visual`, else a title card
    with its `on_screen` text; both kinds of record go through the same picture track. Captions are burned
    in with libass; music (--music, or an audio file under the library's music/ folder) is ducked under the
    voice; the mix is normalised to -14 LUFS. Presets: short 1080x1920 (a record without `format`, or any
    but `long`), landscape 1920x1080 (`format: long`), square 1080x1080; 30 fps. The file meets YouTube's
    recommended upload settings: H.264 High, CABAC, yuv420p BT.709, 2 B-frames, closed 15-frame GOP; AAC-LC
    48 kHz; moov first, no edit lists.

    \b
    Example:
      cs-script "why the sky is blue" | cs-voice | cs-caption | cs-visuals | cs-render --music bed.mp3 > video.jsonl
      cs-script "why the sky is blue" | cs-voice | cs-caption | cs-render --library stock/ > video.jsonl
    """
    if music:
        _check_music(music)
    return Render(preset, library, music, encoder, threads, crossfade)


def _check_music(music: str) -> None:
    """--music is one file for every record: a wrong one is said once, before any work."""
    from .. import artifacts
    from ..media import ffmpeg

    if not artifacts.exists(music):
        raise UsageError(f"--music {music}: no such file or object; check the path")
    try:
        info = ffmpeg.probe(artifacts.local_path(music))
    except BadInput:
        info = {}
    if ffmpeg.stream(info, "audio") is None:
        raise UsageError(f"--music {music}: has no audio to play under the voice; give an audio file "
                         "(MP3, WAV, M4A, OGG or FLAC)")

