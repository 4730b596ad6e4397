"""cs-publish against the loopback YouTube server (tests/youtube_server.py): the real cs-publish executable,
the real google-api-python-client, real media made here. Every upload test checks the stored bytes' sha256
against the file and that exactly one video exists."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from youtube_server import SCOPE_READONLY, YouTubeServer  # noqa: E402

BIN = Path(sys.executable).parent
CS_PUBLISH = str(BIN / "cs-publish")


# --- media and records ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict:
    """A real ~4 MB MP4 (1.5 s of noisy testsrc, lossless, with a sine track) so uploads take many 256 KiB
    chunks, a JPEG thumbnail from Pillow and an SRT written by hand."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("media")
    video = folder / "video.mp4"
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "1.5",
                    "-vf", "noise=alls=20:allf=t", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(video)], check=True)
    thumb = folder / "thumb.jpg"
    Image.new("RGB", (1280, 720), (200, 40, 40)).save(thumb, quality=90)
    srt = folder / "captions.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,200\nHello from the loopback test.\n\n", encoding="utf-8")
    return {"video": video, "thumb": thumb, "srt": srt, "sha256": sha256(video)}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def make_record(media: dict, **meta) -> dict:
    base_meta = {"title": "Loopback upload test", "description": "A test video.\nSecond line.",
                 "tags": ["test", "loop back"], "chapters": [{"start": 0, "title": "Intro"}, {"start": 10, "title": "Middle"}, {"start": 20, "title": "End"}],
                 "category_id": "28", "language": "en", "privacy": "unlisted", "publish_at": None,
                 "made_for_kids": False, "synthetic_media": True, "playlist": "Loopback Tests"}
    base_meta.update(meta)
    video = media["video"]
    return {"id": "rec-1",
            "video": {"path": str(video), "duration_s": 1.5, "width": 320, "height": 240, "fps": 25,
                      "size_bytes": video.stat().st_size, "sha256": media["sha256"]},
            "thumb": {"path": str(media["thumb"]), "width": 1280, "height": 720,
                      "size_bytes": media["thumb"].stat().st_size, "score": 0.9},
            "captions": {"language": "en", "words": [], "srt": str(media["srt"]), "vtt": None, "ass": None},
            "meta": base_meta}


# --- server and runs ----------------------------------------------------------------------------------------


@pytest.fixture
def server(tmp_path):
    with YouTubeServer(tmp_path / "server") as running:
        yield running


@pytest.fixture
def env(tmp_path, server) -> dict:
    token = server.state.token_file(tmp_path / "token.json", server.url)
    return {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "CS_YOUTUBE_BACKOFF_BASE": "0.05", "CS_OUT_DIR": str(tmp_path / "out"), "CS_YOUTUBE_TOKEN": "",
            "CS_YOUTUBE_ENDPOINT": "", "NO_PROXY": "127.0.0.1,localhost", "_TOKEN": str(token),
            "CS_REQUIRE_REVIEW": "0"}  # these tests are about uploading; the review gate's own tests set it to 1


def publish(server, env, records, *args, timeout=120) -> subprocess.CompletedProcess:
    lines = "".join(json.dumps(r) + "\n" for r in records)
    argv = [CS_PUBLISH, "--api-endpoint", server.url, "--token", env["_TOKEN"], "--chunk-size", "256K", *args]
    return subprocess.run(argv, input=lines, capture_output=True, text=True, env=env, timeout=timeout)


def outputs(done: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def assert_one_complete_video(server, media) -> str:
    videos = server.state.videos
    assert len(videos) == 1, f"expected exactly one video, found {len(videos)}"
    video_id = next(iter(videos))
    assert server.state.video_sha256(video_id) == media["sha256"]
    return video_id


def uploads_sent(server) -> int:
    return sum(1 for method, path, _ in server.state.calls if method == "PUT" and "upload_id" in path)


# --- the happy path -----------------------------------------------------------------------------------------


def test_publishes_video_thumbnail_captions_and_playlist(server, env, media, tmp_path):
    record = make_record(media, privacy="private", publish_at="2099-01-02T15:00:00Z")
    done = publish(server, env, [record])
    assert done.returncode == 0, done.stderr
    [out] = outputs(done)
    youtube = out["youtube"]
    video_id = assert_one_complete_video(server, media)
    assert youtube["video_id"] == video_id
    assert youtube["url"] == f"https://www.youtube.com/watch?v={video_id}"
    assert youtube["privacy"] == "private" and youtube["publish_at"] == "2099-01-02T15:00:00Z"
    assert youtube["thumbnail_set"] is True
    assert server.state.thumbnails[video_id]["path"].read_bytes() == media["thumb"].read_bytes()
    caption = server.state.captions[youtube["caption_id"]]
    assert caption["path"].read_bytes() == media["srt"].read_bytes()
    assert caption["resource"]["snippet"]["language"] == "en"
    [playlist] = server.state.playlists.values()
    assert playlist["snippet"]["title"] == "Loopback Tests"
    assert server.state.playlist_items[youtube["playlist_item_id"]]["snippet"]["playlistId"] == playlist["id"]
    resource = server.state.videos[video_id]["resource"]
    snippet, status = resource["snippet"], resource["status"]
    assert snippet["title"] == "Loopback upload test" and snippet["categoryId"] == "28"
    assert snippet["defaultLanguage"] == "en" and snippet["defaultAudioLanguage"] == "en"
    assert snippet["tags"] == ["test", "loop back"]
    assert snippet["description"].endswith("\n\n0:00 Intro\n0:10 Middle\n0:20 End")
    assert status["privacyStatus"] == "private" and status["publishAt"] == "2099-01-02T15:00:00Z"
    assert status["selfDeclaredMadeForKids"] is False and status["containsSyntheticMedia"] is True
    # many chunks, each a multiple of 256 KiB; progress with a rate on stderr
    assert uploads_sent(server) >= media["video"].stat().st_size // (256 * 1024)
    assert "MB/s" in done.stderr
    # the expired access token was refreshed through the token endpoint and written back, still 0600
    token = json.loads(Path(env["_TOKEN"]).read_text())
    assert token["token"] in server.state.access_tokens and server.state.access_tokens[token["token"]]["expires"] > time.time()
    assert stat.S_IMODE(os.stat(env["_TOKEN"]).st_mode) == 0o600
    # the ledger lives under XDG_STATE_HOME
    assert (tmp_path / "state" / "creator-tools" / "youtube.sqlite").exists()



def test_a_3_mb_thumbnail_is_set(server, env, media, tmp_path):
    """thumbnails.set takes up to 50 MB since 2026-09-14: a 3 MB JPEG is no longer refused."""
    from PIL import Image

    thumb = tmp_path / "big-thumb.jpg"
    Image.frombytes("RGB", (2400, 1350), os.urandom(2400 * 1350 * 3)).save(thumb, "JPEG", quality=95)
    assert thumb.stat().st_size > 3 * 1024 * 1024
    record = make_record(media, privacy="private")
    record["thumb"] = {**record["thumb"], "path": str(thumb), "size_bytes": thumb.stat().st_size}
    done = publish(server, env, [record])
    assert done.returncode == 0, done.stderr
    [out] = outputs(done)
    assert out["youtube"]["thumbnail_set"] is True
    assert server.state.thumbnails[out["youtube"]["video_id"]]["size"] == thumb.stat().st_size

def test_publish_at_forces_private_and_existing_playlist_is_found_by_id(server, env, media, tmp_path):
    first = publish(server, env, [make_record(media, playlist="Existing", publish_at=None)])
    assert first.returncode == 0, first.stderr
    playlist_id = next(iter(server.state.playlists))
    other_video = tmp_path / "other.mp4"
    other_video.write_bytes(media["video"].read_bytes() + b"\0" * 16)  # another file: another sha256
    other = {**media, "video": other_video, "sha256": sha256(other_video)}
    record = make_record(other, playlist=playlist_id, privacy="public", publish_at="2099-03-01T10:00:00+02:00")
    done = publish(server, env, [record])
    assert done.returncode == 0, done.stderr
    youtube = outputs(done)[0]["youtube"]
    assert youtube["privacy"] == "private" and youtube["publish_at"] == "2099-03-01T08:00:00Z"
    assert len(server.state.playlists) == 1
    assert youtube["video_id"] in server.state.playlist_video_ids(playlist_id)
    assert len(server.state.videos) == 2
    assert server.state.video_sha256(youtube["video_id"]) == other["sha256"]


def test_rerun_returns_ledger_entry_without_uploading(server, env, media):
    record = make_record(media)
    first = publish(server, env, [record])
    assert first.returncode == 0, first.stderr
    calls_before = len(server.state.calls)
    # the same file in a record without the youtube key (a re-run on the original input)
    again = publish(server, env, [record])
    assert again.returncode == 0, again.stderr
    assert outputs(again)[0]["youtube"] == outputs(first)[0]["youtube"]
    assert "already on this channel" in again.stderr
    new_calls = server.state.calls[calls_before:]
    assert [c for c in new_calls if c[0] in ("POST", "PUT")] == []  # no upload, no thumbnail, nothing written
    # a re-run on the output skips the record in the driver, without any call at all
    skipped = publish(server, env, outputs(first))
    assert skipped.returncode == 0 and outputs(skipped) == outputs(first)
    # an edited title is not silently dropped: the video is not updated, and the user is told
    edited = {**record, "meta": {**record["meta"], "title": "A better title"}}
    warned = publish(server, env, [edited])
    assert warned.returncode == 0 and "meta title changed since video" in warned.stderr
    # a hand-broken youtube key is not taken as "published": the ledger answers again, nothing is uploaded
    broken = publish(server, env, [{**outputs(first)[0], "youtube": "x"}])
    assert broken.returncode == 0 and outputs(broken)[0]["youtube"] == outputs(first)[0]["youtube"], broken.stderr
    assert_one_complete_video(server, media)


# --- faults -------------------------------------------------------------------------------------------------


def test_sigkill_mid_upload_resumes_from_committed_offset(server, env, media):
    size = media["video"].stat().st_size
    server.state.faults.stall_at_bytes = 1024 * 1024 + 1000  # stall inside the 5th chunk
    argv = [CS_PUBLISH, "--api-endpoint", server.url, "--token", env["_TOKEN"], "--chunk-size", "256K"]
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    process.stdin.write(json.dumps(make_record(media)) + "\n")
    process.stdin.close()
    assert server.state.faults.stalled.wait(60), "the upload never reached the stall point"
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    process.stdout.close()
    process.stderr.close()
    server.state.faults.release.set()
    [session] = server.state.sessions.values()
    deadline = time.time() + 10
    while session.lock.locked() and time.time() < deadline:  # the server finishes reading the dead chunk
        time.sleep(0.05)
    committed = session.committed  # what reached the server before the kill, in whole 256 KiB units
    assert committed >= 1024 * 1024 and committed % (256 * 1024) == 0 and committed < size
    assert not server.state.videos
    received_before = server.state.bytes_received
    done = publish(server, env, [make_record(media)])
    assert done.returncode == 0, done.stderr
    assert f"resuming at byte {committed} of {size}" in done.stderr
    assert server.state.bytes_received - received_before == size - committed  # never from zero
    assert len(server.state.sessions) == 1  # the saved session, not a new one
    video_id = assert_one_complete_video(server, media)
    assert outputs(done)[0]["youtube"]["video_id"] == video_id


def test_kill_after_upload_completed_but_before_ledger_saved(server, env, media):
    """The last chunk arrives and the server makes the video, but the client is killed before hearing it:
    the re-run's offset query gets the finished video back instead of uploading again."""
    server.state.faults.stall_final_response = True
    argv = [CS_PUBLISH, "--api-endpoint", server.url, "--token", env["_TOKEN"], "--chunk-size", "1M"]
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True, env=env)
    process.stdin.write(json.dumps(make_record(media)) + "\n")
    process.stdin.close()
    assert server.state.faults.stalled.wait(60)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert process.stdout.read() == ""
    process.stdout.close()
    server.state.faults.release.set()
    assert len(server.state.videos) == 1
    deadline = time.time() + 10
    while not any(status == 0 for *_, status in server.state.calls) and time.time() < deadline:
        time.sleep(0.05)  # the held answer is dropped and logged
    puts_before = uploads_sent(server)
    done = publish(server, env, [make_record(media)])
    assert done.returncode == 0, done.stderr
    assert "already holds the whole upload" in done.stderr
    assert uploads_sent(server) == puts_before + 1  # the offset query only
    video_id = assert_one_complete_video(server, media)
    assert outputs(done)[0]["youtube"]["video_id"] == video_id


def test_every_chunk_answer_lost_still_ends_with_one_video(server, env, media):
    server.state.faults.drop_before_response = 10**6  # every chunk is stored but never answered
    done = publish(server, env, [make_record(media)])
    assert done.returncode == 0, done.stderr
    server.state.faults.drop_before_response = 0
    assert outputs(done)[0]["youtube"]["video_id"] == assert_one_complete_video(server, media)


def test_5xx_and_429_on_chunks_are_retried(server, env, media):
    server.state.faults.chunk_errors = [503, 429, 500, 502]
    done = publish(server, env, [make_record(media)])
    assert done.returncode == 0, done.stderr
    assert "retrying" in done.stderr and "503" in done.stderr
    assert not server.state.faults.chunk_errors
    assert_one_complete_video(server, media)


def test_connection_dropped_mid_chunk_and_before_response(server, env, media):
    server.state.faults.drop_after_bytes = 100_000  # mid-chunk: the server keeps 0 of this chunk
    server.state.faults.drop_before_response = 2  # whole chunk stored, no answer
    done = publish(server, env, [make_record(media)])
    assert done.returncode == 0, done.stderr
    assert "connection failed" in done.stderr
    assert len(server.state.sessions) == 1
    assert_one_complete_video(server, media)


def test_transient_api_errors_on_json_calls_are_retried(server, env, media):
    server.state.faults.api_errors = [503, 500]
    done = publish(server, env, [make_record(media)])
    assert done.returncode == 0, done.stderr
    assert_one_complete_video(server, media)


@pytest.mark.parametrize("fault", ["quota_exhausted", "upload_limit", "rate_limited"])
def test_quota_faults_defer_and_next_run_picks_up(server, env, media, fault):
    setattr(server.state.faults, fault, True if fault != "rate_limited" else 10**6)
    record = make_record(media)
    first = publish(server, env, [record])
    assert first.returncode == 4, first.stderr
    [out] = outputs(first)
    assert out["_error"]["retryable"] is True and out["_error"]["type"] == "QuotaDeferred"
    assert "youtube" not in out and not server.state.videos
    setattr(server.state.faults, fault, False if fault != "rate_limited" else 0)
    again = publish(server, env, [record])  # the next run on the same input
    assert again.returncode == 0, again.stderr
    assert outputs(again)[0]["youtube"]["video_id"]
    assert_one_complete_video(server, media)


def test_quota_exhausted_mid_upload_keeps_session(server, env, media):
    """quotaExceeded on thumbnails.set after the upload: deferred, and the re-run only sets the thumbnail."""
    record = make_record(media)
    original = server._authorize_call

    def refuse_thumbnails(req, scopes, cost):
        if cost == "thumbnails.set" and server.state.faults.quota_exhausted is None:
            from youtube_server import ApiError

            raise ApiError(403, "quotaExceeded", "quota", "youtube.quota")
        return original(req, scopes, cost)

    server._authorize_call = refuse_thumbnails
    server.state.faults.quota_exhausted = None  # falsy: only the override above refuses
    first = publish(server, env, [record])
    assert first.returncode == 4
    assert len(server.state.videos) == 1 and not server.state.thumbnails
    server.state.faults.quota_exhausted = False
    puts_before = uploads_sent(server)
    again = publish(server, env, [record])
    assert again.returncode == 0, again.stderr
    assert uploads_sent(server) == puts_before
    assert outputs(again)[0]["youtube"]["thumbnail_set"] is True
    assert_one_complete_video(server, media)


def test_local_quota_budget_defers_before_any_upload(server, env, media):
    # A dressed upload holds 551 units (thumbnail 50, captions 400, playlist at worst 101) beside its upload call.
    done = publish(server, env, [make_record(media)], "--quota", "400")
    assert done.returncode == 4
    assert "record rec-1: needs 551 quota units but" in done.stderr and "raise --quota" in done.stderr
    assert outputs(done)[0]["_error"]["retryable"] is True
    assert not server.state.sessions and not server.state.videos


def test_revoked_refresh_token_says_run_auth_again(server, env, media):
    server.state.revoke_all()
    done = publish(server, env, [make_record(media)])
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("cs-publish: error:") and "revoked" in errors[0] and "cs-publish auth" in errors[0]
    assert "Traceback" not in done.stderr and not server.state.videos


def test_missing_token_file_names_the_fix(server, env, media, tmp_path):
    env = {**env, "_TOKEN": str(tmp_path / "nope.json")}
    done = publish(server, env, [make_record(media)])
    assert done.returncode == 1
    assert "cs-publish auth" in done.stderr and "--token" in done.stderr


# --- checks, dry run, bad input -----------------------------------------------------------------------------


def test_check_validates_without_uploading(server, env, media, tmp_path):
    record = make_record(media)
    done = publish(server, env, [record], "--check")
    assert done.returncode == 0, done.stderr
    assert outputs(done) == [record]
    assert "ready to publish" in done.stderr and "quota units" in done.stderr
    assert not server.state.sessions and not server.state.videos

    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(1024))
    os.truncate(big, 50 * 1024 * 1024 + 10)  # over YouTube's 50 MB without writing 50 MB of noise
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    bad = [
        {**record, "id": "big-thumb", "thumb": {**record["thumb"], "path": str(big)}},
        {**record, "id": "not-video", "video": {**record["video"], "path": str(not_video)}},
        {**record, "id": "long-title", "meta": {**record["meta"], "title": "x" * 101}},
        {**record, "id": "past", "meta": {**record["meta"], "publish_at": "2001-01-01T00:00:00Z"}},
        {k: v for k, v in record.items() if k != "meta"} | {"id": "no-meta"},
        {k: v for k, v in record.items() if k != "video"} | {"id": "no-video"},
    ]
    done = publish(server, env, bad, "--check", "-k")
    assert done.returncode == 3
    errors = {r["id"]: r["_error"]["message"] for r in outputs(done)}
    assert "50 MB" in errors["big-thumb"]
    assert "not a readable video" in errors["not-video"] or "no video stream" in errors["not-video"]
    assert "100" in errors["long-title"]
    assert "in the past" in errors["past"]
    assert "run cs-meta first" in errors["no-meta"]
    assert "run cs-render first" in errors["no-video"]

    readonly = server.state.token_file(tmp_path / "ro.json", server.url, scopes=[SCOPE_READONLY])
    done = publish(server, {**env, "_TOKEN": str(readonly)}, [record], "--check")
    assert done.returncode == 1 and "upload scope" in done.stderr


def test_dry_run_prints_requests_and_sends_nothing(server, env, media):
    record = make_record(media)
    done = publish(server, env, [record], "--dry-run")
    assert done.returncode == 0, done.stderr
    assert outputs(done) == [record]
    assert f"POST {server.url}/upload/youtube/v3/videos?part=snippet%2Cstatus" in done.stderr
    assert "uploadType=resumable" in done.stderr and "thumbnails/set" in done.stderr and "captions" in done.stderr
    assert server.state.calls == []


def test_schedule_every_spreads_publish_times(server, env, media, tmp_path):
    records = []
    for n in range(3):
        path = tmp_path / f"v{n}.mp4"
        path.write_bytes(media["video"].read_bytes() + bytes([n]) * 8)
        copy = {**media, "video": path, "sha256": sha256(path)}
        records.append(make_record(copy, publish_at=None, playlist=None) | {"id": f"rec-{n}"})
    done = publish(server, env, records, "--schedule-every", "24")
    assert done.returncode == 0, done.stderr
    times = [r["youtube"]["publish_at"] for r in outputs(done)]
    from datetime import datetime

    parsed = [datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times]
    assert [(b - a).total_seconds() for a, b in zip(parsed, parsed[1:])] == [86400, 86400]
    assert all(r["youtube"]["privacy"] == "private" for r in outputs(done))
    assert len(server.state.videos) == 3


def test_bad_chunk_size_is_a_usage_error(server, env, media):
    done = publish(server, env, [make_record(media)], "--chunk-size", "100K")
    assert done.returncode == 2 and "256K" in done.stderr


# --- auth ---------------------------------------------------------------------------------------------------


def test_auth_flow_saves_token_0600(server, env, tmp_path):
    secrets_file = server.state.client_secrets_file(tmp_path / "client_secret.json", server.url)
    env = {**env, "BROWSER": "true"}
    process = subprocess.Popen([CS_PUBLISH, "--api-endpoint", server.url, "auth", "--client-secrets", str(secrets_file),
                                "--no-browser", "--timeout", "60"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    url = None
    for line in process.stderr:
        if line.startswith("http"):
            url = line.strip()
            break
    assert url and url.startswith(server.url + "/o/oauth2/auth?"), url
    with urllib.request.urlopen(url, timeout=30) as answer:  # consent: follows the redirect to the loopback
        assert b"authorized" in answer.read()
    rest = process.stderr.read()
    assert process.wait(30) == 0, rest
    assert process.stdout.read() == ""
    token_path = tmp_path / "config" / "creator-tools" / "youtube-token.json"
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
    token = json.loads(token_path.read_text())
    assert token["refresh_token"] in server.state.refresh_tokens
    assert server.state.channel["id"] in rest


def test_help_is_fast_and_light():
    code = ("import sys; from creator_tools.commands import publish; "
            "heavy = [m for m in ('googleapiclient', 'google.auth', 'httplib2', 'PIL', 'rich') if m in sys.modules]; "
            "print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    helped = subprocess.run([CS_PUBLISH, "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "youtube {video_id" in helped.stdout


# --- the cron pipeline --------------------------------------------------------------------------------------


def test_publish_cron_defers_over_quota_and_finishes_next_run(server, env, media, tmp_path):
    ready, published = tmp_path / "ready", tmp_path / "published"
    ready.mkdir()
    records = []
    for n in range(2):
        path = tmp_path / f"cron{n}.mp4"
        path.write_bytes(media["video"].read_bytes() + bytes([n]) * 8)
        records.append(make_record({**media, "video": path, "sha256": sha256(path)}, publish_at=None) | {"id": f"c{n}"})
    (ready / "day.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    cron_env = {**env, "CS_BIN": str(BIN), "CS_READY_DIR": str(ready), "CS_PUBLISHED_DIR": str(published),
                "CS_YOUTUBE_TOKEN": env["_TOKEN"], "CS_YOUTUBE_ENDPOINT": server.url, "XDG_RUNTIME_DIR": str(tmp_path),
                "QUOTA": "700"}  # room for one dressed upload's units (at most 551) a day
    script = str(Path(__file__).resolve().parents[2] / "pipelines" / "publish-cron.sh")
    first = subprocess.run(["sh", script], env=cron_env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "deferred" in first.stderr and (ready / "day.jsonl").exists()
    out = [json.loads(line) for line in (published / "day.jsonl").read_text().splitlines()]
    assert "youtube" in out[0] and out[1]["_error"]["retryable"] is True
    assert len(server.state.videos) == 1
    second = subprocess.run(["sh", script], env={**cron_env, "QUOTA": "10000"}, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert not (ready / "day.jsonl").exists()
    out = [json.loads(line) for line in (published / "day.jsonl").read_text().splitlines()]
    assert [r["youtube"]["video_id"] for r in out] and all("youtube" in r for r in out)
    assert len(server.state.videos) == 2
    first_slot, second_slot = (r["youtube"]["publish_at"] for r in out)
    assert first_slot < second_slot  # one day apart, in order
    for record in out:
        assert server.state.video_sha256(record["youtube"]["video_id"]) == sha256(Path(record["video"]["path"]))


def test_parallel_records_share_one_new_playlist(server, env, media, tmp_path):
    records = []
    for n in range(3):
        path = tmp_path / f"par{n}.mp4"
        path.write_bytes(media["video"].read_bytes() + bytes([n]) * 8)
        records.append(make_record({**media, "video": path, "sha256": sha256(path)}, playlist="Parallel") | {"id": f"p{n}"})
    done = publish(server, env, records, "-j", "3")
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in outputs(done)] == ["p0", "p1", "p2"]
    assert len(server.state.videos) == 3 and len(server.state.playlists) == 1
    [playlist_id] = server.state.playlists
    assert sorted(server.state.playlist_video_ids(playlist_id)) == sorted(r["youtube"]["video_id"] for r in outputs(done))
    for record in outputs(done):
        assert server.state.video_sha256(record["youtube"]["video_id"]) == sha256(Path(record["video"]["path"]))


def test_access_token_rejected_mid_run_is_refreshed(server, env, media, tmp_path):
    """The file says the access token is valid for an hour, the server says 401: google-auth refreshes
    through token_uri and the call goes through."""
    token = server.state.token_file(tmp_path / "fresh.json", server.url, expired=False)
    server.state.expire_access_tokens()
    done = publish(server, {**env, "_TOKEN": str(token)}, [make_record(media)])
    assert done.returncode == 0, done.stderr
    assert_one_complete_video(server, media)
    assert json.loads(token.read_text())["token"] != "" and any(path == "/token" for _, path, _ in server.state.calls)


def test_uploads_have_their_own_bucket(server, env, media, tmp_path):
    """Today's rules (determine_quota_cost, 2026-11-28): videos.insert draws on its own bucket of 100 calls a
    day, not 1,600 of the 10,000 units; each bucket defers on its own and says which ran out."""
    from creator_tools.commands import publish as command
    from creator_tools.youtube import quota

    assert command.DEFAULT_UPLOADS == quota.DEFAULT_UPLOADS == 100 and quota.cost("videos.insert") == ("uploads", 1)
    records = []
    for n in range(8):  # eight bare uploads: 8 units-free inserts, where the old 1,600-unit rule stopped at six
        path = tmp_path / f"b{n}.mp4"
        path.write_bytes(media["video"].read_bytes() + bytes([n]) * 8)
        records.append(make_record({**media, "video": path, "sha256": sha256(path)}, playlist=None)
                       | {"id": f"b{n}", "thumb": None, "captions": None})
    done = publish(server, env, records[:7], "--uploads-per-day", "7")
    assert done.returncode == 0, done.stderr
    assert len(server.state.videos) == 7
    check = publish(server, env, records[7:], "--uploads-per-day", "7", "--check")
    assert check.returncode == 4
    assert "needs 1 calls of the uploads bucket (videos.insert) but 0 of the daily 7 are left" in check.stderr
    assert "raise --uploads-per-day" in check.stderr
    late = publish(server, env, records[7:], "--uploads-per-day", "7")
    assert late.returncode == 4 and "uploads bucket" in late.stderr and "--uploads-per-day" in late.stderr
    assert outputs(late)[0]["_error"]["retryable"] is True and len(server.state.videos) == 7
    more = publish(server, env, records[7:], "--uploads-per-day", "8", "--check")
    assert more.returncode == 0 and "ready to publish" in more.stderr and "1 uploads left today" in more.stderr


def test_still_image_named_mp4_is_refused_before_upload(server, env, media, tmp_path):
    """A PNG renamed .mp4 has one 'video' stream to ffprobe; it is still not a video."""
    from PIL import Image

    fake = tmp_path / "frame.mp4"
    Image.new("RGB", (320, 240), (10, 200, 30)).save(fake, format="PNG")
    record = make_record({**media, "video": fake, "sha256": sha256(fake)})
    for args in (["--check"], []):
        done = publish(server, env, [record], *args)
        assert done.returncode == 1, done.stderr
        assert "frame.mp4: is a still image (png_pipe), not a video" in done.stderr and "Traceback" not in done.stderr
    assert not server.state.sessions and not server.state.videos


# --- one ledger for many publishers (issue 9, item 4) -------------------------------------------------------


def batch(media, tmp_path, prefix: str, count: int) -> list[dict]:
    """COUNT distinct videos (the test MP4 with a few bytes appended), each with its thumbnail."""
    out = []
    for n in range(count):
        path = tmp_path / f"{prefix}{n}.mp4"
        path.write_bytes(media["video"].read_bytes() + f"{prefix}{n}".encode() * 4)
        out.append(make_record({**media, "video": path, "sha256": sha256(path)}, playlist=None)
                   | {"id": f"{prefix}{n}", "captions": None})
    return out


def publish_together(server, env, records, *args) -> list[subprocess.CompletedProcess]:
    """Two cs-publish processes started at once on the same batch (as two machines would be)."""
    lines = "".join(json.dumps(r) + "\n" for r in records)
    argv = [CS_PUBLISH, "--api-endpoint", server.url, "--token", env["_TOKEN"], "--chunk-size", "256K", "-k", *args]
    procs = [subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**env, "XDG_STATE_HOME": f"{env['XDG_STATE_HOME']}-{n}"}) for n in range(2)]
    done = []
    for proc in procs:
        out, err = proc.communicate(lines, timeout=300)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def test_two_publishers_share_one_postgresql_ledger(server, env, media, tmp_path, postgres):
    """Each video uploaded exactly once, and no quota bucket spent past its budget, by two processes with
    their own state folders and one ledger (CS_DB)."""
    env = {**env, "CS_DB": postgres.create_database("ledger_" + os.urandom(4).hex())}
    first = batch(media, tmp_path, "a", 6)
    runs = publish_together(server, env, first, "-j", "2")
    for run in runs:
        assert run.returncode == 0, run.stderr
    assert len(server.state.videos) == 6 and uploads_sent(server) >= 6
    assert sorted(server.state.video_sha256(v) for v in server.state.videos) == sorted(r["video"]["sha256"] for r in first)
    ids = [[r["youtube"]["video_id"] for r in outputs(run)] for run in runs]
    assert ids[0] == ids[1]  # the second publisher of each file returned the first one's video
    assert "already on this channel" in runs[0].stderr + runs[1].stderr

    # The day's upload bucket: 6 used, 8 allowed; 4 more files offered to both publishers: 2 go up, 2 wait.
    second = batch(media, tmp_path, "b", 4)
    runs = publish_together(server, env, second, "--uploads-per-day", "8", "--quota", "10000")
    assert len(server.state.videos) == 8
    assert {run.returncode for run in runs} == {4}
    assert "uploads bucket (videos.insert) but 0 of the daily 8 are left" in runs[0].stderr + runs[1].stderr
    import psycopg

    with psycopg.connect(env["CS_DB"]) as db:
        spent = dict(db.execute("SELECT call, SUM(units) FROM spend GROUP BY call").fetchall())
        holds = db.execute("SELECT COUNT(*) FROM holds").fetchone()[0]
        claimed = db.execute("SELECT COUNT(*) FROM uploads WHERE claimed_by IS NOT NULL AND video_id IS NOT NULL").fetchone()[0]
    assert spent["videos.insert"] == 8 and spent["thumbnails.set"] == 8 * 50
    assert holds == 0 and claimed == 8
    for record in first + second:  # nothing was uploaded twice: one video per file, all files accounted for
        matches = [v for v in server.state.videos if server.state.video_sha256(v) == record["video"]["sha256"]]
        assert len(matches) <= 1


def wrong_types(good: dict, tmp_path: Path) -> dict[str, tuple[dict, str]]:
    """Hostile records for every key cs-publish reads: what each changes, and the exact message after
    'record NAME: ' (the key's path, what belongs there, the stage to re-run)."""
    fix = "--force for this record or fix the record"
    video, meta, captions = good["video"], good["meta"], good["captions"]
    thumb_object = "a thumbnail object {path, width, height, size_bytes, score}"
    return {
        "thumb-str": ({"thumb": "x"}, f'thumb should be {thumb_object}, got "x"; re-run cs-thumb {fix}'),
        "thumb-list": ({"thumb": ["x"]}, f"thumb should be {thumb_object}, got a list of 1 item; re-run cs-thumb {fix}"),
        "thumb-path": ({"thumb": {"path": -1}},
                       f"thumb.path should be a file path (a non-empty string), got -1; re-run cs-thumb {fix}"),
        "thumb-no-path": ({"thumb": {"width": 1280}}, f"thumb.path is missing; re-run cs-thumb {fix}"),
        "captions-str": ({"captions": "x"},
                         f'captions should be an object {{language, words, srt, vtt, ass}}, got "x"; re-run cs-caption {fix}'),
        "srt-num": ({"captions": {"srt": 5}}, f"captions.srt should be a string, got 5; re-run cs-caption {fix}"),
        "caption-language": ({"captions": {**captions, "language": ["en"]}},
                             f"captions.language should be a string, got a list of 1 item; re-run cs-caption {fix}"),
        "video-str": ({"video": "x"}, 'video should be an object {path, duration_s, width, height, fps, size_bytes, '
                                      f'sha256}}, got "x"; re-run cs-render {fix}'),
        "video-path": ({"video": {**video, "path": 5}},
                       f"video.path should be a file path (a non-empty string), got 5; re-run cs-render {fix}"),
        "video-sha": ({"video": {**video, "sha256": 5}}, f"video.sha256 should be a string, got 5; re-run cs-render {fix}"),
        "meta-str": ({"meta": "x"}, f'meta should be an object {{title, description, tags, ...}}, got "x"; re-run cs-meta {fix}'),
        "meta-title": ({"meta": {**meta, "title": 5}}, f"meta.title should be a string, got 5; re-run cs-meta {fix}"),
        "meta-tags": ({"meta": {**meta, "tags": "a,b"}}, f'meta.tags should be a list of strings, got "a,b"; re-run cs-meta {fix}'),
        "meta-chapter": ({"meta": {**meta, "chapters": [{"start": "0", "title": "Intro"}]}},
                         f'meta.chapters[0].start should be a number of seconds (0 or more), got "0"; re-run cs-meta {fix}'),
        "meta-privacy": ({"meta": {**meta, "privacy": 5}},
                         f'meta.privacy should be one of "private", "unlisted", "public", got 5; re-run cs-meta {fix}'),
        "meta-kids": ({"meta": {**meta, "made_for_kids": "no"}},
                      f'meta.made_for_kids should be true or false, got "no"; re-run cs-meta {fix}'),
        "meta-playlist": ({"meta": {**meta, "playlist": {"id": 1}}},
                          f"meta.playlist should be a string, got an object; re-run cs-meta {fix}"),
        "voice-str": ({"voice": "x"}, 'voice should be an object {engine, voice, path, duration_s, segments}, got "x"; '
                                      f"re-run cs-voice {fix}"),
        "voice-length": ({"voice": {"path": "v.wav", "duration_s": "long"}},
                         f'voice.duration_s should be a number of seconds (0 or more), got "long"; re-run cs-voice {fix}'),
        "topic-list": ({"topic": ["tea"]},
                       f"topic should be a topic of a few words (a string), got a list of 1 item; re-run cs-idea {fix}"),
        "hook-object": ({"hook": {"a": 1}}, f"hook should be a string, got an object; re-run cs-idea {fix}"),
        "format-num": ({"format": 5}, f'format should be one of "short", "long", got 5; re-run cs-idea {fix}'),
        "srt-gone": ({"captions": {"srt": str(tmp_path / "gone.srt")}},
                     f"captions.srt: {tmp_path / 'gone.srt'}: no such caption file; run cs-caption again"),
        "srt-empty": ({"captions": {"srt": ""}}, 'captions.srt is empty; run cs-caption again (or leave the '
                     '"captions" key out to publish without captions)'),
        "thumb-gone": ({"thumb": {"path": str(tmp_path)}},
                       f"thumb.path: {tmp_path}: no such thumbnail; run cs-thumb again"),
        "video-gone": ({"video": {"path": str(tmp_path / "gone.mp4")}},
                       f"video.path: {tmp_path / 'gone.mp4'}: no such file; run cs-render again or fix video.path"),
    }


def test_wrong_shapes_name_the_key_and_the_good_record_still_publishes(server, env, media, tmp_path):
    """A key cs-publish reads, of the wrong type, or a file that is gone: exactly one line naming the record,
    the key and the stage to re-run, in --dry-run, --check and for real; with -k each bad record passes on
    with an _error and the good record after them is uploaded."""
    good = make_record(media)
    cases = wrong_types(good, tmp_path)
    bad = [{**good, "id": name, **change} for name, (change, _) in cases.items()]
    for args in (["--dry-run"], ["--check"], []):
        done = publish(server, env, [*bad, good], "-k", *args)
        assert done.returncode == 3 and "Traceback" not in done.stderr and "unexpected" not in done.stderr, done.stderr
        errors = [line for line in done.stderr.splitlines() if ": error: " in line]
        assert errors == [f"cs-publish: error: <stdin>:{n}: record {name}: {says}"
                          for n, (name, (_, says)) in enumerate(cases.items(), 1)], args
        out = outputs(done)
        assert [r["id"] for r in out] == [*cases, "rec-1"] and all("_error" in r for r in out[:-1])
        assert [r["_error"]["message"] for r in out[:-1]] == [says for _, says in cases.values()]
        assert "_error" not in out[-1]
    assert "youtube" in out[-1] and len(server.state.videos) == 1
    # optional keys that are absent or null are none: no thumbnail, no captions, nothing for the ledger
    plain = {k: v for k, v in good.items() if k != "captions"}
    without = publish(server, env, [{**plain, "id": "plain", "thumb": None, "voice": None, "topic": None}], "--dry-run")
    assert without.returncode == 0 and "thumbnails/set" not in without.stderr, without.stderr
    assert "captions?" not in without.stderr and "error" not in without.stderr


def test_a_wrong_ledger_key_fails_before_the_upload(server, env, media):
    """voice and the concept keys are only read after the upload (into the ledger for cs-stats): a wrong type
    there once failed the record with 'unexpected AttributeError' after the video was sent."""
    record = {**make_record(media), "voice": "x"}
    done = publish(server, env, [record])
    assert done.returncode == 1 and done.stderr.splitlines() == [
        'cs-publish: error: <stdin>:1: record rec-1: voice should be an object {engine, voice, path, duration_s, '
        'segments}, got "x"; re-run cs-voice --force for this record or fix the record']
    assert not server.state.videos and not server.state.sessions and server.state.calls == []


# --- the review gate (cs-review) ----------------------------------------------------------------------------

DEMO_SCRIPT = {"title": "Why the Sky Is Blue", "language": "en", "cta": "Subscribe for more about the sky.",
               "segments": [{"text": "The Greatest Show on Earth; A Perfect Day in Hell (Las Vegas) ; The Power of Love "
                                     "& War Movie; How to Build a Fire with Mulatto Women and Men 2; The Last Summer.",
                             "visual": "sky", "on_screen": "Your video title with at most five words"}]}


def gated(env: dict) -> dict:
    return {**env, "CS_REQUIRE_REVIEW": "1"}


def test_gate_refuses_the_demo_script_until_a_person_approves(server, env, media):
    """`make demo`'s "Why the Sky Is Blue" (a title list with a slur, our prompt on screen) is never uploaded,
    even as a private draft and with --no-review, before any quota is spent; approved, it goes up."""
    record = {**make_record(media, privacy="private"), "topic": "why the sky is blue", "script": DEMO_SCRIPT}
    done = publish(server, gated(env), [record], "-k", "--no-review")
    assert done.returncode == 3, done.stderr
    [out] = outputs(done)
    message = out["_error"]["message"]
    assert "offensive" in message and "Mulatto" in message and "prompt-echo" in message and "cs-review" in message
    assert not server.state.videos and not server.state.calls  # refused before any call
    approved = {**record, "review": {"status": "approved", "by": "web", "flags": [], "edits": {}}}
    done = publish(server, gated(env), [approved])
    assert done.returncode == 0, done.stderr
    assert_one_complete_video(server, media)


def test_gate_needs_an_approval_for_public_unlisted_and_scheduled_uploads(server, env, media):
    records = [{**make_record(media, privacy="public"), "id": "public"},
               {**make_record(media, privacy="unlisted"), "id": "unlisted"},
               {**make_record(media, privacy="private", publish_at="2099-01-02T15:00:00Z"), "id": "scheduled"},
               {**make_record(media, privacy="public"), "id": "changes", "review": {"status": "changes"}},
               {**make_record(media, privacy="public"), "id": "rejected", "review": {"status": "rejected"}}]
    done = publish(server, gated(env), records, "-k")
    assert done.returncode == 3, done.stderr
    out = {r["id"]: r for r in outputs(done)}
    for rid in ("public", "unlisted", "scheduled", "changes"):
        assert "review.status approved" in out[rid]["_error"]["message"] and "cs-review" in out[rid]["_error"]["message"]
    assert "_error" not in out["rejected"] and "youtube" not in out["rejected"]  # passed on, not uploaded
    assert not server.state.videos and not server.state.calls
    # a private draft needs no review, and --no-review (or CS_REQUIRE_REVIEW=0) lets a clean public one go
    done = publish(server, gated(env), [{**make_record(media, privacy="private"), "id": "draft"}])
    assert done.returncode == 0, done.stderr
    done = publish(server, gated(env), [records[0]], "--no-review")  # the same file: the ledger answers
    assert done.returncode == 0 and "youtube" in outputs(done)[0], done.stderr
    assert "_error" not in outputs(publish(server, {**env, "CS_REQUIRE_REVIEW": "0"}, [records[1]]))[0]


# --- languages: localizations and one caption track per language ------------------------------------------


def translated_record(media, folder: Path, languages=("es", "de")) -> dict:
    record = make_record(media, privacy="private", playlist=None)
    record["translations"] = {}
    for language in languages:
        srt = folder / f"captions.{language}.srt"
        srt.write_text(f"1\n00:00:00,000 --> 00:00:01,200\nHola ({language}).\n\n", encoding="utf-8")
        record["translations"][language] = {"title": f"Prueba {language}", "description": f"Un video ({language}).",
                                            "tags": ["prueba"], "srt": str(srt), "vtt": None}
    return record


def caption_inserts(server) -> int:
    return sum(1 for method, path, _ in server.state.calls if method == "POST" and "/captions" in path)


def test_translations_become_localizations_and_caption_tracks_once(server, env, media, tmp_path):
    record = translated_record(media, tmp_path)
    done = publish(server, env, [record])
    assert done.returncode == 0, done.stderr
    [out] = outputs(done)
    video_id = assert_one_complete_video(server, media)
    resource = server.state.videos[video_id]["resource"]
    assert resource["snippet"]["defaultLanguage"] == "en" and resource["snippet"]["defaultAudioLanguage"] == "en"
    assert resource["localizations"] == {"de": {"title": "Prueba de", "description": "Un video (de)."},
                                         "es": {"title": "Prueba es", "description": "Un video (es)."}}
    tracks = {c["resource"]["snippet"]["language"]: c for c in server.state.captions.values()}
    assert sorted(tracks) == ["de", "en", "es"]
    assert tracks["es"]["resource"]["snippet"]["name"] == "Spanish"
    assert tracks["es"]["path"].read_text(encoding="utf-8") == Path(record["translations"]["es"]["srt"]).read_text()
    youtube = out["youtube"]
    assert youtube["localizations"] == ["de", "es"]
    assert youtube["captions"] == {lang: c["resource"]["id"] for lang, c in tracks.items()}
    assert "set localizations de, es" in done.stderr
    # a re-run sends nothing: no second video, no second caption track (the server refuses duplicates too)
    again = publish(server, env, [record])
    assert again.returncode == 0, again.stderr
    assert outputs(again)[0]["youtube"]["captions"] == youtube["captions"]
    assert caption_inserts(server) == 3 and len(server.state.videos) == 1


def test_translations_added_after_the_upload_go_in_a_videos_update(server, env, media, tmp_path):
    first = make_record(media, privacy="private", playlist=None)
    assert publish(server, env, [first]).returncode == 0
    later = translated_record(media, tmp_path, ("fr",))
    done = publish(server, env, [later])
    assert done.returncode == 0, done.stderr
    video_id = assert_one_complete_video(server, media)
    assert server.state.videos[video_id]["resource"]["localizations"] == {"fr": {"title": "Prueba fr", "description": "Un video (fr)."}}
    assert any(method == "PUT" and path.startswith("/youtube/v3/videos") for method, path, _ in server.state.calls)
    assert outputs(done)[0]["youtube"]["localizations"] == ["fr"]


def test_localizations_need_a_default_language(server, env, media, tmp_path):
    record = translated_record(media, tmp_path, ("es",))
    record["meta"]["language"] = None
    done = publish(server, env, [record], "-k")
    assert done.returncode == 3 and "defaultLanguage" in done.stderr and not server.state.videos
    # and the test server refuses them as YouTube does
    video_id = server.state.add_video("No language")
    access, _ = server.state.issue_access_token(server.state.issue_refresh_token())
    request = urllib.request.Request(f"{server.url}/youtube/v3/videos?part=localizations", method="PUT",
                                     data=json.dumps({"id": video_id, "localizations": {"es": {"title": "Hola"}}}).encode(),
                                     headers={"Authorization": f"Bearer {access}", "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 400 and b"defaultLanguageNotSet" in refused.value.read()
