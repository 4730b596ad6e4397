"""cs-thumb: real videos made with ffmpeg in tmp_path, real frame extraction, thumbnails checked from their
pixels and bytes."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from media_fixtures import run_cs  # noqa: E402



@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """5 s at 640x360: 1 s of black (a bad thumbnail), 2 s of testsrc2, 2 s of SMPTE bars (a scene change)."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "color=c=black:s=640x360:r=25:d=1",
         "-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=2",
         "-f", "lavfi", "-i", "smptebars=s=640x360:r=25:d=2",
         "-filter_complex", "[0:v][1:v][2:v]concat=n=3,format=yuv420p",
         "-c:v", "libx264", "-preset", "ultrafast", str(path)],
        check=True)
    return path


def record(video: Path, title: str = "Why the sky is blue", record_id: str = "t1", **extra) -> dict:
    return {"id": record_id, "title": title, "video": {"path": str(video), "duration_s": 5.0}, **extra}


def open_jpeg(path: str):
    from PIL import Image

    image = Image.open(path)
    image.load()
    return image


def jpeg_quality_at_least(image, quality: int) -> bool:
    """Whether IMAGE's luminance quantization table is no coarser than Pillow's at QUALITY."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buffer, "JPEG", quality=quality)
    reference = Image.open(buffer).quantization[0]
    return sum(image.quantization[0]) <= sum(reference)


def check_thumbs(out: dict, cwd: Path, count: int) -> None:
    thumbs = out["thumbs"]
    assert len(thumbs) == count
    for thumb in thumbs:
        path = cwd / thumb["path"]
        data = path.read_bytes()
        assert data[:3] == b"\xff\xd8\xff"  # JPEG
        assert len(data) == thumb["size_bytes"] <= 50 * 1024 * 1024
        image = open_jpeg(path)
        assert image.format == "JPEG" and image.size == (1280, 720) == (thumb["width"], thumb["height"])
        assert jpeg_quality_at_least(image, 90), thumb  # high quality, not squeezed toward 2 MB
        assert 0 <= thumb["score"] <= 1
    assert len({t["path"] for t in thumbs}) == count
    assert out["thumb"] == max(thumbs, key=lambda t: t["score"])
    assert [t["score"] for t in thumbs] == sorted((t["score"] for t in thumbs), reverse=True)


def test_variants_are_1280x720_jpegs_and_thumb_is_the_best(tmp_path, video):
    run = run_cs("thumb", [record(video)], "-n", "4", cwd=tmp_path)
    assert run.code == 0, run.stderr
    (out,) = run.records
    check_thumbs(out, tmp_path, 4)
    assert out["video"] == record(video)["video"]  # other keys pass through
    # The black first second scores lowest: it is not the chosen frame.
    from PIL import ImageStat

    top = open_jpeg(tmp_path / out["thumb"]["path"]).crop((0, 0, 1280, 300))
    assert sum(ImageStat.Stat(top.convert("L")).mean) > 40


def test_overlay_changes_the_text_area_only(tmp_path, video):
    import numpy as np

    plain = run_cs("thumb", [record(video)], "-n", "1", "--no-text", cwd=tmp_path)
    titled = run_cs("thumb", [record(video)], "-n", "1", cwd=tmp_path)
    assert plain.code == titled.code == 0, plain.stderr + titled.stderr
    a = np.asarray(open_jpeg(tmp_path / plain.records[0]["thumb"]["path"]).convert("L"), dtype=np.float32)
    b = np.asarray(open_jpeg(tmp_path / titled.records[0]["thumb"]["path"]).convert("L"), dtype=np.float32)
    text_area = np.abs(a[430:700, 40:900] - b[430:700, 40:900])
    top = np.abs(a[:150] - b[:150])
    assert (text_area > 60).mean() > 0.05  # white letters with black outlines on the frame
    assert top.mean() < 3  # the top of the frame is left alone (JPEG noise only)


@pytest.mark.parametrize("title", [
    "Почему небо голубое? Ελληνικά und Größe — ñandú",
    "为什么天空是蓝色的",
    "لماذا السماء زرقاء؟ شرح بسيط",
])
def test_non_ascii_titles(tmp_path, video, title):
    from creator_tools.media import thumbnail

    assert thumbnail.pick_font(title)[1], "no font for this script: `make setup` installs fonts-noto-core/-cjk"
    run = run_cs("thumb", [record(video, title=title)], "-n", "2", cwd=tmp_path)
    assert run.code == 0, run.stderr
    assert "warning" not in run.stderr
    check_thumbs(run.records[0], tmp_path, 2)


def test_title_source_order(tmp_path, video):
    """meta.title wins over script.title, which wins over title: a different text is different work."""
    base = record(video, script={"title": "Script title"})
    with_meta = {**base, "meta": {"title": "Meta title"}}
    first = run_cs("thumb", [base, with_meta], "-n", "1", cwd=tmp_path)
    assert first.code == 0, first.stderr
    assert first.records[0]["thumb"]["path"] != first.records[1]["thumb"]["path"]


def test_long_title_is_wrapped_to_three_lines(tmp_path):
    from PIL import Image

    from creator_tools.media import thumbnail

    title = "An extremely long title that keeps going on and on about many things " * 3
    font_path, _ = thumbnail.pick_font(title)
    font, lines = thumbnail.layout(title, font_path, (1168, 446))
    assert len(lines) <= 3 and lines[-1].endswith("…")
    assert all(font.getlength(line) <= 1168 for line in lines)
    short_font, short_lines = thumbnail.layout("Sky", font_path, (1168, 446))
    assert short_lines == ["Sky"] and short_font.size >= 120
    image = thumbnail.overlay_title(Image.new("RGB", (1280, 720), "gray"), title, font_path)
    assert image.size == (1280, 720)
    # a long word in a narrow column shrinks the font rather than break as "Ho / mebrewing"
    words = "The Ultimate Guide to Homebrewing"
    narrow_font, narrow = thumbnail.layout(words, font_path, (682, 446))
    assert " ".join(narrow).split() == words.split() and narrow_font.size < 128


def test_jpeg_quality_drops_until_it_fits():
    import numpy as np
    from PIL import Image

    from creator_tools.media import thumbnail

    noise = Image.fromarray(np.random.default_rng(7).integers(0, 256, (720, 1280, 3), dtype=np.uint8))
    full = thumbnail.encode_jpeg(noise)
    small = thumbnail.encode_jpeg(noise, limit=300_000)
    assert len(full) <= thumbnail.MAX_BYTES and len(small) <= 300_000 < len(full)
    assert Image.open(io.BytesIO(small)).size == (1280, 720)


def test_rerun_skips_and_deleted_files_are_remade(tmp_path, video):
    first = run_cs("thumb", [record(video)], "-n", "2", cwd=tmp_path)
    assert first.code == 0
    again = run_cs("thumb", first.records, "-n", "2", cwd=tmp_path)
    assert again.records == first.records
    shutil.rmtree(tmp_path / "cs-out")
    remade = run_cs("thumb", first.records, "-n", "2", cwd=tmp_path)
    assert remade.code == 0 and all((tmp_path / t["path"]).is_file() for t in remade.records[0]["thumbs"])


def test_missing_video_key_and_missing_file(tmp_path, video):
    run = run_cs("thumb", [{"id": "x", "title": "No video yet"}], cwd=tmp_path)
    assert run.code == 1 and run.records == []
    assert "cs-thumb: error:" in run.stderr and "'video'" in run.stderr and "run cs-render first" in run.stderr

    gone = record(tmp_path / "gone.mp4", record_id="gone")
    run = run_cs("thumb", [gone, record(video)], "-k", "-n", "1", cwd=tmp_path)
    assert run.code == 3
    assert "gone.mp4: no such file" in run.stderr
    assert run.records[0]["_error"]["command"] == "cs-thumb" and "thumbs" not in run.records[0]
    check_thumbs(run.records[1], tmp_path, 1)


def test_help_imports_no_image_libraries():
    code = ("import sys, creator_tools.commands.thumb; "
            "print([m for m in ('PIL', 'numpy', 'rich') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_vertical_video_is_centred_not_cropped(tmp_path):
    """A 9:16 Short: the whole frame stands in the middle over a blurred copy; width and height come from
    ffprobe when the record lacks them."""
    import numpy as np

    path = tmp_path / "vertical.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "smptebars=s=360x640:r=25:d=2",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(path)], check=True)
    run = run_cs("thumb", [{"id": "v", "title": "Short", "video": {"path": str(path)}}], "-n", "1", "--no-text",
                 cwd=tmp_path)
    assert run.code == 0, run.stderr
    check_thumbs(run.records[0], tmp_path, 1)
    grey = np.asarray(open_jpeg(tmp_path / run.records[0]["thumb"]["path"]).convert("L"), dtype=np.float32)
    edges = lambda part: float(np.abs(np.diff(part, axis=1)).mean())  # noqa: E731
    middle, side = grey[100:300, 440:840], grey[100:300, :300]  # sharp bars vs the blurred copy
    assert edges(middle) > 3 * edges(side)


def test_burned_captions_stay_out_of_the_thumbnail(tmp_path):
    """cs-render burns captions near the bottom of the frame; a thumbnail shows what is above them, so its
    title never sits on half a caption line. Without captions the whole frame is used."""
    import numpy as np

    path = tmp_path / "captioned.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=0x2040a0:s=360x640:r=25:d=2",
                    "-vf", "drawbox=x=40:y=490:w=280:h=50:color=white:t=fill", "-pix_fmt", "yuv420p", "-c:v", "libx264",
                    "-preset", "ultrafast", str(path)], check=True)
    captions = {"words": [{"word": "Hello", "start": 0.0, "end": 1.0}], "srt": None, "vtt": None, "ass": None}
    base = {"title": "Short", "video": {"path": str(path), "width": 360, "height": 640, "duration_s": 2.0}}
    run = run_cs("thumb", [{"id": "c", **base, "captions": captions}, {"id": "n", **base}], "-n", "1", "--no-text",
                 cwd=tmp_path)
    assert run.code == 0, run.stderr
    white = [int((np.asarray(open_jpeg(tmp_path / r["thumb"]["path"]).convert("L")) > 230).sum()) for r in run.records]
    assert white[0] == 0 and white[1] > 1000, white


def test_a_video_of_cards_gets_wordless_card_thumbnails(tmp_path, video):
    """Every frame of a card video carries its card's phrase, which would sit behind the title: such a video
    gets the cards' pictures redrawn without words (the title's own emoji first); any footage brings back
    the video's frames."""
    import numpy as np

    from creator_tools.media import picture_cards

    cards = [{"start": 0.0, "end": 2.5, "kind": "card", "path": "a.png", "emoji": "🐝"},
             {"start": 2.5, "end": 5.0, "kind": "card", "path": "b.png", "emoji": "🌆"}]
    mixed = [{**cards[0], "kind": "clip"}, cards[1]]
    run = run_cs("thumb", [record(video, "x", "cards", visuals=cards), record(video, "x", "mixed", visuals=mixed)],
                 "-n", "2", "--no-text", cwd=tmp_path)
    assert run.code == 0, run.stderr
    first = np.asarray(open_jpeg(tmp_path / run.records[0]["thumbs"][0]["path"]), dtype=np.float32)
    drawn = np.asarray(picture_cards.poster(1280, 720, "🐝", 0, (0, 0, 1280, 720)), dtype=np.float32)
    assert float(np.abs(first - drawn).mean()) < 3  # the bee card, not a frame of the test video
    assert [t["score"] for t in run.records[0]["thumbs"]] == [1.0, 0.95]
    mixed_first = np.asarray(open_jpeg(tmp_path / run.records[1]["thumbs"][0]["path"]), dtype=np.float32)
    assert float(np.abs(mixed_first - drawn).mean()) > 20  # footage: frames of the video as before
    check_thumbs(run.records[0], tmp_path, 2)
    titled = run_cs("thumb", [record(video, "Bee colonies on city roofs", "titled", visuals=[cards[1]])], "-n", "1",
                    cwd=tmp_path)
    assert titled.code == 0 and titled.records[0]["thumbs"][0]["score"] == 1.0, titled.stderr


def test_a_long_title_shows_at_most_five_large_words(tmp_path, video):
    """The demo's 10-word title came out small and low: the thumbnail shows at most 5 of its words, large."""
    from creator_tools.media import thumbnail

    title = "Why Your Home Espresso Tastes Bitter and How to Fix It Today"
    run = run_cs("thumb", [record(video, title=title)], "-n", "1", cwd=tmp_path)
    assert run.code == 0, run.stderr
    text = run.records[0]["thumb"]["text"]
    assert text == "Home Espresso Tastes Bitter" and thumbnail.text_problems(text, title) == []
    font, lines = thumbnail.layout(text, thumbnail.pick_font(text)[0], (1280 - 112, int(720 * 0.62)))
    assert font.size >= 120 and len(lines) <= 3
    assert thumbnail.thumb_text("Why Home Espresso Tastes Bitter (and how to fix it at home)") == \
        "Why Home Espresso Tastes Bitter"  # the first clause, when it is short enough
    assert thumbnail.text_problems("Perfect Crema Every Time", title) == ["not in the title: perfect, crema, every, time"]


@pytest.mark.slow
def test_words_chosen_by_an_llm_are_checked_like_cs_meta_output(tmp_path, video, openai_server):
    from creator_tools.media import thumbnail

    title = "Why Your Home Espresso Tastes Bitter and How to Fix It Today"
    run = run_cs("thumb", [record(video, title=title)], "-n", "1", "--words", "llm", "--engine", "openai",
                 cwd=tmp_path, timeout=900, env={"OPENAI_BASE_URL": openai_server, "OPENAI_API_KEY": "test"})
    assert run.code == 0, run.stderr
    text = run.records[0]["thumb"]["text"]
    assert thumbnail.text_problems(text, title) == [], (text, run.stderr)  # the model's, or the rule's after a warning
