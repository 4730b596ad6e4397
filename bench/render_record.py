"""Build a cs-render input record from the render anchor's inputs (make_inputs.py output):
script segments from script.json, voice from narration.wav with the segment timeline, caption words
spread over each SRT cue by length. `--repeat N` strings the narration N times (a long-video memory run).

usage: render_record.py ANCHOR_DIR INPUT_DIR [--repeat N] [--format short|long] > record.json
"""
import argparse
import json
import re
import subprocess
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("anchor")
parser.add_argument("inputs")
parser.add_argument("--repeat", type=int, default=1)
parser.add_argument("--format", default="short")
args = parser.parse_args()
anchor, inputs = Path(args.anchor), Path(args.inputs).resolve()
script = json.loads((anchor / "script.json").read_text())
timeline = json.loads((inputs / "timeline.json").read_text())


def clock(text):
    h, m, s = text.replace(",", ".").split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


cues = []
for block in (inputs / "captions.srt").read_text().strip().split("\n\n"):
    lines = block.strip().splitlines()
    start, end = (clock(t.strip()) for t in lines[1].split("-->"))
    cues.append((start, end, " ".join(lines[2:])))

voice = inputs / "narration.wav"
if args.repeat > 1:
    voice = inputs / f"narration_x{args.repeat}.wav"
    if not voice.exists():
        subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-stream_loop", str(args.repeat - 1), "-i",
                        str(inputs / "narration.wav"), "-c", "copy", str(voice)], check=True)

segments, spans, words = [], [], []
for rep in range(args.repeat):
    offset = rep * timeline["total"]
    for i, seg in enumerate(script["segments"]):
        start = offset + sum(timeline["durations"][:i])
        segments.append({"text": seg["text"], "visual": f"bg{i}", "on_screen": f"{i + 1}/8"})
        spans.append({"start": round(start, 3), "end": round(start + timeline["durations"][i], 3)})
    for start, end, text in cues:
        tokens = text.split()
        total = sum(len(t) + 1 for t in tokens)
        at = start
        for token in tokens:
            length = (end - start) * (len(token) + 1) / total
            words.append({"word": token, "start": round(offset + at, 3), "end": round(offset + at + length, 3)})
            at += length
duration = timeline["total"] * args.repeat
record = {
    "id": f"anchor-x{args.repeat}-{args.format}",
    "format": args.format,
    "script": {"title": script["title"], "language": "en", "segments": segments, "cta": ""},
    "voice": {"engine": "espeak", "voice": "en", "path": str(voice), "duration_s": round(duration, 3), "segments": spans},
    "captions": {"language": "en", "words": words, "srt": str(inputs / "captions.srt"), "vtt": None, "ass": None},
}
print(json.dumps(record))
