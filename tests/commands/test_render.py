"""cs-render on small generated media: espeak-ng narration, Pillow stills, a testsrc2 clip and a tone bed,
all made in tmp_path. Each test drives the installed `cs-render` in a subprocess and checks the MP4 with
ffprobe/ffmpeg (streams, size, fps, duration, loudness, moov before mdat, the visuals used)."""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from media_fixtures import espeak_narration, word_error_rate

BIN = Path(sys.executable).parent
RENDER = str(BIN / "cs-render")

SEGMENTS = [
    {"text": "The sky looks blue on a clear day.", "visual": "blue sky over the hills", "on_screen": "Blue sky"},
    {"text": "Waves roll in from the ocean.", "visual": "ocean waves", "on_screen": "Waves"},
    {"text": "That is all for today.", "visual": "nothing in the library", "on_screen": "Thanks for watching"},
]
GAP_S = 0.6  # silence after each sentence: where the music bed must be heard


def _run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def _ffmpeg(*args):
    done = _run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args])
    assert done.returncode == 0, done.stderr


def _narration(folder: Path, segments: list[dict]) -> dict:
    """One WAV for all segments (each followed by a short silence) and the voice/captions keys for it."""
    return espeak_narration(folder, [segment["text"] for segment in segments], GAP_S)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A library (a sky still, an ocean clip, a music bed) and a three-segment record that uses it."""
    from PIL import Image, ImageDraw

    root = tmp_path_factory.mktemp("render-media")
    library = root / "library"
    (library / "music").mkdir(parents=True)
    still = Image.new("RGB", (1600, 1200), (230, 120, 20))  # orange: easy to find in a frame
    ImageDraw.Draw(still).ellipse((500, 300, 1100, 900), fill=(250, 200, 40))
    still.save(library / "sky.png")
    (library / "sky.png.txt").write_text("blue sky, hills\n")  # sidecar tags
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1.5", "-c:v", "libx264",
            "-pix_fmt", "yuv420p", str(library / "ocean-waves.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:duration=2", "-f", "lavfi", "-i",
            "sine=frequency=440:duration=2", "-filter_complex", "amix=inputs=2", str(library / "music" / "bed.wav"))
    record = {"id": "render-test", "format": "short",
              "script": {"title": "Sky", "language": "en", "segments": SEGMENTS, "cta": ""},
              **_narration(root, SEGMENTS)}
    return {"root": root, "library": library, "record": record}


def _render(record: dict, cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "CS_OUT_DIR": str(cwd / "out"), **(env or {})}
    return _run([RENDER, *args], input=json.dumps(record) + "\n", cwd=cwd, env=environment, timeout=240)


def _probe(path: str) -> dict:
    done = _run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _loudness(path: str, start: float | None = None, end: float | None = None) -> float:
    trim = [] if start is None else ["-ss", f"{start}", "-to", f"{end}"]
    done = _run(["ffmpeg", "-hide_banner", "-nostats", *trim, "-i", path, "-map", "0:a", "-af", "ebur128", "-f", "null", "-"])
    found = re.findall(r"I:\s+(-?[\d.]+|-inf) LUFS", done.stderr)
    return float("-inf") if not found or found[-1] == "-inf" else float(found[-1])


def _volume(path: str, start: float, end: float) -> float:
    done = _run(["ffmpeg", "-hide_banner", "-nostats", "-ss", f"{start}", "-to", f"{end}", "-i", path,
                 "-map", "0:a", "-af", "volumedetect", "-f", "null", "-"])
    found = re.findall(r"mean_volume: (-?[\d.]+|-inf) dB", done.stderr)
    return float("-inf") if not found or found[-1] == "-inf" else float(found[-1])


def _top_level_boxes(path: str) -> list[str]:
    boxes = []
    with open(path, "rb") as handle:
        while header := handle.read(8):
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", handle.read(8))[0] - 8
            boxes.append(kind.decode("latin-1"))
            handle.seek(size - 8, 1)
    return boxes


def _frame(path: str, at: float, size: tuple[int, int] = (54, 96)):
    """The frame at AT seconds, shrunk (a mean-colour thumbnail is enough to tell visuals apart)."""
    from PIL import Image

    done = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-ss", f"{at}", "-i", path, "-frames:v", "1",
                           "-vf", f"scale={size[0]}:{size[1]}", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                          capture_output=True)
    assert done.returncode == 0 and done.stdout, done.stderr
    return Image.frombytes("RGB", size, done.stdout)


def _mean(image) -> tuple[float, float, float]:
    from PIL import ImageStat

    return tuple(ImageStat.Stat(image).mean)


@pytest.fixture(scope="module")
def rendered(media, tmp_path_factory):
    """The three-segment short rendered with the library and music (shared by the checks below)."""
    cwd = tmp_path_factory.mktemp("render-run")
    done = _render(media["record"], cwd, "--library", str(media["library"]), "--music",
                   str(media["library"] / "music" / "bed.wav"))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    return {"record": out, "video": out["video"], "cwd": cwd}


def test_video_streams_size_fps_duration_and_record(rendered, media):
    video = rendered["video"]
    info = _probe(video["path"])
    streams = {s["codec_type"]: s for s in info["streams"]}
    assert streams["video"]["codec_name"] == "h264" and streams["audio"]["codec_name"] == "aac"
    assert (streams["video"]["width"], streams["video"]["height"]) == (1080, 1920)
    assert streams["video"]["avg_frame_rate"] == "30/1"
    assert streams["video"]["pix_fmt"] == "yuv420p" and streams["video"].get("color_space") == "bt709"
    voice_s = media["record"]["voice"]["duration_s"]
    assert abs(float(info["format"]["duration"]) - voice_s) <= 0.3
    assert abs(video["duration_s"] - voice_s) <= 0.3
    assert video["width"] == 1080 and video["height"] == 1920 and video["fps"] == 30
    assert video["size_bytes"] == Path(video["path"]).stat().st_size
    import hashlib

    assert video["sha256"] == hashlib.sha256(Path(video["path"]).read_bytes()).hexdigest()
    assert rendered["record"]["script"] == media["record"]["script"]  # other keys pass through


def test_loudness_is_minus_14_lufs_and_moov_comes_first(rendered):
    path = rendered["video"]["path"]
    assert abs(_loudness(path) - -14.0) <= 1.0
    boxes = _top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat"), boxes


CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta", b"mvex"}


def _box_tree(data: bytes, start: int = 0, end: int | None = None, parents: tuple = ()) -> list[tuple]:
    """Every MP4 box in DATA[start:end] as (path of box types, offset, payload), containers opened."""
    found, at, end = [], start, len(data) if end is None else end
    while at + 8 <= end:
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[at + 8:at + 16])[0], 16
        elif size == 0:
            size = end - at
        path = parents + (kind.decode("latin-1"),)
        found.append((path, at, data[at + header:at + size]))
        if kind in CONTAINERS:
            found += _box_tree(data, at + header, at + size, path)
        at += size
    return found


def _golomb(bits: str, at: int) -> tuple[int, int]:
    zeros = 0
    while bits[at + zeros] == "0":
        zeros += 1
    value = int(bits[at + zeros:at + 2 * zeros + 1], 2) - 1
    return value, at + 2 * zeros + 1


def _avc_config(moov: bytes) -> tuple[int, bool]:
    """(profile_idc, CABAC on) from the avcC box: the SPS's second byte, and the PPS's entropy_coding_mode_flag
    (after its pps_id and sps_id, both Exp-Golomb)."""
    at = moov.index(b"avcC") + 4
    profile = moov[at + 1]
    sps_count, at = moov[at + 5] & 0x1F, at + 6
    for _ in range(sps_count):
        at += 2 + struct.unpack(">H", moov[at:at + 2])[0]
    at += 1  # the PPS count
    length = struct.unpack(">H", moov[at:at + 2])[0]
    pps = moov[at + 2 + 1:at + 2 + length]  # without the NAL header byte
    bits = "".join(f"{byte:08b}" for byte in pps)
    _, pos = _golomb(bits, 0)
    _, pos = _golomb(bits, pos)
    return profile, bits[pos] == "1"


def test_the_file_meets_youtubes_recommended_upload_settings(rendered):
    """Issue 16 item 4 (YouTube Help 1722171): moov first and no edit list in any track, H.264 High, CABAC,
    progressive 4:2:0 with BT.709 tags, 2 consecutive B-frames, a closed GOP of half the frame rate, AAC-LC
    48 kHz; picture and sound both start at 0 (the AAC priming is taken out of the mix, not cut by a list)."""
    path = rendered["video"]["path"]
    boxes = _box_tree(Path(path).read_bytes())
    top = [p[0] for p, _, _ in boxes if len(p) == 1]
    assert top.index("moov") < top.index("mdat"), top
    assert not [p for p, _, _ in boxes if p[-1] in ("elst", "edts")], "an edit list is in the file"
    assert len([p for p, _, _ in boxes if p == ("moov", "trak")]) == 2
    moov = next(payload for p, _, payload in boxes if p == ("moov",))
    profile, cabac = _avc_config(moov)
    assert profile == 100 and cabac, (profile, cabac)
    info = _probe(path)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert video["profile"] == "High" and video["pix_fmt"] == "yuv420p" and video["field_order"] == "progressive"
    assert (video["color_primaries"], video["color_transfer"], video["color_space"]) == ("bt709",) * 3
    assert float(video["start_time"]) == 0 and float(audio["start_time"]) == 0
    assert (audio["codec_name"], audio["profile"], audio["sample_rate"]) == ("aac", "LC", "48000")
    done = _run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=pict_type,key_frame",
                 "-of", "csv=p=0", path])
    frames = [line.split(",")[:2] for line in done.stdout.split()]
    keys = [i for i, (key, _) in enumerate(frames) if key == "1"]
    assert keys == list(range(0, len(frames), 15)), keys  # a GOP of 15 frames at 30 fps, no extra keys
    assert all(frames[i][1] == "I" for i in keys)
    runs = "".join(kind for _, kind in frames).replace("I", " ").replace("P", " ").split()
    assert runs and max(len(run) for run in runs) == 2, runs  # 2 consecutive B-frames at most, and used
    # a closed GOP: no frame after a key frame refers across it (x264: every key frame is an IDR)
    done = _run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_packets", "-show_entries",
                 "packet=pts,dts,flags", "-of", "csv=p=0", path])
    packets = [line.split(",") for line in done.stdout.split()]
    for index, (pts, _dts, flags) in enumerate(packets):
        if "K" in flags and index:
            assert all(int(p[0]) > int(pts) for p in packets[index + 1:index + 15]), "an open GOP"


def test_the_nvenc_arguments_ask_for_the_same_settings_and_this_ffmpeg_takes_them():
    """No GPU here: the h264_nvenc argv is held to the same settings, and ffmpeg parses every option of it
    (it may then fail only for want of CUDA)."""
    from creator_tools.media.graph import MP4_ARGS, audio_codec_args, encoder_args

    args = encoder_args("h264_nvenc")
    pairs = dict(zip(args[::2], args[1::2]))
    assert pairs["-c:v"] == "h264_nvenc" and pairs["-bf"] == "2" and pairs["-g"] == "15"
    assert pairs["-profile:v"] == "high" and pairs["-coder"] == "cabac" and pairs["-flags"] == "+cgop"
    assert pairs["-no-scenecut"] == "1" and pairs["-forced-idr"] == "1"
    container = dict(zip((MP4_ARGS + audio_codec_args())[::2], (MP4_ARGS + audio_codec_args())[1::2]))
    assert container["-use_editlist"] == "0" and "+faststart" in container["-movflags"]
    assert container["-ar"] == "48000" and container["-profile:a"] == "aac_low"
    done = _run(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning", "-f", "lavfi", "-i",
                 "color=s=256x256:d=0.2", *args, "-f", "null", "-"])
    assert "Unrecognized option" not in done.stderr and "Error setting option" not in done.stderr, done.stderr
    assert "Unable to parse" not in done.stderr, done.stderr


def test_library_still_and_clip_are_used_and_a_card_fills_the_rest(rendered, media):
    path = rendered["video"]["path"]
    spans = media["record"]["voice"]["segments"]
    middle = [(s["start"] + s["end"]) / 2 for s in spans]
    # segment 0 ("blue sky"): the orange still, matched through its sidecar tags
    _assert_colour(_frame(path, middle[0]), (230, 120, 20), tolerance=45)  # the still has a yellow disc
    # segment 1 ("ocean waves"): the testsrc2 clip, matched by file name: it moves from frame to frame
    from PIL import ImageChops

    a, b = _frame(path, middle[1] - 0.2), _frame(path, middle[1] + 0.2)
    moved = _mean(ImageChops.difference(a, b))
    assert min(moved) > 2, moved  # every channel changes, not just the first one a tuple comparison looks at
    # segment 2 (nothing matches): a dark title card, not the still
    red2, green2, blue2 = _mean(_frame(path, middle[2]))
    assert red2 < 120, (red2, green2, blue2)


def test_music_is_ducked_under_the_voice_and_heard_in_the_pauses(rendered, media, tmp_path):
    with_music = rendered["video"]["path"]
    done = _render(media["record"], tmp_path, "--preset", "square")
    assert done.returncode == 0, done.stderr
    without = json.loads(done.stdout)["video"]["path"]
    first = media["record"]["voice"]["segments"][0]
    pause = (first["end"] + 0.1, first["end"] + GAP_S - 0.1)
    # in the pause the bed is audible with music and near silence without
    assert _volume(with_music, *pause) > _volume(without, *pause) + 15
    # under speech the bed is ducked: the speech part is much louder than the bed alone
    assert _volume(with_music, first["start"] + 0.2, first["end"] - 0.2) > _volume(with_music, *pause) + 3


FILTER_BREAKERS = "It's \"50%\" [done]; a:b, c\\d {x} 100% — ok"


def test_punctuation_and_non_latin_text_render(media, tmp_path):
    """On-screen text and caption words full of filter-graph syntax and in CJK, Arabic and Devanagari; the
    temp dir and the output dir have such characters in their paths too."""
    segments = [
        {"text": "Quotes, colons and brackets.", "visual": "", "on_screen": FILTER_BREAKERS},
        {"text": "Chinese text.", "visual": "", "on_screen": "天空为什么是蓝色的？"},
        {"text": "Arabic text.", "visual": "", "on_screen": "لماذا السماء زرقاء؟"},
        {"text": "Hindi text.", "visual": "", "on_screen": "आसमान नीला क्यों है?"},
    ]
    record = {"id": "punct", "format": "short", "script": {"title": "t", "language": "en", "segments": segments, "cta": ""},
              **_narration(tmp_path, segments)}
    odd = ["It's", '"50%"', "[done];", "a:b,", "c\\d", "{x}", "天空", "السماء", "आसमान", "100%"]
    for word, odd_word in zip(record["captions"]["words"], odd):
        word["word"] = odd_word
    weird = tmp_path / "tmp 'dir' [x];%:,"
    weird.mkdir()
    done = _render(record, tmp_path, "--preset", "square", env={"TMPDIR": str(weird)})
    assert done.returncode == 0, done.stderr
    video = json.loads(done.stdout)["video"]
    assert (video["width"], video["height"]) == (1080, 1080)
    spans = record["voice"]["segments"]
    for span in spans:  # every card carries visible text: bright pixels on the dark background
        frame = _frame(video["path"], (span["start"] + span["end"]) / 2, (108, 108)).convert("L")
        assert frame.getextrema()[1] > 200
    assert list(weird.iterdir()) == []  # the per-run temp dir was removed


def test_killed_render_leaves_no_file_at_the_final_path(media, tmp_path):
    record = {**media["record"], "id": "killed"}
    environment = {**os.environ, "CS_OUT_DIR": str(tmp_path / "out")}
    process = subprocess.Popen([RENDER, "--preset", "landscape"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=tmp_path, env=environment, text=True)
    process.stdin.write(json.dumps(record) + "\n")
    process.stdin.close()
    folder = tmp_path / "out" / "video"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (folder.is_dir() and any(folder.glob("*.part.mp4"))):
        time.sleep(0.05)
    assert any(folder.glob("*.part.mp4")), "the encode never started"
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert process.returncode != 0
    assert list(folder.iterdir()) == []  # neither a final file nor a partial one
    assert process.stdout.read() == ""


def test_missing_captions_says_run_cs_caption_first(media, tmp_path):
    record = {k: v for k, v in media["record"].items() if k != "captions"}
    done = _render(record, tmp_path)
    assert done.returncode == 1
    assert "cs-render: error:" in done.stderr and "run cs-caption first" in done.stderr
    record = {k: v for k, v in media["record"].items() if k != "voice"}
    done = _render(record, tmp_path)
    assert done.returncode == 1 and "run cs-voice first" in done.stderr


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys; from creator_tools.commands import render; "
            "heavy = [m for m in ('PIL', 'numpy', 'faster_whisper', 'rich') if m in sys.modules]; print(heavy)")
    done = _run([sys.executable, "-c", code])
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    done = _run([RENDER, "--help"])
    assert done.returncode == 0 and "Example:" in done.stdout and "video" in done.stdout


@pytest.mark.slow
def test_transcribing_the_rendered_video_gives_the_script(rendered, media, tmp_path):
    """cs-caption (faster-whisper tiny.en) on the rendered MP4, not the narration WAV: WER <= 25%."""
    record = {"id": "wer", "media": rendered["video"]["path"]}
    done = _run([str(BIN / "cs-caption"), "--no-script", "--language", "en"], input=json.dumps(record) + "\n",
                cwd=tmp_path, env={**os.environ, "CS_OUT_DIR": str(tmp_path / "out")}, timeout=300)
    assert done.returncode == 0, done.stderr
    heard = [re.sub(r"[^\w']", "", w["word"].lower()) for w in json.loads(done.stdout)["captions"]["words"]]
    said = [re.sub(r"[^\w']", "", w.lower()) for s in SEGMENTS for w in s["text"].split()]
    assert word_error_rate(said, [w for w in heard if w]) <= 0.25, heard




# --- records with a `visuals` shot list (cs-visuals' output) -----------------------------------------------

def _assert_colour(image, expected: tuple[int, int, int], tolerance: float = 30) -> None:
    """Every channel of IMAGE's mean colour within TOLERANCE of EXPECTED."""
    mean = _mean(image)
    assert all(abs(m - e) <= tolerance for m, e in zip(mean, expected)), (mean, expected)


SHOT_COLOURS = {"red": (220, 20, 30), "green": (30, 170, 60), "orange": (240, 140, 20), "blue": (30, 50, 200),
                "purple": (140, 40, 160)}


def _clip(path: Path, colour: tuple[int, int, int], size: str, seconds: float, rate: int = 25) -> Path:
    """A solid-colour H.264 clip with a small white square moving across it (so frames differ in time)."""
    hexa = "0x%02x%02x%02x" % colour
    _ffmpeg("-f", "lavfi", "-i", f"color=c={hexa}:s={size}:r={rate}:d={seconds}", "-f", "lavfi", "-i",
            f"color=c=white:s=16x16:r={rate}", "-filter_complex", "[0][1]overlay=x='mod(n*7,W-w)':y=10:shortest=1",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path))
    return path


@pytest.fixture(scope="module")
def shot_media(tmp_path_factory):
    """A record whose `visuals` are a portrait clip, a still, a card, a landscape clip and a 1-second clip
    held for a longer shot (it must loop), each of its own colour."""
    from PIL import Image, ImageDraw

    root = tmp_path_factory.mktemp("render-shots")
    segments = [{"text": "Red clips and orange stills come first.", "visual": "", "on_screen": ""},
                {"text": "Then a blue card and a green clip.", "visual": "", "on_screen": ""},
                {"text": "A purple clip ends the short.", "visual": "", "on_screen": ""}]
    keys = _narration(root, segments)
    duration = keys["voice"]["duration_s"]
    Image.new("RGB", (800, 600), SHOT_COLOURS["orange"]).save(root / "still.jpg")
    card = Image.new("RGB", (1080, 1920), SHOT_COLOURS["blue"])
    ImageDraw.Draw(card).rectangle((400, 900, 680, 1000), fill=(255, 255, 255))
    card.save(root / "card.png")
    assets = [("clip", _clip(root / "red clip [1].mp4", SHOT_COLOURS["red"], "360x640", 4)),
              ("still", root / "still.jpg"), ("card", root / "card.png"),
              ("clip", _clip(root / "green.mp4", SHOT_COLOURS["green"], "640x360", 4, rate=30)),
              ("clip", _clip(root / "purple.mp4", SHOT_COLOURS["purple"], "360x640", 1.0))]
    step = duration / (len(assets) + 1)  # the last (looped) shot is twice as long as the others
    starts = [round(step * k, 3) for k in range(len(assets))]
    visuals = [{"start": start, "end": round(starts[k + 1] if k + 1 < len(starts) else duration, 3),
                "text": "", "query": "", "kind": kind, "path": str(path), "provider": "test", "asset_id": f"test:{k}",
                "url": "", "author": "", "license": "", "synthetic": False}
               for k, (start, (kind, path)) in enumerate(zip(starts, assets))]
    record = {"id": "shots", "format": "short",
              "script": {"title": "Shots", "language": "en", "segments": segments, "cta": ""}, **keys,
              "visuals": visuals}
    return {"root": root, "record": record,
            "expected": ["red", "orange", "blue", "green", "purple"]}


@pytest.fixture(scope="module")
def shots_rendered(shot_media, tmp_path_factory):
    cwd = tmp_path_factory.mktemp("render-shots-run")
    done = _render(shot_media["record"], cwd)
    assert done.returncode == 0, done.stderr
    return {"record": json.loads(done.stdout), "cwd": cwd}


@pytest.mark.slow
def test_each_shot_shows_its_asset_from_its_start_to_its_end(shots_rendered, shot_media):
    video = shots_rendered["record"]["video"]
    voice_s = shot_media["record"]["voice"]["duration_s"]
    assert abs(video["duration_s"] - voice_s) <= 0.15, (video["duration_s"], voice_s)
    assert (video["width"], video["height"], video["fps"]) == (1080, 1920, 30)
    assert video["cards"] == 1
    for shot, name in zip(shot_media["record"]["visuals"], shot_media["expected"]):
        middle = (shot["start"] + shot["end"]) / 2
        _assert_colour(_frame(video["path"], middle), SHOT_COLOURS[name])


@pytest.mark.slow
def test_a_clip_shorter_than_its_shot_loops_instead_of_freezing(shots_rendered, shot_media):
    """The last shot holds a 1-second clip for about three seconds: its last frames still move."""
    from PIL import ImageChops

    path = shots_rendered["record"]["video"]["path"]
    end = shot_media["record"]["visuals"][-1]["end"]
    a, b = _frame(path, end - 0.5, (270, 480)), _frame(path, end - 0.3, (270, 480))
    assert ImageChops.difference(a, b).getbbox() is not None, "the clip froze on its last frame"
    _assert_colour(b, SHOT_COLOURS["purple"])


@pytest.mark.slow
def test_changing_the_shots_redoes_the_video_and_same_shots_skip(shots_rendered, shot_media):
    cwd = shots_rendered["cwd"]
    again = _render(shots_rendered["record"], cwd)
    assert again.returncode == 0 and json.loads(again.stdout)["video"] == shots_rendered["record"]["video"]
    changed = json.loads(json.dumps(shots_rendered["record"]))
    changed["visuals"][0]["path"] = shot_media["record"]["visuals"][3]["path"]  # green where red was
    done = _render(changed, cwd)
    assert done.returncode == 0, done.stderr
    video = json.loads(done.stdout)["video"]
    assert video["path"] != shots_rendered["record"]["video"]["path"]
    first = shot_media["record"]["visuals"][0]
    _assert_colour(_frame(video["path"], (first["start"] + first["end"]) / 2), SHOT_COLOURS["green"])


def test_a_missing_shot_file_names_its_key(shot_media, tmp_path):
    record = json.loads(json.dumps(shot_media["record"]))
    record["visuals"][2]["path"] = str(tmp_path / "gone.png")
    done = _render(record, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "visuals[2].path" in done.stderr and "gone.png" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "video").exists() or list((tmp_path / "out" / "video").iterdir()) == []


def _tiny_record(folder: Path, record_id: str) -> dict:
    """A short one-sentence record with one green clip shot (cheap to render at the square preset)."""
    segments = [{"text": "Short.", "visual": "", "on_screen": ""}]
    keys = _narration(folder, segments)
    clip = _clip(folder / "tiny.mp4", SHOT_COLOURS["green"], "320x320", 1)
    visuals = [{"start": 0, "end": keys["voice"]["duration_s"], "kind": "clip", "path": str(clip), "text": "",
                "query": "", "provider": "test", "asset_id": "t", "url": "", "author": "", "license": "", "synthetic": False}]
    return {"id": record_id, "format": "short", "script": {"title": "t", "language": "en", "segments": segments, "cta": ""},
            **keys, "visuals": visuals}


def test_a_truncated_clip_shot_ends_with_one_clear_line_instead_of_spinning(tmp_path):
    """Issue 14 item 5: a clip whose moov says 6 s but whose frames never decode spun the shot's ffmpeg at
    100% CPU forever. The watchdog (CS_FFMPEG_STALL) stops it and the error names the shot."""
    from media_fixtures import truncated_mp4

    record = _tiny_record(tmp_path, "truncated")
    record["visuals"][0]["path"] = str(truncated_mp4(tmp_path))
    started = time.monotonic()
    # 5 s: short, yet long enough that the loudness pass of a loaded 2-core machine is never taken for stuck
    done = _render(record, tmp_path, "--preset", "square", env={"CS_FFMPEG_STALL": "5"})
    assert time.monotonic() - started < 90
    assert done.returncode == 1 and done.stdout == "", done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "visuals[0].path" in line and "no progress for 5 s" in line, line
    assert not list((tmp_path / "out" / "video").glob("*.mp4"))


@pytest.mark.slow
def test_a_broken_clip_among_the_shots_of_one_producer_is_the_one_named(shot_media, tmp_path):
    """Five shots share one producer (track.BATCH), which opens all their files at once: when it fails, the
    error still names the shot whose file broke it, not the first of the batch."""
    from media_fixtures import truncated_mp4

    record = json.loads(json.dumps(shot_media["record"]))
    record["visuals"][3]["path"] = str(truncated_mp4(tmp_path))
    done = _render(record, tmp_path, "--preset", "square", env={"CS_FFMPEG_STALL": "5"})
    assert done.returncode == 1 and done.stdout == "", done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "visuals[3].path" in line and "replace the file or run cs-visuals again" in line, line
    assert not list((tmp_path / "out" / "video").glob("*.mp4"))


@pytest.mark.parametrize("stated", [1e9, None, 0.2])
def test_voice_duration_is_measured_not_trusted(tmp_path, stated):
    """Issue 10 item 9: a plausible but wrong duration (1e9 once rendered until killed) renders the length the
    voice file really has."""
    record = _tiny_record(tmp_path, "lies")
    measured = record["voice"]["duration_s"]
    record["voice"]["duration_s"] = stated
    done = _render(record, tmp_path, "--preset", "square")
    assert done.returncode == 0, done.stderr
    video = json.loads(done.stdout)["video"]
    assert abs(video["duration_s"] - measured) <= 0.15, (video["duration_s"], measured)


@pytest.mark.parametrize("stated", [-5, float("nan"), "abc"])
def test_a_voice_duration_that_is_no_length_is_one_line_naming_the_key(tmp_path, stated):
    """-5 once gave an opaque ffmpeg error: a value that cannot be a length is a record error naming the key."""
    record = _tiny_record(tmp_path, "lies")
    record["voice"]["duration_s"] = stated
    done = _render(record, tmp_path, "--preset", "square")
    assert done.returncode == 1 and done.stdout == "", done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("cs-render: error: <stdin>:1:") and "voice.duration_s" in line, line


def test_a_voice_file_without_audio_is_an_error_not_a_silent_video(tmp_path):
    record = _tiny_record(tmp_path, "silent")
    stub = tmp_path / "stub.wav"  # a 100-byte WAV: a header and a few samples, with a stale duration
    stub.write_bytes(Path(record["voice"]["path"]).read_bytes()[:100])
    record["voice"]["path"] = str(stub)
    done = _render(record, tmp_path, "--preset", "square")
    assert done.returncode == 1 and "voice.path" in done.stderr and "no audio" in done.stderr, done.stderr
    record["voice"]["path"] = record["visuals"][0]["path"]  # a video with no sound track
    done = _render(record, tmp_path, "--preset", "square")
    assert done.returncode == 1 and "has no audio stream" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status and "Name:\tffmpeg" in status:
                found.append(int(entry.name))
    return found


def _encoders(pid: int) -> list[int]:
    """The ffmpeg children of PID encoding the picture (a producer writing its segment), not the sound's."""
    found = []
    for child in _children(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"libx264" in argv:
            found.append(child)
    return found


@pytest.mark.slow
def test_sigterm_with_two_jobs_stops_both_ffmpeg_children(shot_media, tmp_path):
    records = [{**shot_media["record"], "id": f"term{n}"} for n in range(2)]
    environment = {**os.environ, "CS_OUT_DIR": str(tmp_path / "out")}
    process = subprocess.Popen([RENDER, "-j", "2", "--preset", "landscape"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=environment, text=True)
    process.stdin.write("".join(json.dumps(r) + "\n" for r in records))
    process.stdin.close()
    folder = tmp_path / "out" / "video"
    # A part file is made before its encoders start, so the wait is for two picture encoders running at
    # once (counting files alone once sampled one job between its mkstemp and its spawn).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_encoders(process.pid)) < 2:
        time.sleep(0.05)
    assert len(_encoders(process.pid)) == 2, "the two encodes never ran together"
    children = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert process.returncode == 130, process.stderr.read()
    # No partial file anywhere; a video that finished its encode just before the signal may stand at its
    # final name (it was renamed whole), and then it must be the complete video, not a cut one.
    left = list(folder.iterdir())
    assert not [p for p in left if ".part" in p.name or p.name.startswith(".")], left
    for finished in left:
        seconds = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                  str(finished)], capture_output=True, text=True).stdout.strip()
        assert seconds and abs(float(seconds) - shot_media["record"]["voice"]["duration_s"]) < 0.5, (finished, seconds)
    time.sleep(0.5)
    assert [pid for pid in children if Path(f"/proc/{pid}").exists()] == []
    assert process.stdout.read() == ""


def test_emoji_on_a_title_card_are_drawn_in_colour(tmp_path):
    """Issue 10 item 15: an emoji in `on_screen` is the Noto colour glyph (red apples), not an empty box."""
    segments = [{"text": "Apples.", "visual": "", "on_screen": "🍎🍎🍎"}]
    record = {"id": "emoji", "format": "short", "script": {"title": "t", "language": "en", "segments": segments, "cta": ""},
              **_narration(tmp_path, segments)}
    record["captions"]["words"] = []
    done = _render(record, tmp_path, "--preset", "square")
    assert done.returncode == 0, done.stderr
    video = json.loads(done.stdout)["video"]
    frame = _frame(video["path"], video["duration_s"] / 2, (216, 216))
    pixels = frame.tobytes()
    red = sum(1 for i in range(0, len(pixels), 3) if pixels[i] > 170 and pixels[i + 1] < 90 and pixels[i + 2] < 90)
    assert red > 150, red  # the gradient background has no such pixel; a box or a grey glyph neither


def test_emoji_in_burned_captions_are_glyphs_not_empty_boxes(tmp_path):
    """Issue 10 item 15, the caption half: libass cannot draw the colour bitmap emoji font, so fontconfig must
    find an outline emoji font (Debian's fonts-symbola, from requirements-apt.txt). A drawn rocket differs from
    the empty box libass draws for a code point no font has."""
    from PIL import Image, ImageChops

    from creator_tools.media.subtitles import write_ass

    def burned(text: str) -> Image.Image:
        ass, png = tmp_path / f"{ord(text[0]):x}.ass", tmp_path / f"{ord(text[0]):x}.png"
        write_ass([{"word": text, "start": 0.0, "end": 1.0}], ass, 320, 240)
        done = subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=black:s=320x240:d=0.5",
                               "-vf", f"subtitles={ass}", "-frames:v", "1", str(png)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return Image.open(png).convert("L")

    rocket, coffee, missing = burned("🚀"), burned("☕"), burned("\U0010fffd")
    assert ImageChops.difference(rocket, missing).getbbox() is not None  # not the empty box
    assert ImageChops.difference(coffee, missing).getbbox() is not None
    assert rocket.getbbox() is not None  # something was drawn at all


def test_a_record_without_format_gets_one_frame_from_every_command():
    """Issue 13 item 5: with no `format`, cs-caption sized its ASS for landscape and cs-render rendered
    portrait. media/frames.py is the one rule: a 1080x1920 Short unless `format: long`."""
    from creator_tools.commands import caption, render
    from creator_tools.media.frames import size_for

    stage = render.Render("auto", None, None, "libx264", 0, 0.5)
    for record, expected in (({}, (1080, 1920)), ({"format": "short"}, (1080, 1920)), ({"format": "long"}, (1920, 1080))):
        assert caption.frame_size(record, None) == stage.size(record) == size_for(record) == expected, record


def test_short_shots_whose_crossfades_cross_a_segment_join_fade_smoothly(tmp_path):
    """The picture is encoded span by span (track.spans: BATCH shots, each span starting on the 15-frame GOP
    grid), so with shots a third of a second long a join falls inside a crossfade. Every frame is still a
    blend of the red and blue shots (none black, none missing), the video has all its frames, and its key
    frames stay every 15 frames across the joins."""
    from creator_tools.media import track

    segments = [{"text": "Red and blue take turns.", "visual": "", "on_screen": ""},
                {"text": "Each one lasts a moment.", "visual": "", "on_screen": ""}]
    keys = _narration(tmp_path, segments)
    duration = keys["voice"]["duration_s"]
    colours = [SHOT_COLOURS["red"], SHOT_COLOURS["blue"]]
    clips = [_clip(tmp_path / f"c{n}.mp4", colour, "320x320", 1) for n, colour in enumerate(colours)]
    count = int(duration * 3)  # shots of 10 frames: the join after shot 5's start (frame 60) is inside its fade
    starts = [round(k / 3, 3) for k in range(count)] + [duration]
    shots = [track.Shot("clip", clips[k % 2]) for k in range(count)]
    planned = track.Track(320, 320, shots, starts[:1] + starts[1:-1] + [duration])
    assert count > track.BATCH + 1 and any(window < first < end for first, _ in track.spans(planned)[1:]
                                           for _, window, end in planned.pieces())
    visuals = [{"start": starts[k], "end": starts[k + 1], "kind": "clip", "path": str(clips[k % 2]),
                "text": "", "query": "", "provider": "test", "asset_id": f"t{k}", "url": "", "author": "",
                "license": "", "synthetic": False} for k in range(count)]
    record = {"id": "joins", "format": "short", "script": {"title": "t", "language": "en", "segments": segments, "cta": ""},
              **keys, "visuals": visuals}
    done = _render(record, tmp_path, "--preset", "square")
    assert done.returncode == 0, done.stderr
    path = json.loads(done.stdout)["video"]["path"]
    probe = _run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=key_frame", "-of", "csv=p=0", path])
    flags = [line.split(",")[0] for line in probe.stdout.split()]  # a frame with side data ends in a comma
    assert abs(len(flags) - round(duration * 30)) <= 1, (len(flags), duration)
    assert [i for i, key in enumerate(flags) if key == "1"] == list(range(0, len(flags), 15))
    frames = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf", "scale=8:8", "-f", "rawvideo", "-pix_fmt",
                             "rgb24", "-"], capture_output=True).stdout
    # the top three rows of each frame: the captions are burned lower down
    means = [tuple(sum(frames[at + c:at + 72:3]) / 24 for c in range(3)) for at in range(0, len(frames), 192)]
    assert len(means) == len(flags)
    for n, (red, green, blue) in enumerate(means):  # red and blue add up to about the same in any blend
        assert 180 < red + blue < 290 and green < 70, (n, red, green, blue)
    fades = sum(1 for red, _, blue in means if min(red, blue) > 60)
    assert fades >= count - 1, fades  # every cut crossfades
    steps = [abs(a[0] - b[0]) for a, b in zip(means, means[1:])]
    assert max(steps) < 100, steps  # and no frame jumps: a cut, or a fade left early, moves red by ~190


@pytest.mark.parametrize("size", ["8k", "24k", "48k"])  # the captions, a segment, the mux
def test_a_full_disk_is_one_line_naming_the_folder_and_leaves_no_video(tmp_path, tmpfs, size):
    """The picture's segments, the sound and the mux all write into CS_OUT_DIR: whichever of them finds the
    disk full, the render says so in the one line every full disk gets, and leaves neither a video nor a
    part file."""
    disk = tmpfs(size)
    record = _tiny_record(tmp_path, "full")
    done = _render(record, tmp_path, "--preset", "square", env={"CS_OUT_DIR": str(disk / "out")})
    assert done.returncode == 1 and done.stdout == "", done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"cs-render: error: no space left in {disk / 'out'}") and "free space there" in line, line
    assert not [p for p in (disk / "out").rglob("*") if p.is_file()]
