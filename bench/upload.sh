#!/bin/sh
# Upload throughput and peak memory of cs-publish against the loopback YouTube server (tests/youtube_server.py).
# Prints one JSON line per file size: size_mb, wall_s (hash + probe + upload), upload_s and upload_mb_s
# (cs-publish's own summary), peak_rss_mb of cs-publish, videos stored and whether their sha256 matches.
#   bench/upload.sh                 # 100 MB and 1 GB files, 16 MiB chunks
#   bench/upload.sh --sizes 1024 --chunk-size 64M
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-$here/../.venv/bin/python}
[ -x "$python" ] || python=python3
exec "$python" "$here/upload_bench.py" "$@"
