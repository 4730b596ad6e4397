"""The whole product as a user runs it: one shell pipeline from a topic to a video published on the loopback
YouTube server, on the bundled offline engines."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from youtube_server import YouTubeServer

BIN = Path(sys.executable).parent


@pytest.mark.slow
def test_topic_to_published_video_in_one_pipeline(tmp_path):
    with YouTubeServer(tmp_path / "server") as server:
        token = server.state.token_file(tmp_path / "token.json", server.url)
        env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "CS_OUT_DIR": str(tmp_path / "files"),
               "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
               "NO_PROXY": "127.0.0.1,localhost"}
        pipeline = ("cs-idea 'home espresso' -n 1 --format short --seed 7 | cs-script --length 24 --seed 7"
                    " | cs-voice | cs-caption | cs-visuals | cs-render | cs-thumb -n 2 | cs-meta --seed 7 --playlist 'Coffee'"
                    f" | cs-publish --api-endpoint {server.url} --token {token} > published.jsonl")
        done = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=1500)
        assert done.returncode == 0, done.stderr
        (record,) = [json.loads(line) for line in (tmp_path / "published.jsonl").read_text().splitlines()]
        for key in ("title", "script", "voice", "captions", "visuals", "video", "thumb", "meta", "youtube"):
            assert key in record, key
        youtube = record["youtube"]
        assert youtube["thumbnail_set"] and youtube["caption_id"] and youtube["playlist_item_id"]
        assert list(server.state.videos) == [youtube["video_id"]]
        video = (tmp_path / record["video"]["path"]) if not os.path.isabs(record["video"]["path"]) else Path(record["video"]["path"])
        assert server.state.video_sha256(youtube["video_id"]) == hashlib.sha256(video.read_bytes()).hexdigest()
        shots = record["visuals"]  # offline: an emoji card per sentence, covering the voice with no gap
        assert len(shots) >= 3 and {s["kind"] for s in shots} == {"card"} and shots[0]["start"] == 0
        assert all(a["end"] == b["start"] for a, b in zip(shots, shots[1:]))
        assert abs(shots[-1]["end"] - record["voice"]["duration_s"]) < 0.05
        # cards are not generated realistic imagery: nothing to disclose
        assert record["meta"]["synthetic_media"] is False and record["meta"]["made_for_kids"] is False
