"""cs-render's ffmpeg arguments: the picture track's segment encoder (media/track.py runs one producer per span
of frames, each encoding its own segment at YouTube's upload settings, the captions burned), the audio mix
(voice, music ducked under it, loudness gain, limiter) encoded once beside them, and the final mux that joins
the segments and the sound into one MP4 without re-encoding either.

Everything user-written (paths, caption text) stays out of the graph text: the captions file lies in the
per-run temp dir under a plain name, and what remains (the temp dir's own path) goes through `escape`;
file arguments go through `core.processes.safe_path`, so none can be read as an option.
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
class Plan:
    width: int
    height: int
    bounds: list[float]  # shot k spans bounds[k]..bounds[k+1]; bounds[0] == 0, bounds[-1] == duration
    voice: Path
    captions: Path | None = None  # burned by the track's producers (media/track.py `_burn`)
    music: Path | None = None
    gain_db: float = 0.0
    crossfade: float = 0.5
    still_size: tuple[int, int] = (0, 0)  # the prepared stills' size (larger than the frame: room to pan)
    work_dir: Path = Path(".")  # the per-run temp dir: prepared stills, the captions and the segments go here
    bandwidth: float = 0.0  # Hz: the highest frequency the voice and music can hold (half their sample rate)

    @property
    def duration(self) -> float:
        return self.bounds[-1]


def frames(seconds: float) -> int:
    return round(seconds * FPS)


def mix_tail(plan: Plan) -> str:
    """After the mix: loudness gain, limiter, 48 kHz stereo. The AAC encoder's priming samples play first (no
    edit list skips them): the mix starts that much later into itself, so what is heard at time t is the
    voice at time t."""
    return (f"volume={plan.gain_db:.2f}dB,alimiter=limit=0.89:level=0:attack=5:release=50,"
            f"aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo,"
            f"atrim=start_sample={AAC_PRIMING},asetpts=PTS-STARTPTS[aout]")


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
    from ..core.processes import safe_path

    args = ["-i", safe_path(plan.voice)]
    if plan.music:
        args += ["-stream_loop", "-1", "-i", safe_path(plan.music)]
    return args


# YouTube's "Recommended upload encoding settings" (YouTube Help, answer 1722171): H.264 High profile,
# progressive, 4:2:0, CABAC, 2 consecutive B-frames, a closed GOP of half the frame rate; AAC-LC at 48 kHz;
# MP4 with the moov atom first and no edit lists. bench/render.sh's floor re-encodes with these same
# arguments, so the ratio it prints compares like with like.
GOP = FPS // 2
AAC_PRIMING = 1024  # samples ffmpeg's AAC encoder puts before the first real one (its initial padding)


def encoder_args(encoder: str, threads: int = 0) -> list[str]:
    """The video encoder's arguments (for `encoder` libx264 or h264_nvenc) at YouTube's upload settings."""
    gop = ["-g", str(GOP), "-bf", "2", "-flags", "+cgop", "-profile:v", "high", "-coder", "cabac"]
    if encoder == "h264_nvenc":
        # no-scenecut: no extra I-frames at cuts (so every GOP is GOP frames); forced-idr: each key an IDR;
        # b_ref_mode disabled: B-frames are never references (NVENC's closed-GOP layout)
        return ["-c:v", "h264_nvenc", "-preset", "p4", "-rc", "vbr", "-cq", "23", "-b:v", "0", *gop,
                "-no-scenecut", "1", "-forced-idr", "1", "-b_ref_mode", "disabled"]
    # sc_threshold 0: no scene-cut keyframes between the fixed ones; open_gop is off by +cgop
    args = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", *gop, "-keyint_min", str(GOP),
            "-sc_threshold", "0"]
    return args + (["-threads", str(threads)] if threads else [])


VIDEO_TAGS = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
AAC_CUTOFF = 18000  # Hz: what ffmpeg's AAC encoder keeps at 192 kb/s stereo when not told


def segment_args(encoder: str, threads: int) -> list[str]:
    """The output options of one segment of the picture track (media/track.py): encoded at the upload
    settings into NUT, which keeps every timestamp exact for the mux."""
    return [*encoder_args(encoder, threads), "-pix_fmt", "yuv420p", *VIDEO_TAGS, "-f", "nut"]


def audio_codec_args(plan: Plan | None = None) -> list[str]:
    """AAC-LC at 48 kHz. The default two-loop coder, though `-aac_coder fast` takes half its CPU: the fast
    coder's narration transcribed worse (tiny.en WER 26% against under 25%). Its bands stop at the sources'
    own bandwidth: a 22.05 kHz TTS voice holds nothing above 11 kHz, and coding those empty bands was 40% of
    the encoder's time (2.5 s against 1.6 s a minute), for no sound."""
    args = ["-c:a", "aac", "-profile:a", "aac_low", "-ar", "48000", "-b:a", "192k"]
    if plan is not None and 0 < plan.bandwidth < AAC_CUTOFF:
        args += ["-cutoff", str(int(plan.bandwidth))]
    return args


# No edit lists: the video's B-frame delay is written as negative composition offsets instead (pts start at
# 0), and the AAC priming is taken out of the mix before the encoder (see `mix_tail`), so sound and picture
# stay in sync.
MP4_ARGS = ["-use_editlist", "0", "-movflags", "+faststart+negative_cts_offsets"]


def audio_args(plan: Plan, output: Path) -> list[str]:
    """ffmpeg arguments (without the binary) that mix and encode the sound into OUTPUT (NUT), once, while
    the picture's producers run."""
    from ..core.processes import safe_path

    return [*audio_inputs(plan), "-filter_complex", audio_graph(plan, mix_tail(plan)), "-map", "[aout]",
            *audio_codec_args(plan), "-f", "nut", safe_path(output)]


def mux_args(plan: Plan, segments: Path, audio: Path, output: Path) -> list[str]:
    """The final ffmpeg: the segments listed in SEGMENTS (an ffconcat file) and the encoded sound, copied
    into one MP4 with the moov atom first and no edit lists."""
    from ..core.processes import safe_path

    return ["-f", "concat", "-i", safe_path(segments), "-i", safe_path(audio), "-map", "0:v:0", "-map", "1:a:0",
            "-c", "copy", *VIDEO_TAGS, *MP4_ARGS, "-t", f"{plan.duration:.3f}", "-f", "mp4", safe_path(output)]


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
