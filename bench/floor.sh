#!/bin/bash
# The physical floor with cs-render's own encoder settings: re-encode a finished video once (decode + encode,
# no compositing) with the x264 arguments cs-render uses (media/graph.py encoder_args: YouTube's upload
# settings, 2 threads), audio copied. The render anchor's floor.sh is the same re-encode with the anchor's
# older settings (3 B-frames, 250-frame GOP): comparing a render at the upload settings with it would flatter
# the floor, so bench/render.sh times this one.
#
# usage: bench/floor.sh VIDEO        env: PY=python with creator_tools installed
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PY:-$(dirname "$here")/.venv/bin/python}
mapfile -t args < <("$py" -c 'from creator_tools.media.graph import encoder_args; print("\n".join(encoder_args("libx264", 2)))')
ffmpeg -y -loglevel error -i "$1" "${args[@]}" -pix_fmt yuv420p -c:a copy -f mp4 /dev/null
