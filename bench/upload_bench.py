"""Upload throughput and peak memory of cs-publish against the loopback YouTube server.

Makes a real video of about SIZE_MB (raw 1080p frames in Matroska: ffprobe sees a real video and ffmpeg
writes it at disk speed), starts tests/youtube_server.py in a subprocess, publishes one record with
`cs-publish --api-endpoint`, and prints: file size, wall time, upload rate (cs-publish's own summary),
peak RSS of cs-publish, and whether the stored bytes' sha256 matches. Run through bench/upload.sh."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRAME = 1920 * 1080 * 3 // 2  # one yuv420p 1080p frame


def sha256(path: Path) -> str:
    from creator_tools.youtube.publisher import sha256_file

    return sha256_file(str(path))


def make_video(path: Path, size_mb: int) -> None:
    frames = max(1, size_mb * 1024 * 1024 // FRAME)
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-f", "lavfi", "-i", "color=c=gray:s=1920x1080:r=30",
                    "-frames:v", str(frames), "-c:v", "rawvideo", "-pix_fmt", "yuv420p", str(path)], check=True)


def run_once(work: Path, size_mb: int, chunk: str) -> dict:
    video = work / f"video-{size_mb}.mkv"
    started = time.monotonic()
    make_video(video, size_mb)
    made_s = time.monotonic() - started
    server_root = work / f"server-{size_mb}"
    token = work / f"token-{size_mb}.json"
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "youtube_server.py"), "--root", str(server_root),
                               "--token-file", str(token)], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        record = {"id": f"bench-{size_mb}", "video": {"path": str(video)},
                  "meta": {"title": f"Bench {size_mb} MB", "description": "bench", "tags": [], "privacy": "private"}}
        env = {**os.environ, "XDG_STATE_HOME": str(work / f"state-{size_mb}"), "NO_PROXY": "127.0.0.1"}
        cs_publish = str(Path(sys.executable).parent / "cs-publish")
        (work / "in.jsonl").write_text(json.dumps(record) + "\n")
        started = time.monotonic()
        with open(work / "in.jsonl") as stdin, open(work / "out.jsonl", "w") as stdout, open(work / "err.txt", "w") as stderr:
            child = subprocess.Popen([cs_publish, "--api-endpoint", url, "--token", str(token), "--chunk-size", chunk],
                                     stdin=stdin, stdout=stdout, stderr=stderr, env=env)
            _, status, usage = os.wait4(child.pid, 0)  # the rusage of cs-publish alone
            child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - started
        peak_kb = usage.ru_maxrss
        done = subprocess.CompletedProcess(child.args, child.returncode, (work / "out.jsonl").read_text(),
                                           (work / "err.txt").read_text())
        if done.returncode != 0:
            raise SystemExit(f"cs-publish failed ({done.returncode}):\n{done.stderr}")
        rate = re.search(r"sent (.+?) in ([\d.]+) s \(([\d.]+) MB/s\)", done.stderr)
        stored = list((server_root / "videos").glob("*.bin"))
        same = len(stored) == 1 and sha256(stored[0]) == sha256(video)
        return {"size_mb": round(video.stat().st_size / 1e6, 1), "make_s": round(made_s, 1), "wall_s": round(wall, 1),
                "upload_s": float(rate[2]) if rate else None, "upload_mb_s": float(rate[3]) if rate else None,
                "peak_rss_mb": round(peak_kb / 1024, 1), "videos": len(stored), "sha256_match": same,
                "chunk": chunk}
    finally:
        server.terminate()
        server.wait(30)
        for leftover in [video, *(server_root / "videos").glob("*.bin")]:
            leftover.unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1024", help="file sizes in MB, comma separated")
    parser.add_argument("--chunk-size", default="16M")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cs-upload-bench-") as temp:
        for size in (int(s) for s in args.sizes.split(",")):
            result = run_once(Path(temp), size, args.chunk_size)
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
