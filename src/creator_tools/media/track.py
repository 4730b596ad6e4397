"""cs-render's picture track: each shot of a record, fed to the final encode through one pipe.

Why not one graph with a `movie` source per clip: every
`movie` opens its demuxer, decoder (with its frame threads and reference frames) and scaler when the graph
starts and keeps them to the end, so memory grows with the number of clips (about 30-50 MB per 1080p
clip). Here a short-lived ffmpeg for a few shots at a time (a "producer", BATCH shots) decodes, loops, crops
and scales them, blends each crossfade into the next shot and burns the captions over its pieces; the
producers run one after another and write raw yuv420p frames into ONE pipe that the final ffmpeg reads as
a single video input, adding the audio mix and the encoder. At most one producer (BATCH single-threaded
decoders, plus the head of the next batch's first shot) is alive at a time, so memory stays flat with the
number of shots, and the producer decodes while the encoder encodes.

Every record is rendered through this track (a record without `visuals` gets one shot per script segment:
its --library match, else a title card drawn here), so shot timing, the pan and the crossfade exist once,
in `Track`. Shot k's own clock starts half a crossfade before its start; piece k is its frames from the end
of the fade into shot k to the end of the fade out of it, the last part of which (the window) is shot k+1
faded in over shot k.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.processes import safe_path
from .graph import FPS, escape, frames

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


BATCH = 3  # shots per producer: one ffmpeg start (~0.1 s CPU) for three shots, and each shot decoded once
# (the head that fades into the shot before comes from the same decoder as the rest of it). Every input of a
# producer is opened at its start, so memory grows with the batch, ~35 MB a 1080p input: a producer peaks at
# ~130 MB for one shot, ~210 MB for three, ~290 MB for five (bench/render.sh CLIPS=30: the process tree
# stays under 600 MB at three).


# Raw frames are 3 MB (1080x1920): above glibc's mmap threshold, so each packet the producer writes and the
# encoder reads would be a fresh mmap whose pages the kernel faults in and zeroes (~0.5 s of system time a
# minute on each side of the pipe). A higher threshold keeps them on the heap, reused.
FRAME_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


def _environment() -> dict[str, str]:
    from ..core import config

    return config.child_environment(FRAME_MALLOC)


def batches(track: Track) -> list[range]:
    """The shots each producer makes, in order."""
    count = len(track.shots)
    return [range(first, min(first + BATCH, count)) for first in range(0, count, BATCH)]


def _input(shot: Shot, frames_needed: int) -> list[str]:
    """The input arguments of SHOT, of which FRAMES_NEEDED frames of its clock are used, decoded on one
    thread (the encoder has the other cores; frame threads cost CPU and a frame pool each). A clip is looped
    at the input (shorter than its shot, it starts again, never freezes) and read for that long only, plus a
    second: with -frames:v on the output and the stall watchdog, no producer runs unbounded."""
    if shot.kind == "clip":
        seconds = frames_needed / FPS + 1.0
        return ["-threads", "1", "-stream_loop", "-1", "-an", "-sn", "-dn", "-t", f"{seconds:.3f}",
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


def producer_args(track: Track, shots: range, alone: bool = False) -> list[str]:
    """ffmpeg arguments (without the binary) that write the pieces of SHOTS (consecutive) as raw yuv420p to
    stdout, one after another. A shot after the first of the batch is decoded once and split: its head
    fades in over the piece before, the rest is its own piece. The last piece's fade takes the head of the
    next batch's first shot from an input of its own; ALONE leaves that fade out (only SHOTS' files are
    read: `_culprit` tries one file at a time)."""
    pieces = track.pieces()
    inputs: list[str] = []
    graph: list[str] = []
    for index, k in enumerate(shots):
        first, _, end = pieces[k]
        start = track.clock(k)
        inputs += _input(track.shots[k], end - start)
        head = first - start  # the frames of its clock that fade in over the piece before
        if k == shots.start or pieces[k - 1][1] >= pieces[k - 1][2]:  # first, or no fade into it
            graph.append(_chain(track, k, index, head, end - first) + f"[b{k}]")
        else:
            graph.append(_chain(track, k, index, 0, end - start) + f",split[h{k}][s{k}]")
            graph.append(f"[s{k}]trim=start_frame={head},setpts=N/{FPS}/TB[b{k}]")
    for k in shots:
        first, window, end = pieces[k]
        if window >= end or (alone and k + 1 not in shots):
            graph.append(f"[b{k}]null[p{k}]")
            continue
        fade = end - window
        if k + 1 in shots:
            head = f"[h{k + 1}]trim=end_frame={fade}"
        else:
            inputs += _input(track.shots[k + 1], fade)
            head = _chain(track, k + 1, len(shots), 0, fade)
        graph.append(f"{head},format=yuva420p,fade=t=in:s=0:n={fade}:alpha=1,"
                     f"setpts=PTS+{(window - first) / FPS:.6f}/TB[f{k}]")
        graph.append(f"[b{k}][f{k}]overlay=eof_action=pass:repeatlast=0:format=yuv420,format=yuv420p[p{k}]")
    labels = "".join(f"[p{k}]" for k in shots)
    joined = f"concat=n={len(shots)}:v=1:a=0" if len(shots) > 1 else "null"
    graph.append(f"{labels}{joined}{_burn(track, pieces[shots.start][0])}[v]")
    count = sum(pieces[k][2] - pieces[k][0] for k in shots)
    return [
        *inputs, "-filter_complex_threads", "1", "-filter_complex", ";".join(graph), "-map", "[v]",
        "-frames:v", str(count), "-f", "rawvideo", "-pix_fmt", "yuv420p", "pipe:1",
    ]


def _burn(track: Track, first: int) -> str:
    """The captions burned over a batch whose first frame is FIRST of the video: on its frames' times in the
    video, then its own clock again. They are burned here, not in the final ffmpeg, because there the blend
    runs on the one thread that also reads the pipe and encodes the audio, in series with x264's frames, while
    a producer has a core to spare between its decodes (a card's producer idles most of the time)."""
    if track.captions is None:
        return ""
    return (f",setpts=PTS+{first / FPS:.6f}/TB,subtitles=filename={escape(str(track.captions))},"
            "setpts=PTS-STARTPTS")


def input_args(track: Track) -> list[str]:
    """How the final ffmpeg reads the track from its stdin. A packet is a whole raw frame (3 MB at
    1080x1920): the input thread's queue is kept short, or it alone holds 200 MB at ffmpeg's 64."""
    return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-video_size", f"{track.width}x{track.height}",
            "-framerate", str(FPS), "-thread_queue_size", "4", "-i", "pipe:0"]


def _producer(track: Track, shots: range, alone: bool = False) -> list[str]:
    from . import ffmpeg

    # -progress on stderr: the watchdog sees each frame written (its lines are no error message)
    return [ffmpeg.binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:2",
            "-nostats", *producer_args(track, shots, alone)]


def feed(track: Track, write_fd: int, failures: list[str], encoder_gone=None) -> None:
    """Run the producers one after another into WRITE_FD (then close it). A producer that fails, or makes
    no progress for CS_FFMPEG_STALL seconds (a clip whose frames never decode spins forever), stops the
    feed and adds a line naming its shot to FAILURES (the final ffmpeg then sees the pipe end early). Once
    ENCODER_GONE (an Event) is set, a failing producer only lost its reader: it ends the feed, said nowhere."""
    from ..core import processes

    open_fd: list[int] = [write_fd]

    def close() -> None:
        while open_fd:
            os.close(open_fd.pop())

    try:
        for shots in batches(track):
            try:
                processes.run(_producer(track, shots), stdout=write_fd, stall=processes.stall_limit(),
                              env=_environment())
            except KeyboardInterrupt:
                failures.append("interrupted")
                return
            except processes.Failed as exc:
                if encoder_gone is not None and encoder_gone.is_set():
                    return
                failures.append("")  # a producer failed first: said before the encoder can see its input end
                close()  # the encoder ends now, not at its own (slower) watchdog while the culprit is found
                k, exc = _culprit(track, shots, exc)
                why = f"ffmpeg stopped: {exc.why}" if exc.why else "ffmpeg could not read it"
                failures[-1] = (f"{track.shots[k].label or track.shots[k].path}: {why} ({exc.last_line()}); "
                                "replace the file or run cs-visuals again")
                return
    finally:
        close()


def _culprit(track: Track, shots: range, failed) -> tuple[int, object]:
    """The shot of SHOTS whose file made a producer fail, and its own failure. A batch opens all its files
    at once, so its failure may be any of them: from the piece it stopped in on, each shot is made again
    alone (into /dev/null) until one fails. Only a failure pays for this."""
    from ..core import processes

    pieces = track.pieces()
    made, at = 0, shots.start
    for k in shots:  # the piece the batch stopped in
        made += pieces[k][2] - pieces[k][0]
        if made > failed.frames:
            at = k
            break
    if len(shots) == 1 and (shots.stop == len(track.shots) or pieces[shots.start][1] >= pieces[shots.start][2]):
        return shots.start, failed
    for k in range(at, min(shots.stop + 1, len(track.shots))):  # the next batch's first shot fades in too
        try:
            processes.run(_producer(track, range(k, k + 1), alone=True), stall=processes.stall_limit())
        except KeyboardInterrupt:
            raise
        except processes.Failed as exc:
            return k, exc
    return at, failed


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
            from ..errors import BadInput

            raise BadInput(f"{label}: {getattr(exc, 'message', exc)}") from None
    return Track(plan.width, plan.height, prepared, plan.bounds, plan.crossfade, plan.still_size, plan.captions)


def encode(plan, output: Path, encoder: str, threads: int, track: Track) -> None:
    """The final ffmpeg, reading TRACK's producers through one pipe."""
    import threading

    from ..core import processes
    from ..errors import EngineError
    from . import ffmpeg, graph

    read_fd, write_fd = os.pipe()
    _widen(write_fd, track.width * track.height * 3 // 2)
    failures: list[str] = []
    encoder_gone = threading.Event()
    feeder = threading.Thread(target=feed, args=(track, write_fd, failures, encoder_gone), name="cs-render-feed",
                              daemon=True)
    feeder.start()
    stopped, producer_first = None, False
    try:
        # the encoder waits on the producers: its watchdog is slower, so a stuck producer is the one named
        ffmpeg.run(graph.render_args(plan, output, encoder, threads, input_args(track)),
                   total_seconds=plan.duration, description="render", stdin=read_fd,
                   stall=2 * processes.stall_limit(), env=_environment())
    except EngineError as exc:
        # before read_fd closes, a producer can only have failed on its own: then it is the cause (the
        # encoder saw its input end); after, a producer fails only because its pipe closed
        stopped, producer_first = exc, bool(failures)
    finally:
        encoder_gone.set()
        os.close(read_fd)  # a producer still writing gets EPIPE and ends
        feeder.join()
    if stopped is not None and not producer_first:
        raise stopped
    if failures and failures[0] != "interrupted":
        raise EngineError(failures[0]) from None
    if stopped is not None:
        raise stopped


def _widen(fd: int, frame_bytes: int) -> None:
    """A bigger pipe buffer (Linux): fewer context switches between producer and encoder."""
    import fcntl

    try:
        fcntl.fcntl(fd, 1031, min(frame_bytes, 1 << 20))  # F_SETPIPE_SZ
    except OSError:
        pass
