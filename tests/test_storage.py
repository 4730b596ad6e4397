"""Artifacts in an S3-compatible store (CS_OUT_DIR=s3://bucket/prefix) against a real moto server on
127.0.0.1, and the shared "done" check: a record's work is done only while its files (local or objects)
still exist. The pipelines are real shell pipelines of the installed commands (espeak-ng voice, the bundled
whisper, ffmpeg, Pillow)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from media_fixtures import script_record  # noqa: E402
from loopback import free_port, wait_until  # noqa: E402
from s3_server import UNSET, S3Server  # noqa: E402

BIN = Path(sys.executable).parent
BUCKET = "media"
TEXTS = ["Fresh beans make better coffee.", "Grind them just before you brew."]
PIPELINE = "cs-voice --engine espeak | cs-caption | cs-render | cs-thumb -n 1"
STAGES = [("voice", "cs-voice --engine espeak"), ("caption", "cs-caption"), ("render", "cs-render"),
          ("thumb", "cs-thumb -n 1")]


def environment(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in UNSET and not k.startswith("AWS_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return {**env, **extra}


def sh(command: str, cwd: Path, records: list[dict] | str, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    text = records if isinstance(records, str) else "".join(json.dumps(r) + "\n" for r in records)
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], input=text, capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def parse(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def metric(path: Path, name: str, command: str) -> int:
    found = re.search(rf'^cs_records_{name}_total{{command="{command}"}} (\d+)$', path.read_text(), re.MULTILINE)
    assert found, path.read_text()
    return int(found.group(1))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_of(record: dict) -> dict[str, str]:
    """Every artifact a record points at, by where it sits in the record."""
    found = {"voice": record["voice"]["path"], "video": record["video"]["path"]}
    found.update({f"captions.{kind}": record["captions"][kind] for kind in ("srt", "vtt", "ass")})
    found.update({f"thumbs.{n}": thumb["path"] for n, thumb in enumerate(record["thumbs"])})
    return found


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    with S3Server(tmp_path_factory.mktemp("s3") / "moto.log") as server:
        server.make_bucket(BUCKET)
        yield server


def s3_env(s3: S3Server, prefix: str, cache: Path) -> dict:
    return environment(**s3.env, CS_OUT_DIR=f"s3://{BUCKET}/{prefix}", CS_CACHE_DIR=str(cache))


def object_bytes(s3: S3Server, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()


@pytest.fixture(scope="module")
def runs(s3, tmp_path_factory):
    """The same records through the same pipeline twice: into a local folder, and into the bucket."""
    work = tmp_path_factory.mktemp("runs")
    records = [script_record(TEXTS, "Subscribe.", record_id="brew", fmt="short")]
    local = sh(PIPELINE, work, records, environment(CS_OUT_DIR=str(work / "out"), CS_CACHE_DIR=str(work / "c0")))
    assert local.returncode == 0, local.stderr
    remote = sh(PIPELINE, work, records, s3_env(s3, "run1", work / "cache"))
    assert remote.returncode == 0, remote.stderr
    return {"work": work, "local": parse(local.stdout), "s3": parse(remote.stdout), "records": records}


@pytest.mark.slow
def test_pipeline_into_s3_matches_a_local_run(s3, runs):
    (local,), (remote,) = runs["local"], runs["s3"]
    assert sorted(local) == sorted(remote)  # the same keys
    assert remote["id"] == local["id"] == "brew"
    stored = s3.keys(BUCKET, "run1/")
    for where, uri in files_of(remote).items():
        assert uri.startswith(f"s3://{BUCKET}/run1/"), (where, uri)
        assert uri.removeprefix(f"s3://{BUCKET}/") in stored
        assert not Path(files_of(local)[where]).as_posix().startswith("s3:")
    # deterministic stages give the same bytes: espeak's WAV, whisper's captions, the thumbnail's source video
    for where in ("voice", "captions.srt", "captions.vtt", "captions.ass"):
        assert digest(object_bytes(s3, files_of(remote)[where])) == digest(Path(files_of(local)[where]).read_bytes()), where
    assert remote["captions"]["words"] == local["captions"]["words"]
    assert remote["voice"]["duration_s"] == local["voice"]["duration_s"]
    video = object_bytes(s3, remote["video"]["path"])
    assert digest(video) == remote["video"]["sha256"] and len(video) == remote["video"]["size_bytes"]
    for key in ("duration_s", "width", "height", "fps"):
        assert remote["video"][key] == local["video"][key], key


@pytest.mark.slow
def test_rerun_against_the_store_uploads_and_computes_nothing(s3, runs, tmp_path):
    before = len(s3.requests("PUT"))
    gets = len(s3.requests("GET"))
    records = runs["s3"]
    env = s3_env(s3, "run1", tmp_path / "fresh-cache")  # another machine: nothing cached, nothing staged
    command = " | ".join(f"{cmd} --metrics {name}.prom" for name, cmd in STAGES)
    started = time.monotonic()
    again = sh(command, tmp_path, records, env)
    assert again.returncode == 0, again.stderr
    assert parse(again.stdout) == records
    for name, _ in STAGES:
        assert metric(tmp_path / f"{name}.prom", "skipped", f"cs-{name}") == 1, name
    assert len(s3.requests("PUT")) == before  # not one object sent
    assert [line for line in s3.requests("GET")[gets:] if "list-type" not in line] == []  # nor fetched
    assert time.monotonic() - started < 60


@pytest.mark.slow
def test_a_deleted_object_is_made_again(s3, runs, tmp_path):
    (record,) = runs["s3"]
    uri = record["voice"]["path"]
    original = object_bytes(s3, uri)
    s3.client().delete_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))
    env = s3_env(s3, "run1", tmp_path / "cache")  # a fresh worker: the voice is really spoken again
    done = sh("cs-voice --engine espeak --metrics m.prom", tmp_path, [record], env)
    assert done.returncode == 0, done.stderr
    assert metric(tmp_path / "m.prom", "skipped", "cs-voice") == 0
    (redone,) = parse(done.stdout)
    assert redone["voice"]["path"] == uri and object_bytes(s3, uri) == original
    # the render's object too: cs-render asks the store, not its memory
    video = record["video"]["path"]
    s3.client().delete_object(Bucket=BUCKET, Key=video.removeprefix(f"s3://{BUCKET}/"))
    done = sh("cs-render --metrics r.prom", tmp_path, [record], s3_env(s3, "run1", runs["work"] / "cache"))
    assert done.returncode == 0, done.stderr
    assert metric(tmp_path / "r.prom", "skipped", "cs-render") == 0
    assert parse(done.stdout)[0]["video"]["path"] == video
    assert digest(object_bytes(s3, video)) == record["video"]["sha256"]


@pytest.mark.slow
def test_visuals_shots_go_to_the_store_and_a_deleted_one_is_made_again(s3, runs, tmp_path):
    (record,) = runs["s3"]
    env = s3_env(s3, "run1", tmp_path / "cache")
    first = sh("cs-visuals --provider cards", tmp_path, [record], env)
    assert first.returncode == 0, first.stderr
    (shots,) = parse(first.stdout)
    uris = [shot["path"] for shot in shots["visuals"]]
    assert uris and all(uri.startswith(f"s3://{BUCKET}/run1/visuals/") for uri in uris)
    assert {uri.removeprefix(f"s3://{BUCKET}/") for uri in uris} <= set(s3.keys(BUCKET, "run1/visuals/"))
    again = sh("cs-visuals --provider cards --metrics v.prom", tmp_path, [shots], env)
    assert again.returncode == 0 and metric(tmp_path / "v.prom", "skipped", "cs-visuals") == 1, again.stderr
    s3.client().delete_object(Bucket=BUCKET, Key=uris[0].removeprefix(f"s3://{BUCKET}/"))
    redo = sh("cs-visuals --provider cards --metrics r.prom", tmp_path, [shots], s3_env(s3, "run1", tmp_path / "c2"))
    assert redo.returncode == 0 and metric(tmp_path / "r.prom", "skipped", "cs-visuals") == 0, redo.stderr
    assert [shot["path"] for shot in parse(redo.stdout)[0]["visuals"]] == uris
    assert uris[0].removeprefix(f"s3://{BUCKET}/") in s3.keys(BUCKET, "run1/visuals/")


@pytest.mark.slow
def test_deleted_local_mp4_is_rendered_again(runs, tmp_path):
    """Issue 10, item 18: cs-render skipped a record whose MP4 was deleted, trusting `_inputs` alone."""
    (record,) = runs["local"]
    env = environment(CS_OUT_DIR=str(runs["work"] / "out"))
    skip = sh("cs-render --metrics skip.prom", runs["work"], [record], env)
    assert skip.returncode == 0 and metric(runs["work"] / "skip.prom", "skipped", "cs-render") == 1, skip.stderr
    video = Path(runs["work"]) / record["video"]["path"] if not os.path.isabs(record["video"]["path"]) else Path(record["video"]["path"])
    video.unlink()
    redo = sh("cs-render --metrics redo.prom", runs["work"], [record], env)
    assert redo.returncode == 0, redo.stderr
    assert metric(runs["work"] / "redo.prom", "skipped", "cs-render") == 0
    assert video.is_file() and parse(redo.stdout)[0]["video"]["path"] == record["video"]["path"]
    # and each stage's own files: a deleted caption file redoes cs-caption, through the same shared check
    srt = Path(record["captions"]["srt"])
    srt.unlink()
    again = sh("cs-caption --metrics c.prom", runs["work"], [record], env)
    assert again.returncode == 0 and metric(runs["work"] / "c.prom", "skipped", "cs-caption") == 0, again.stderr
    assert srt.is_file()


@pytest.mark.slow
def test_an_input_object_is_downloaded_once(s3, runs, tmp_path):
    (record,) = runs["s3"]
    voice_key = record["voice"]["path"].removeprefix("s3://")
    env = s3_env(s3, "captions-again", tmp_path / "cache")
    before = sum(1 for line in s3.requests("GET") if line.startswith(f"/{voice_key}"))
    for _ in range(2):
        done = sh("cs-caption --force", tmp_path, [record], env)
        assert done.returncode == 0, done.stderr
        assert parse(done.stdout)[0]["captions"]["srt"].startswith(f"s3://{BUCKET}/captions-again/")
    fetched = sum(1 for line in s3.requests("GET") if line.startswith(f"/{voice_key}"))
    assert fetched - before == 1


def test_missing_bucket_is_one_line_naming_cs_out_dir(s3, tmp_path):
    env = environment(**s3.env, CS_OUT_DIR="s3://no-such-bucket/x", CS_CACHE_DIR=str(tmp_path / "cache"))
    done = sh("cs-voice --engine espeak", tmp_path, [script_record(TEXTS)], env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith("cs-voice: error: bucket 'no-such-bucket' does not exist")
    assert "CS_OUT_DIR" in done.stderr and "Traceback" not in done.stderr


def test_bad_credentials_are_one_line_naming_the_variable(tmp_path):
    with S3Server(tmp_path / "moto.log", auth=True) as strict:  # checks keys like a real store
        env = environment(**{**strict.env, "AWS_ACCESS_KEY_ID": "AKIANOTAREALKEY00000"},
                          CS_OUT_DIR=f"s3://{BUCKET}/x", CS_CACHE_DIR=str(tmp_path / "cache"))
        done = sh("cs-voice --engine espeak", tmp_path, [script_record(TEXTS)], env)
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "AWS_ACCESS_KEY_ID" in done.stderr and "Traceback" not in done.stderr


def test_unreachable_endpoint_names_aws_endpoint_url(tmp_path):
    env = environment(AWS_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", AWS_ACCESS_KEY_ID="k",
                      AWS_SECRET_ACCESS_KEY="s", AWS_DEFAULT_REGION="us-east-1",
                      AWS_MAX_ATTEMPTS="1", CS_OUT_DIR=f"s3://{BUCKET}/x", CS_CACHE_DIR=str(tmp_path / "c"))
    done = sh("cs-voice --engine espeak", tmp_path, [script_record(TEXTS)], env)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "AWS_ENDPOINT_URL" in done.stderr


RACER = r"""
import os, sys, time
from pathlib import Path
from creator_tools import artifacts
if sys.argv[3:] == ["stale-head"]:  # a worker whose existence check ran before the object was there
    from creator_tools import storage
    real, calls = storage.S3Store.head, []
    storage.S3Store.head = lambda self, key: None if not calls.append(key) and len(calls) == 1 else real(self, key)
path = artifacts.artifact_path("race", "rec", {"same": "inputs"}, ".bin")
artifacts.atomic_write_bytes(path, sys.argv[1].encode() * 1000000)
Path(sys.argv[2] + "." + sys.argv[1]).touch()  # written: the test waits for every racer's mark
while not os.path.exists(sys.argv[2]):  # all racers start publishing at the same moment
    time.sleep(0.001)
print(artifacts.publish(path))
"""


def test_racing_publishers_store_one_object_and_all_succeed(s3, tmp_path):
    go = tmp_path / "go"
    racers = []
    for number in range(6):  # each a separate worker: its own cache, its own bytes (to see who won)
        env = s3_env(s3, "race", tmp_path / f"cache{number}")
        racers.append(subprocess.Popen([sys.executable, "-c", RACER, f"worker{number}", str(go)], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    wait_until(lambda: all((tmp_path / f"go.worker{n}").exists() for n in range(6)), 120,
               what="the racers")  # all of them written and waiting (a fixed 3 s used to stand in)
    go.touch()
    results = [racer.communicate(timeout=60) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers), [err for _, err in results]
    uris = {out.strip() for out, _ in results}
    assert len(uris) == 1
    (uri,) = uris
    assert s3.keys(BUCKET, "race/") == [uri.removeprefix(f"s3://{BUCKET}/")]
    key = "/" + uri.removeprefix("s3://")
    body = object_bytes(s3, uri)
    winners = [n for n in range(6) if body == f"worker{n}".encode() * 1000000]
    assert len(winners) == 1
    found = s3.client().head_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))
    assert found["Metadata"]["sha256"] == digest(body)  # the object is one racer's, whole, with its own hash
    # Losers find the object there (head, or a conditional PUT answered 412) and say that it holds other bytes.
    warned = [n for n, (_, err) in enumerate(results) if "stored by another worker" in err]
    assert winners[0] not in warned and warned, [err for _, err in results]
    writes = [status for path, status in s3.request_statuses("PUT") if path == key]
    assert any(status < 300 for status in writes), writes
    # (moto checks If-None-Match and then writes without a lock, so two racers can both get 200 there, and a
    # 500 that botocore retries; S3, MinIO and R2 make the check and the write one step.)
    # The conditional PUT itself: a worker that found nothing, then sends its bytes, is refused and succeeds.
    late = subprocess.run([sys.executable, "-c", RACER, "late", str(go), "stale-head"], capture_output=True,
                          text=True, env=s3_env(s3, "race", tmp_path / "late"), timeout=60)
    assert late.returncode == 0 and late.stdout.strip() == uri, late.stderr
    assert "stored by another worker" in late.stderr
    assert [status for path, status in s3.request_statuses("PUT") if path == key][len(writes):] == [412]
    assert object_bytes(s3, uri) == body


def test_publish_reads_its_files_from_the_store(s3, tmp_path):
    """cs-publish on a record whose video, thumbnail and captions are s3:// URIs: the bytes YouTube stores
    are the objects' bytes, the video is read from the store chunk by chunk (no local copy), and the record
    keeps its URIs. --dry-run and --check read it the same way."""
    from PIL import Image

    from youtube_server import YouTubeServer

    video, thumb, srt = tmp_path / "v.mp4", tmp_path / "t.jpg", tmp_path / "c.srt"
    # lossless, so about 1 MB: the upload takes several 256 KiB chunks, each one ranged read of the object
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25", "-t", "2",
                    "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv420p", str(video)], check=True)
    Image.new("RGB", (1280, 720), (20, 90, 200)).save(thumb, quality=90)
    srt.write_text("1\n00:00:00,000 --> 00:00:00,900\nFrom the bucket.\n\n", encoding="utf-8")
    uris = {}
    for name, path in (("video", video), ("thumb", thumb), ("srt", srt)):
        s3.client().put_object(Bucket=BUCKET, Key=f"published/{path.name}", Body=path.read_bytes())
        uris[name] = f"s3://{BUCKET}/published/{path.name}"
    record = {"id": "pub-1", "video": {"path": uris["video"], "sha256": digest(video.read_bytes())},
              "thumb": {"path": uris["thumb"]}, "captions": {"language": "en", "srt": uris["srt"]},
              "meta": {"title": "From the bucket", "description": "A test.", "tags": ["test"], "chapters": [],
                       "category_id": "28", "language": "en", "privacy": "private", "publish_at": None,
                       "made_for_kids": False, "synthetic_media": True, "playlist": None}}
    with YouTubeServer(tmp_path / "yt") as server:
        token = server.state.token_file(tmp_path / "token.json", server.url)
        env = environment(**s3.env, CS_CACHE_DIR=str(tmp_path / "cache"), XDG_STATE_HOME=str(tmp_path / "state"),
                          XDG_CONFIG_HOME=str(tmp_path / "config"), NO_PROXY="127.0.0.1,localhost")
        for args in ("--dry-run", "--check"):
            looked = sh(f"cs-publish --api-endpoint {server.url} --token {token} {args}", tmp_path, [record], env)
            assert looked.returncode == 0 and "Traceback" not in looked.stderr, looked.stderr
        assert f"{video.stat().st_size} bytes" in looked.stderr and not server.state.videos
        done = sh(f"cs-publish --api-endpoint {server.url} --token {token} --chunk-size 256K", tmp_path, [record], env)
        assert done.returncode == 0, done.stderr
        (out,) = parse(done.stdout)
        (video_id,) = server.state.videos
        assert server.state.video_sha256(video_id) == digest(video.read_bytes())
        assert server.state.thumbnails[video_id]["path"].read_bytes() == thumb.read_bytes()
        assert server.state.captions[out["youtube"]["caption_id"]]["path"].read_bytes() == srt.read_bytes()
    assert out["video"]["path"] == uris["video"] and out["thumb"]["path"] == uris["thumb"]
    assert not list((tmp_path / "cache").rglob("v.mp4"))  # the video was streamed by ranges, never copied here


def test_a_records_missing_bucket_is_its_own_error_and_the_rest_flow(s3, runs, tmp_path):
    """A URI in a record pointing at a bucket that does not exist is that record's error: with -k the good
    record after it is still captioned. The same fault in CS_OUT_DIR stays one configuration error."""
    (record,) = runs["s3"]
    lost = {**record, "id": "lost", "voice": {**record["voice"], "path": "s3://no-such-bucket/voice.wav"}}
    unnamed = {**record, "id": "unnamed", "voice": {**record["voice"], "path": "s3:///voice.wav"}}
    env = s3_env(s3, "record-buckets", tmp_path / "cache")
    done = sh("cs-caption --force -k", tmp_path, [lost, unnamed, record], env)
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    out = parse(done.stdout)
    assert [r["id"] for r in out] == ["lost", "unnamed", record["id"]]
    assert "s3://no-such-bucket/voice.wav: bucket 'no-such-bucket' does not exist" in out[0]["_error"]["message"]
    assert "names no bucket" in out[1]["_error"]["message"] and "captions" in out[2]


def test_a_cache_folder_that_is_a_file_is_one_line(s3, runs, tmp_path):
    (record,) = runs["s3"]
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a folder")
    done = sh("cs-caption --force", tmp_path, [record], s3_env(s3, "cache-file", blocker))
    assert done.returncode == 1 and done.stderr.splitlines() == [
        f"cs-caption: error: the cache folder {blocker} is a file; point CS_CACHE_DIR at a folder (or unset it)"], done.stderr


def test_a_failed_bucket_check_is_not_kept(s3, monkeypatch):
    """storage.get_store once cached a store whose bucket check failed: the bucket made a moment later stayed
    "missing" for the life of the process (a cluster worker, a long -j run). core.once keeps no failure."""
    from creator_tools import storage

    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(storage.NoBucket):
        storage.get_store("s3", "made-later")
    s3.make_bucket("made-later")
    assert storage.get_store("s3", "made-later").head("nothing-here") is None

def test_review_page_serves_a_stored_video_through_the_cache(s3, tmp_path):
    """cs-review's page plays an s3:// video (fetched once into the cache) with ranges, like a local one."""
    import http.client
    from urllib.parse import urlsplit

    video = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=160x90:rate=10:duration=1", "-pix_fmt", "yuv420p", str(video)], check=True)
    s3.client().put_object(Bucket=BUCKET, Key="review/clip.mp4", Body=video.read_bytes())
    record = {"id": "stored", "video": {"path": f"s3://{BUCKET}/review/clip.mp4", "duration_s": 1.0}}
    proc = subprocess.Popen([str(BIN / "cs-review"), "--timeout", "60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=s3_env(s3, "review", tmp_path / "cache"))
    proc.stdin.write(json.dumps(record) + "\n")
    proc.stdin.close()
    proc.stdin = None
    url = urlsplit(proc.stderr.readline().split("open ", 1)[1].strip())

    def ask(method: str, path: str, headers: dict, body: bytes | None = None) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", url.port, timeout=30)
        connection.request(method, url.path + path, body=body, headers={"Host": url.netloc, **headers})
        answer = connection.getresponse()
        return answer.status, answer.read()

    status, data = ask("GET", "file/0/video", {"Range": "bytes=10-59"})
    assert status == 206 and data == video.read_bytes()[10:60]
    finish = json.dumps({"decisions": {"0": {"status": "approved"}}, "finish": True}).encode()
    assert ask("POST", "decide", {"Origin": f"http://{url.netloc}", "Content-Type": "application/json"}, finish)[0] == 200
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["review"]["status"] == "approved"
    assert json.loads(out)["video"]["path"] == f"s3://{BUCKET}/review/clip.mp4"  # the record keeps its URI
