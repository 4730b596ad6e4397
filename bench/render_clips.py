"""The many-clips case of bench/render.sh: a 60-second 1080x1920 short whose `visuals` are N stock-like clips
(testsrc2 and colour sources, made here once, CLIP_POOL of them: portrait 1080x1920 at 30 fps, landscape 1920x1080 at 25 fps
and 720x1280 at 30 fps, 4 s each, so long shots loop), rendered by cs-render while the summed RSS of its
whole process tree (Python, the encoder and the producers) is sampled every 20 ms; then floor.sh re-encodes
the output (bench/floor.sh, or $FLOOR). Prints one line per N.

usage: render_clips.py ANCHOR_DIR INPUT_DIR WORK_DIR RENDER N [N ...]
"""
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

anchor, inputs, work, render = (Path(a) for a in sys.argv[1:5])
counts = [int(n) for n in sys.argv[5:]] or [5, 15, 30]
SECONDS = 60.0
SIZES = [("1080x1920", 30), ("1920x1080", 25), ("720x1280", 30)]
POOL = int(os.environ.get("CLIP_POOL", "30"))  # distinct clip files; shots past it reuse them in turn (each
# shot still opens, decodes and scales its file afresh, so the render costs the same)


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args], check=True)


def clip(k: int) -> Path:
    path = work / "clips" / f"clip{k:02d}.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        size, rate = SIZES[k % len(SIZES)]
        source = f"testsrc2=s={size}:r={rate}:d=4" if k % 2 == 0 else \
            f"color=c=0x{(k * 2654435761) & 0xFFFFFF:06x}:s={size}:r={rate}:d=4"
        ffmpeg("-f", "lavfi", "-i", source, "-vf", "drawtext=text='%{n}':fontsize=120:x=40:y=40:fontcolor=white",
               "-c:v", "libx264", "-preset", "fast", "-pix_fmt", "yuv420p", str(path))
    return path


def record(count: int) -> dict:
    voice = work / "narration60.wav"
    if not voice.exists():
        ffmpeg("-i", str(inputs / "narration.wav"), "-t", str(SECONDS), str(voice))
    base = json.loads(subprocess.run([sys.executable, str(Path(__file__).with_name("render_record.py")), str(anchor),
                                      str(inputs)], capture_output=True, text=True, check=True).stdout)
    step = SECONDS / count
    visuals = [{"start": round(k * step, 3), "end": round((k + 1) * step, 3), "text": "", "query": "", "kind": "clip",
                "path": str(clip(k % POOL)), "provider": "bench", "asset_id": f"bench:{k}", "url": "", "author": "",
                "license": "", "synthetic": False, "duration_s": 4.0} for k in range(count)]
    words = [w for w in base["captions"]["words"] if w["end"] <= SECONDS]
    spans = [s for s in base["voice"]["segments"] if s["start"] < SECONDS]
    return {**base, "id": f"clips{count}", "voice": {**base["voice"], "path": str(voice), "duration_s": SECONDS,
                                                     "segments": spans},
            "captions": {**base["captions"], "words": words}, "visuals": visuals}


def tree_rss_kb(root: int) -> int:
    """Summed VmRSS of ROOT and all its descendants."""
    parents, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        parents[int(entry)] = int(fields.get("PPid", "0").strip())
        rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0]) if "VmRSS" in fields else 0
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


def cpu() -> float:
    """User + system seconds of the children this script has waited for (and theirs, recursively)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], stdin: str = "", env: dict | None = None) -> tuple[float, int, str, float]:
    started, cpu_before = time.monotonic(), cpu()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    process.stdin.write(stdin)
    process.stdin.close()
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_kb(process.pid))
        time.sleep(0.02)
    out = process.stdout.read()
    if process.returncode:
        sys.exit(f"{argv[0]} failed with exit {process.returncode}")
    return time.monotonic() - started, peak, out, cpu() - cpu_before


for count in counts:
    rec = record(count)
    env = {**os.environ, "CS_OUT_DIR": str(work / "clips-out")}
    subprocess.run(["rm", "-rf", str(work / "clips-out")], check=True)
    seconds, peak, out, used = timed([str(render), "-q", "--threads", "2", "--encoder", "libx264"], json.dumps(rec) + "\n", env)
    video = json.loads(out)["video"]["path"]
    floor_sh = os.environ.get("FLOOR") or str(Path(__file__).with_name("floor.sh"))
    floor, floor_peak, _, floor_used = timed(["bash", floor_sh, video])
    print(f"{count} clips, 60 s 1080x1920: cs-render {seconds:.1f} s (cpu {used:.1f} s), peak {peak // 1024} MB "
          f"(process tree) | floor {floor:.1f} s (cpu {floor_used:.1f} s), peak {floor_peak // 1024} MB | "
          f"ratio {seconds / floor:.2f}x wall, {used / floor_used:.2f}x cpu (bar 1.6x, 600 MB) | "
          f"load {open('/proc/loadavg').read().split()[0]}", flush=True)
