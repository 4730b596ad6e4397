"""The one ffmpeg filter graph that turns prepared visuals, a voice and captions into a video.

Speed is in the shape of the graph (bench/render.sh measures it against a plain re-encode):
- Stills arrive as one-frame YUV4MPEG files already at the size and colours the encoder wants (made once by
  Pillow), so a still is decoded once and never converted: `loop` repeats the frame by reference and the
  Ken Burns move is a `crop` with a time expression, which moves plane pointers and copies nothing.
- Segments are laid out on two lanes with the same piece boundaries: lane A shows segment k, lane B the
  segment that comes next. One `blend` for the whole video crossfades B over A; it is enabled only inside
  the transition windows (elsewhere A's frame passes through untouched) and its opacity is driven by
  `sendcmd`. xfade would need one filter per cut, and in ffmpeg 5.1 it converts every frame to 4:4:4 and
  keeps a frame pool per instance, so time and memory grew with the number of segments.
- Each lane is a `concat` of per-piece chains that only pass references, so memory stays flat however
  long the video is.

Everything user-written (paths, caption text) stays out of the graph text: files are copied into the
per-run temp dir under plain names, and what remains (the temp dir's own path) goes through `escape`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

FPS = 30


def escape(value: str) -> str:
    """Quote VALUE for use as one filter option value inside a filtergraph string: first the option
    parser's level (`\\`, `'`, `:`), then the graph parser's (`\\ ' [ ] , ;`), per ffmpeg-filters(1),
    "Notes on filtergraph escaping"."""
    level1 = "".join("\\" + c if c in "\\':" else c for c in value)
    return "".join("\\" + c if c in "\\'[],;" else c for c in level1)


@dataclass
class Visual:
    """What one segment shows: a prepared still (`kind` "still", a .y4m a little larger than the frame, or
    "card", exactly frame-sized) or a library video clip (`kind` "clip", any format ffmpeg reads)."""

    kind: str
    path: Path
    pan: int = 0  # which Ken Burns direction a still takes (0-3)


@dataclass
class Plan:
    width: int
    height: int
    visuals: list[Visual]
    bounds: list[float]  # segment k spans bounds[k]..bounds[k+1]; bounds[0] == 0, bounds[-1] == duration
    voice: Path
    captions: Path | None = None
    music: Path | None = None
    gain_db: float = 0.0
    crossfade: float = 0.5
    still_size: tuple[int, int] = (0, 0)  # the prepared stills' size (larger than the frame: room to pan)
    work_dir: Path = Path(".")  # the per-run temp dir: concat scripts and the sendcmd script go here

    @property
    def duration(self) -> float:
        return self.bounds[-1]


def frames(seconds: float) -> int:
    return round(seconds * FPS)


def half_fade(plan: Plan) -> float:
    """Half the crossfade, shortened so no transition window covers more than a third of a segment."""
    shortest = min(b - a for a, b in zip(plan.bounds, plan.bounds[1:]))
    return max(0.0, min(plan.crossfade / 2, shortest / 3))


def pieces(plan: Plan) -> list[tuple[int, int]]:
    """Frame ranges [first, end) of the lane pieces: piece k runs from the end of the fade into segment k to
    the end of the fade out of it, so lane A's piece k is segment k and lane B's is segment k + 1."""
    h = half_fade(plan)
    n = len(plan.visuals)
    cuts = [0] + [frames(plan.bounds[k] + h) for k in range(1, n)] + [frames(plan.duration)]
    return list(zip(cuts, cuts[1:]))


def _visual_clock(plan: Plan, k: int) -> tuple[int, int]:
    """First frame and length of segment k's own clock (it starts at the fade into it and ends at the fade
    out of it), so the part lane B shows and the part lane A shows join without a jump."""
    h = half_fade(plan)
    start = frames(max(0.0, plan.bounds[k] - h))
    return start, max(1, frames(min(plan.duration, plan.bounds[k + 1] + h)) - start)


def _pan(plan: Plan, k: int) -> tuple[int, int, int, int]:
    """x0, x1, y0, y1 of segment k's crop window: stills pan corner to corner (the direction turns with
    the segment number), cards stay centred."""
    visual = plan.visuals[k]
    sw, sh = plan.still_size
    mx, my = sw - plan.width, sh - plan.height
    if visual.kind != "still":
        return mx // 2, mx // 2, my // 2, my // 2
    x0, x1 = (0, mx) if visual.pan in (0, 2) else (mx, 0)
    y0, y1 = (0, my) if visual.pan in (0, 3) else (my, 0)
    return x0, x1, y0, y1


def _run_chain(plan: Plan, name: str, run: list[tuple[int, int, int]]) -> str:
    """Consecutive stills and cards of one lane as ONE source: a concat-demuxer script of the one-frame
    Y4M files (opened one at a time, so memory does not grow with their number), each held for its
    piece by `fps` (which repeats a frame by reference), then one `crop` whose window follows each
    piece's pan (a flat sum of per-piece terms, evaluated once per frame)."""
    first = run[0][1]
    count = run[-1][2] - first
    lines = ["ffconcat version 1.0"]
    for k, start, end in run:
        lines += [f"file '{plan.visuals[k].path.name}'", f"duration {(end - start) / FPS:.6f}"]
    lines += [f"file '{plan.visuals[run[-1][0]].path.name}'", "duration 1"]  # so fps fills the last piece
    script = plan.work_dir / f"{name}.ffconcat"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    xs, ys = [], []
    for k, start, end in run:
        x0, x1, y0, y1 = _pan(plan, k)
        vstart, vlength = _visual_clock(plan, k)
        p = f"min(max((n+{first - vstart})/{vlength},0),1)"
        inside = f"between(n,{start - first},{end - first - 1})"
        xs.append(f"{inside}*({x0}+({x1 - x0})*{p})" if x0 != x1 else f"{inside}*{x0}")
        ys.append(f"{inside}*({y0}+({y1 - y0})*{p})" if y0 != y1 else f"{inside}*{y0}")
    return (
        f"movie={escape(str(script))}:f=concat,fps={FPS},trim=end_frame={count},settb=1/{FPS},setpts=N,"
        f"crop=w={plan.width}:h={plan.height}:x={escape('+'.join(xs))}:y={escape('+'.join(ys))},"
        "setsar=1,format=yuv420p"
    )


def _clip_chain(plan: Plan, k: int, first: int, end: int) -> str:
    """A library clip, looped to fill, scaled to cover the frame and centre-cropped; its clock starts at
    the fade into its segment, so lane B's head and lane A's body join without a jump."""
    start, _ = _visual_clock(plan, k)
    offset = max(0, first - start) / FPS
    w, h = plan.width, plan.height
    return (
        f"movie={escape(str(plan.visuals[k].path))}:loop=0,setpts=N/FRAME_RATE/TB,fps={FPS},"
        f"trim=start={offset:.4f},setpts=PTS-STARTPTS,trim=end_frame={end - first},"
        f"scale={w}:{h}:force_original_aspect_ratio=increase:out_color_matrix=bt709:out_range=tv,"
        f"crop={w}:{h},setsar=1,format=yuv420p,settb=1/{FPS},setpts=N"
    )


def _lane(plan: Plan, name: str, shift: int) -> str:
    """Lane NAME's chain ending in [NAME]: piece k shows segment k + SHIFT (the last segment when past it)."""
    n = len(plan.visuals)
    chains: list[str] = []
    run: list[tuple[int, int, int]] = []
    for k, (first, end) in enumerate(pieces(plan)):
        visual = min(k + shift, n - 1)
        if plan.visuals[visual].kind == "clip":
            if run:
                chains.append(_run_chain(plan, f"{name}{len(chains)}", run))
                run = []
            chains.append(_clip_chain(plan, visual, first, end))
        else:
            run.append((visual, first, end))
    if run:
        chains.append(_run_chain(plan, f"{name}{len(chains)}", run))
    if len(chains) == 1:
        return chains[0] + f"[{name}]"
    labels = [f"[{name}{i}]" for i in range(len(chains))]
    return ";".join(c + label for c, label in zip(chains, labels)) + ";" + "".join(labels) + \
        f"concat=n={len(chains)}:v=1:a=0[{name}]"


def filter_graph(plan: Plan) -> str:
    """The video half of the graph ([vout]) plus the audio half ([aout]); inputs 0 (voice) and, with
    music, 1 (music, looped by -stream_loop)."""
    n = len(plan.visuals)
    parts = [_lane(plan, "lanea", 0)]
    windows = []
    if n > 1 and half_fade(plan) > 0:
        h = half_fade(plan)
        windows = [(plan.bounds[k] - h, plan.bounds[k] + h) for k in range(1, n)]
    if windows:
        parts.append(_lane(plan, "laneb", 1))
        # the command interval is a little wider than the enable window, so the blend never sees a frame
        # outside it (where TI runs past 1); the clip keeps the opacity in 0..1 anyway
        pad = 0.5 / FPS
        lines = [f"{a - pad:.4f}-{b + pad:.4f} [expr] blend@xfade all_opacity 'clip(({b:.4f}-T)/{b - a:.4f},0,1)';"
                 for a, b in windows]
        commands = plan.work_dir / "fades.cmd"
        commands.write_text("\n".join(lines) + "\n", encoding="utf-8")
        enable = "+".join(f"between(t,{a:.4f},{b:.4f})" for a, b in windows)
        # sendcmd sits on the path into the blend so each frame's opacity is set before the blend sees it
        parts.append(f"[lanea]sendcmd=f={escape(str(commands))}[lanea2]")
        parts.append(f"[lanea2][laneb]blend@xfade=all_mode=normal:all_opacity=1:shortest=1:enable={escape(enable)}[mixed]")
    else:
        parts.append("[lanea]null[mixed]")
    return ";".join(parts + finish(plan, "[mixed]"))


def finish(plan: Plan, video: str) -> list[str]:
    """The end of every render graph: captions burned over VIDEO ([vout]) and the audio mix ([aout])."""
    parts = []
    if plan.captions:
        parts.append(f"{video}subtitles=filename={escape(str(plan.captions))}[subbed]")
        video = "[subbed]"
    parts.append(f"{video}fps={FPS},format=yuv420p[vout]")
    parts.append(audio_graph(plan, f"volume={plan.gain_db:.2f}dB,alimiter=limit=0.89:level=0:attack=5:release=50,"
                             "aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo[aout]"))
    return parts


def audio_graph(plan: Plan, tail: str) -> str:
    """Voice, with the music (if any) ducked under it by a sidechain compressor, then TAIL."""
    voice = "[0:a]aformat=sample_rates=48000:channel_layouts=stereo"
    if not plan.music:
        return f"{voice},{tail}"
    return (
        f"{voice},asplit=2[voice][key];"
        f"[1:a]aformat=sample_rates=48000:channel_layouts=stereo,volume=-10dB,"
        f"atrim=end={plan.duration:.3f}[bed];"
        "[bed][key]sidechaincompress=threshold=0.03:ratio=8:attack=20:release=400:makeup=1[ducked];"
        f"[voice][ducked]amix=inputs=2:duration=first:normalize=0,{tail}"
    )


def audio_inputs(plan: Plan) -> list[str]:
    args = ["-i", str(plan.voice)]
    if plan.music:
        args += ["-stream_loop", "-1", "-i", str(plan.music)]
    return args


def encoder_args(encoder: str, threads: int = 0) -> list[str]:
    if encoder == "h264_nvenc":
        return ["-c:v", "h264_nvenc", "-preset", "p4", "-rc", "vbr", "-cq", "23", "-b:v", "0"]
    args = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23"]
    return args + (["-threads", str(threads)] if threads else [])


def render_args(plan: Plan, output: Path, encoder: str = "libx264", threads: int = 0,
                picture: Sequence[str] = ()) -> list[str]:
    """ffmpeg arguments (without the binary) for the whole render. PICTURE: the input arguments of a
    ready-made picture track (media/track.py), which then replaces the lanes of `plan.visuals`."""
    inputs = audio_inputs(plan)
    graph = ";".join(finish(plan, f"[{inputs.count('-i')}:v]")) if picture else filter_graph(plan)
    return [
        *inputs, *picture,
        "-filter_complex", graph,
        "-map", "[vout]", "-map", "[aout]",
        *encoder_args(encoder, threads),
        "-pix_fmt", "yuv420p", "-r", str(FPS),
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-c:a", "aac", "-b:a", "192k",
        "-t", f"{plan.duration:.3f}",
        "-movflags", "+faststart",
        str(output),
    ]


def measure_args(plan: Plan, gain_db: float | None = None) -> list[str]:
    """An audio-only pass that prints the mix's EBU R128 summary (after GAIN_DB and the limiter if given)."""
    tail = "ebur128=framelog=verbose"
    if gain_db is not None:
        tail = f"volume={gain_db:.2f}dB,alimiter=limit=0.89:level=0:attack=5:release=50,{tail}"
    return [*audio_inputs(plan), "-filter_complex", audio_graph(plan, tail + "[m]"), "-map", "[m]", "-f", "null", "-"]


def parse_integrated(stderr: str) -> float | None:
    """The integrated loudness (LUFS) from ebur128's summary."""
    import re

    found = re.findall(r"I:\s+(-?[\d.]+|-inf) LUFS", stderr)
    if not found or found[-1] == "-inf":
        return None
    return float(found[-1])


def write_y4m(path: Path, planes: Sequence[bytes], width: int, height: int) -> None:
    """One 4:2:0 frame as YUV4MPEG2 (what `movie` decodes with no conversion)."""
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{FPS}:1 Ip A1:1 C420mpeg2 XYSCSS=420MPEG2\n".encode())
        out.write(b"FRAME\n")
        for plane in planes:
            out.write(plane)
