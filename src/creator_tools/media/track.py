"""cs-render's picture track: each shot of a record, made and encoded a span of frames at a time.

Why not one graph with a `movie` source per clip: every
`movie` opens its demuxer, decoder (with its frame threads and reference frames) and scaler when the graph
starts and keeps them to the end, so memory grows with the number of clips (about 30-50 MB per 1080p
clip). Here a short-lived ffmpeg for a few shots at a time (a "producer", BATCH shots) decodes, loops, crops
and scales them, blends each crossfade, burns the captions and encodes its span of frames into a segment;
the producers run one after another, and the final ffmpeg copies the segments and the sound (encoded
meanwhile) into the MP4. At most one producer (BATCH single-threaded decoders, plus the next batch's first
shot, and its encoder) is alive at a time, so memory stays flat with the number of shots. Spans begin on
the GOP grid (`spans`), so the joined video has one GOP of GOP frames throughout. Until this round the
producers wrote raw frames into one pipe to a single encoder: the pipe's copies and the two processes taking
turns on the cores cost 15% more CPU than this (bench/render.sh CLIPS=30).

Every record is rendered through this track (a record without `visuals` gets one shot per script segment:
its --library match, else a title card drawn here), so shot timing, the pan and the crossfade exist once,
in `Track`. Shot k's own clock starts half a crossfade before its start; piece k is its frames from the end
of the fade into shot k to the end of the fade out of it, the last part of which (the window) is shot k+1
faded in over shot k.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..core.processes import safe_path
from .graph import FPS, GOP, escape, frames, segment_args

KINDS = ("clip", "still", "card")


@dataclass
class Shot:
    """One prepared shot: `clip` (any video file ffmpeg reads) or `still` (a one-frame Y4M a little larger
    than the frame, for the pan; cards are prepared the same way)."""

    kind: str
    path: Path
    pan: int = 0  # Ken Burns direction 0-3
    label: str = ""  # what the record calls it (`visuals[3].path`), for error messages


@dataclass
class Track:
    width: int
    height: int
    shots: list[Shot]
    bounds: list[float]  # shot k spans bounds[k]..bounds[k+1]; bounds[0] == 0, bounds[-1] == duration
    crossfade: float = 0.5
    still_size: tuple[int, int] = (0, 0)
    captions: Path | None = None  # the ASS each producer burns over its own pieces

    @property
    def duration(self) -> float:
        return self.bounds[-1]

    def half_fade(self) -> float:
        shortest = min(b - a for a, b in zip(self.bounds, self.bounds[1:]))
        return max(0.0, min(self.crossfade / 2, shortest / 3))

    def clock(self, k: int) -> int:
        """The frame where shot k's own clock starts (the start of the fade into it)."""
        return 0 if k == 0 else frames(max(0.0, self.bounds[k] - self.half_fade()))

    def pieces(self) -> list[tuple[int, int, int]]:
        """(first, window, end) frames per shot: it is shown alone in [first, window) and fades into the
        next shot in [window, end)."""
        h = self.half_fade()
        n = len(self.shots)
        cuts = [0] + [frames(self.bounds[k] + h) for k in range(1, n)] + [frames(self.duration)]
        windows = [frames(self.bounds[k + 1] - h) if k + 1 < n and h > 0 else cuts[k + 1] for k in range(n)]
        return [(cuts[k], min(max(windows[k], cuts[k]), cuts[k + 1]), cuts[k + 1]) for k in range(n)]

    @property
    def total_frames(self) -> int:
        return frames(self.duration)


BATCH = 5  # shots per producer: one ffmpeg start (~0.2 s CPU with its inputs' first frames, and x264's
# start and flush, when a core idles) for five shots, and each shot decoded once (the head that fades into the
# shot before comes from the same decoder as the rest of it). Every input of a producer is opened at its
# start, so memory grows with the batch, ~45 MB a 1080p input: bench/render.sh CLIPS=30 peaks at ~570 MB
# for the whole process tree (bar 600 MB) with five; three took 1.39x the floor's wall time against 1.34x.


# Frames are 3 MB (1080x1920): above glibc's mmap threshold, so each frame buffer would be a fresh mmap whose
# pages the kernel faults in and zeroes. A higher threshold keeps them on the heap, reused.
FRAME_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


def _environment() -> dict[str, str]:
    from ..core import config

    return config.child_environment(FRAME_MALLOC)


def spans(track: Track) -> list[tuple[int, int]]:
    """The frames [first, end) each producer makes and encodes, in order: BATCH shots' pieces, the end moved
    on to the next multiple of GOP, so every segment starts on the one key-frame grid of the video (a GOP of
    GOP frames throughout, none cut short at a join). A span thus ends a few frames into the next batch's
    first shot, whose input it opens anyway for the crossfade."""
    pieces, total = track.pieces(), track.total_frames
    ends: list[int] = []
    for k in range(BATCH, len(track.shots), BATCH):
        end = -(-pieces[k][0] // GOP) * GOP
        if (not ends or end > ends[-1]) and end < total:
            ends.append(end)
    ends.append(total)
    return list(zip([0] + ends[:-1], ends))


def _input(shot: Shot, frames_needed: int) -> list[str]:
    """The input arguments of SHOT, of which FRAMES_NEEDED frames of its clock are used. A clip decodes on
    two frame threads: the producer's one thread decodes, composes and feeds x264, and with one decoder thread
    it was the slow step (bench/render.sh CLIPS=30: 1.40x the floor's wall time, 1.30x with two, for ~60 MB
    more at five clips open). A clip is looped
    at the input (shorter than its shot, it starts again, never freezes) and read for that long only, plus a
    second: with -frames:v on the output and the stall watchdog, no producer runs unbounded."""
    if shot.kind == "clip":
        seconds = frames_needed / FPS + 1.0
        return ["-threads", "2", "-stream_loop", "-1", "-an", "-sn", "-dn", "-t", f"{seconds:.3f}",
                "-i", safe_path(shot.path)]
    return ["-threads", "1", "-i", safe_path(shot.path)]


def _chain(track: Track, k: int, index: int, skip: int, count: int) -> str:
    """Input INDEX (shot K) as COUNT frames at the frame size and 30 fps, starting SKIP frames into the
    shot's own clock."""
    shot, w, h = track.shots[k], track.width, track.height
    if shot.kind == "clip":
        # crop to the frame's shape first, then scale: a landscape 1080p clip into a portrait frame scales
        # its 608x1080 middle, not the whole picture to 3413x1920. Bilinear (a proper triangle filter when
        # shrinking) and no colour-matrix option: `out_color_matrix`/`out_range` forced a full swscale
        # pass on every frame, even a frame-sized clip that now passes through untouched; that and bicubic
        # were ~40% of a clip producer's CPU (bench/render.sh CLIPS=...). Stock footage is BT.709 already;
        # full-range (yuvj) clips still get their range converted by the format change.
        return (
            f"[{index}:v]fps={FPS},trim=start_frame={skip}:end_frame={skip + count},setpts=N/{FPS}/TB,"
            f"crop=w='min(iw,ih*{w}/{h})':h='min(ih,iw*{h}/{w})',"
            f"scale={w}:{h}:flags=bilinear,setsar=1,format=yuv420p"
        )
    # a still: decoded once, repeated by reference, panned by a crop whose window moves corner to corner
    # over the shot's clock (crop only moves plane pointers)
    sw, sh = track.still_size
    mx, my = sw - w, sh - h
    x0, x1 = (0, mx) if shot.pan in (0, 2) else (mx, 0)
    y0, y1 = (0, my) if shot.pan in (0, 3) else (my, 0)
    first, _, end = track.pieces()[k]
    length = max(1, end - track.clock(k))
    p = f"min((n+{skip})/{length},1)"
    return (
        f"[{index}:v]loop=loop=-1:size=1:start=0,setpts=N/{FPS}/TB,trim=start_frame={skip}:end_frame={skip + count},"
        f"setpts=N/{FPS}/TB,crop=w={w}:h={h}:x='{x0}+({x1 - x0})*{p}':y='{y0}+({y1 - y0})*{p}',setsar=1,format=yuv420p"
    )


def visible(track: Track, first: int, end: int) -> list[int]:
    """The shots seen in frames [FIRST, END): shot k from its clock's start (the fade into it) to its piece's
    end."""
    pieces = track.pieces()
    return [k for k in range(len(track.shots)) if track.clock(k) < end and pieces[k][2] > first]


def producer_args(track: Track, span: tuple[int, int], encoder: str, threads: int, output: Path) -> list[str]:
    """ffmpeg arguments (without the binary) that make frames SPAN of the video and encode them into OUTPUT.
    Every shot seen in the span is one input, decoded once: its body (from the end of the fade into it) is
    joined to the bodies before it, and its head, on frames of its own (the track's) time, fades in over the
    body of the shot before. The captions are burned last, on the video's time."""
    first, end = span
    pieces = track.pieces()
    inputs: list[str] = []
    parts: list[str] = []
    bodies, heads = [], []
    for index, k in enumerate(visible(track, first, end)):
        start, (body, _, piece_end) = track.clock(k), pieces[k]
        lo, hi = max(start, first), min(piece_end, end)
        inputs += _input(track.shots[k], hi - start)
        chain = _chain(track, k, index, lo - start, hi - lo)
        head = k > 0 and lo < min(body, hi)  # frames of the fade into it
        if head and body < hi:
            parts.append(f"{chain},split[h{k}][s{k}]")
            parts.append(f"[s{k}]trim=start_frame={body - lo},setpts=N/{FPS}/TB[b{k}]")
            chain = f"[h{k}]trim=end_frame={body - lo}"
        elif not head:
            parts.append(f"{chain}[b{k}]")
        if head:
            window, fade = pieces[k - 1][1], pieces[k - 1][2] - pieces[k - 1][1]
            # on the track's frames, so a span that starts inside the fade picks it up where it stands
            parts.append(f"{chain},settb=1/{FPS},setpts=N+{lo},format=yuva420p,"
                         f"fade=t=in:st={math.floor(window / FPS * 1e6) / 1e6:.6f}:d={fade / FPS:.6f}:alpha=1[t{k}]")
            heads.append(k)
        if body < hi:
            bodies.append(k)
    joined = f"concat=n={len(bodies)}:v=1:a=0," if len(bodies) > 1 else ""
    parts.append("".join(f"[b{k}]" for k in bodies) + f"{joined}settb=1/{FPS},setpts=N+{first}[o0]")
    for n, k in enumerate(heads, 1):  # before and after its head, overlay passes the bodies through
        parts.append(f"[o{n - 1}][t{k}]overlay=eof_action=pass:repeatlast=0:format=yuv420[o{n}]")
    parts.append(f"[o{len(heads)}]format=yuv420p{_burn(track)},setpts=PTS-STARTPTS[v]")
    return [
        *inputs, "-filter_complex_threads", "1", "-filter_complex", ";".join(parts), "-map", "[v]",
        "-frames:v", str(end - first), *segment_args(encoder, threads), "-y", safe_path(output),
    ]


def _burn(track: Track) -> str:
    """The captions, burned on the video's own time by each producer: its cores are free between decodes
    (a card's producer idles most of the time), where one burner for the whole video would be a serial step."""
    if track.captions is None:
        return ""
    return f",subtitles=filename={escape(str(track.captions))}"


def _probe_args(track: Track, k: int) -> list[str]:
    """Shot K alone, decoded for as long as its producer would read it, into nothing (`_culprit`)."""
    pieces = track.pieces()
    count = pieces[k][2] - track.clock(k)
    return [*_input(track.shots[k], count), "-filter_complex_threads", "1", "-filter_complex",
            _chain(track, k, 0, 0, count) + "[v]", "-map", "[v]", "-frames:v", str(count), "-f", "null", "-"]


def produce(track: Track, plan, encoder: str, threads: int, update) -> list[tuple[Path, tuple[int, int]]]:
    """Run the producers one after another, each encoding its span into a segment in the temp dir (the
    segments and their spans, in order); UPDATE
    (a progress callback) hears the video's seconds done. A producer that fails, or makes no progress for
    CS_FFMPEG_STALL seconds (a clip whose frames never decode spins forever), is an EngineError naming the
    shot whose file broke it."""
    from ..core import processes
    from ..errors import EngineError
    from . import ffmpeg

    segments = []
    for number, span in enumerate(spans(track)):
        output = plan.work_dir / f"segment{number:04d}.nut"

        def saw(line: str, done=span[0] / FPS) -> None:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.isdigit():
                update(completed=round(done + int(value) / 1e6, 1))

        try:
            processes.run(ffmpeg.command(*producer_args(track, span, encoder, threads, output)), stdout=processes.PIPE,
                          on_line=saw, stall=processes.stall_limit(), env=_environment())
        except processes.Failed as exc:
            _disk_full(exc.last_line(), plan.work_dir.parent)
            k, why = _culprit(track, span, exc)
            if k is None:
                raise EngineError(f"ffmpeg failed ({exc.last_line()}); re-run with CS_DEBUG=1 to see the command") from None
            raise EngineError(f"{track.shots[k].label or track.shots[k].path}: {why}; "
                              "replace the file or run cs-visuals again") from None
        segments.append((output, span))
    return segments


def _culprit(track: Track, span: tuple[int, int], failed) -> tuple[int | None, str]:
    """The shot seen in SPAN whose file made its producer fail, and why. A producer opens all its files at
    once, so its failure may be any of them: from the piece it stopped in, each is decoded again alone until
    one fails. None when every file decodes alone (the encoder failed: a full disk, a GPU gone). Only a
    failure pays for this."""
    from ..core import processes
    from . import ffmpeg

    shots = visible(track, *span)
    pieces = track.pieces()
    stopped = span[0] + failed.frames
    order = [k for k in shots if pieces[k][2] > stopped] + [k for k in shots if pieces[k][2] <= stopped]
    for k in order:
        try:
            processes.run(ffmpeg.command(*_probe_args(track, k)), stdout=processes.PIPE, on_line=ffmpeg.ignore,
                          stall=processes.stall_limit())
        except KeyboardInterrupt:
            raise
        except processes.Failed as exc:
            why = f"ffmpeg stopped: {exc.why}" if exc.why else "ffmpeg could not read it"
            return k, f"{why} ({exc.last_line()})"
    return None, ""


def _disk_full(message: str, folder: Path) -> None:
    """ffmpeg's write failed for want of space in FOLDER: the one line every full disk gets (core.files)."""
    from ..core.files import DiskFull

    if "No space left on device" in message or "Disk quota exceeded" in message:
        raise DiskFull(folder) from None


# --- what cs-render calls -------------------------------------------------------------------------------


def voice_length(voice: dict) -> tuple[Path, float]:
    """The voice file and its length as measured by ffprobe: `voice.duration_s` is never trusted (a stale
    or made-up value would render a silent tail, or forever: `duration_s: 1e9`)."""
    import math

    from .. import log
    from ..errors import BadInput
    from . import ffmpeg

    from ..artifacts import local_path

    path = Path(local_path(str(voice.get("path") or "")))
    if not path.is_file():
        raise BadInput(f"voice.path: {path} not found; run cs-voice again")
    info = ffmpeg.probe(path)
    audio = ffmpeg.stream(info, "audio")
    if audio is None:
        raise BadInput(f"voice.path: {path} has no audio stream; run cs-voice again")
    measured = _seconds(audio.get("duration")) or _seconds(info.get("format", {}).get("duration"))
    if not measured or measured < 0.05:
        raise BadInput(f"voice.path: {path} holds no audio ({measured or 0:.3f} s); run cs-voice again")
    stated = voice.get("duration_s")
    if isinstance(stated, (int, float)) and not isinstance(stated, bool) and math.isfinite(stated) \
            and abs(stated - measured) > 0.5:
        log.warn(f"voice.duration_s is {stated:g} s but {path} lasts {measured:.3f} s; rendering {measured:.3f} s")
    return path, measured


def _seconds(value) -> float | None:
    import math

    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def check(visuals, duration: float) -> list[dict]:
    """The record's shot list, checked (one line naming `visuals[i].KEY` for each kind of problem) and
    fitted to the measured voice: shots past its end dropped, the last one held to its end."""
    from ..artifacts import local_path
    from ..errors import BadInput, CSError
    from ..schemas import describe

    if not isinstance(visuals, list) or not visuals:
        raise BadInput("visuals: not a non-empty list of shots; run cs-visuals again")
    shots = []
    for i, shot in enumerate(visuals):
        if not isinstance(shot, dict):
            raise BadInput(f"visuals[{i}]: not an object; run cs-visuals again")
        if shot.get("kind") not in KINDS:
            raise BadInput(f"visuals[{i}].kind: {describe(shot.get('kind'))} is not one of {', '.join(KINDS)}; run cs-visuals again")
        start = _seconds(shot.get("start")) if shot.get("start") not in (0, 0.0) else 0.0
        if start is None:
            raise BadInput(f"visuals[{i}].start: {describe(shot.get('start'))} is not a time in seconds; run cs-visuals again")
        if shots and start < shots[-1]["start"] + 0.1:
            raise BadInput(f"visuals[{i}].start: {start:g} is not at least 0.1 s after the shot before it; "
                           "run cs-visuals again")
        path = shot.get("path")
        if isinstance(path, str) and path:
            try:
                path = local_path(path)  # an s3:// shot is fetched once into the local cache
            except CSError:
                path = None
        if not isinstance(path, str) or not path or not os.path.isfile(path):
            raise BadInput(f"visuals[{i}].path: {shot.get('path')} not found; run cs-visuals again (or restore the file)")
        if start < duration - 0.2 or not shots:
            shots.append({**shot, "path": path, "start": 0.0 if not shots else start, "index": i})
    return shots


def prepare(shots: list[dict], plan, pool) -> Track:
    """Stills and cards fitted once by Pillow (a little larger than the frame, for the slow pan; on POOL's
    threads), clips linked in as they are; then the track. A card shot without a file (a record without
    `visuals`: cs-render makes its cards) is drawn here from its `text`."""
    from . import cards

    prepared, jobs = [], []
    for k, shot in enumerate(shots):
        label = shot.get("label") or f"visuals[{shot['index']}].path ({shot['path']})"
        if shot["kind"] == "clip":
            prepared.append(Shot("clip", Path(shot["path"]), label=label))
            continue
        target = plan.work_dir / f"shot{k}.y4m"
        if shot.get("path"):
            jobs.append((label, pool.submit(cards.fit_still, Path(shot["path"]), target, plan.still_size)))
        else:
            jobs.append((label, pool.submit(cards.title_card, shot.get("text") or "", target, *plan.still_size, k)))
        # cards drift up or down only (text stays level); stills pan corner to corner
        pan = (k % 2) * 3 if shot["kind"] == "card" else k % 4
        prepared.append(Shot("still", target, pan=pan, label=label))
    for label, job in jobs:
        try:
            job.result()
        except Exception as exc:
            from ..core.files import DiskFull, no_space
            from ..errors import BadInput

            if no_space(exc):  # the temp dir is full, not the shot's file wrong: every record would fail alike
                raise DiskFull(plan.work_dir.parent) from None
            raise BadInput(f"{label}: {getattr(exc, 'message', exc)}") from None
    return Track(plan.width, plan.height, prepared, plan.bounds, plan.crossfade, plan.still_size, plan.captions)


def encode(plan, output: Path, encoder: str, threads: int, track: Track, gain=None) -> None:
    """The whole render into OUTPUT: the sound mixed and encoded once, on a thread of its own, while the
    producers encode the picture span by span; then one mux copies both into the MP4. GAIN (a callable,
    may block) gives the loudness gain in dB, which only the sound waits for. No frame crosses a
    pipe: handing 3 MB raw frames from producers to one encoder cost more CPU than compositing them."""
    import threading

    from .. import log
    from ..core import processes
    from ..core.files import atomic_write_text
    from ..errors import EngineError
    from . import ffmpeg, graph

    audio = plan.work_dir / "audio.nut"
    failed: list[BaseException] = []

    def sound() -> None:
        try:
            if gain is not None:
                plan.gain_db = gain()
            processes.run(ffmpeg.command(*graph.audio_args(plan, audio)), stdout=processes.PIPE, on_line=ffmpeg.ignore,
                          stall=processes.stall_limit())
        except BaseException as exc:  # said by the caller, after the picture
            failed.append(exc)

    mixer = threading.Thread(target=sound, name="cs-render-sound", daemon=True)
    mixer.start()
    try:
        with log.progress("render", total=round(plan.duration, 1)) as update:
            segments = produce(track, plan, encoder, threads, update)
    finally:
        mixer.join()
    for exc in failed:
        if isinstance(exc, processes.Failed):
            _disk_full(exc.last_line(), plan.work_dir.parent)
            raise EngineError(f"ffmpeg could not encode the sound ({exc.why or exc.last_line()}); "
                              "check voice.path and --music") from None
        raise exc
    listing = plan.work_dir / "segments.ffconcat"
    atomic_write_text(listing, "ffconcat version 1.0\n" + "".join(
        f"file {path.name}\nduration {(end - first) / FPS:.6f}\n" for path, (first, end) in segments))
    try:
        ffmpeg.run(graph.mux_args(plan, listing, audio, output), total_seconds=plan.duration, description="mux")
    except EngineError as exc:
        _disk_full(exc.message, output.parent)
        raise
    _check_whole(output, plan.duration)


def _check_whole(path: Path, duration: float) -> None:
    """The muxed file holds the whole video, before it takes the final name: on a disk that filled while the
    moov atom was moved to the front, ffmpeg 5.1 exited 0 having written an 8 KB stub."""
    from ..errors import CSError, EngineError
    from . import ffmpeg

    try:
        video = ffmpeg.stream(ffmpeg.probe(path), "video") or {}
        length = _seconds(video.get("duration")) or 0.0
    except CSError:
        length = 0.0
    if length < duration - 0.5:
        stats = os.statvfs(path.parent)
        if stats.f_bavail * stats.f_frsize < 64 << 20:
            _disk_full("No space left on device", path.parent)
        raise EngineError(f"ffmpeg wrote {length:.1f} s of a {duration:.1f} s video; re-run with CS_DEBUG=1 to see the command")


def bandwidth(*paths: Path | None) -> float:
    """The highest frequency (Hz) any of the audio files PATHS can hold: half the lowest sample rate; 0 when
    one is unknown."""
    from . import ffmpeg

    rates = []
    for path in paths:
        if path is not None:
            audio = ffmpeg.stream(ffmpeg.probe(path), "audio") or {}
            rates.append(_seconds(audio.get("sample_rate")) or 0.0)
    return min(rates) / 2 if rates and min(rates) > 0 else 0.0
