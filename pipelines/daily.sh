#!/usr/bin/env bash
# Cron entry point: build today's videos from a topics file, never two runs at once (flock), logs on stderr.
#   crontab:  15 3 * * *  /path/to/creator-tools/pipelines/daily.sh /path/to/topics.txt >> /var/log/creator-tools.log 2>&1
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
topics=$(realpath "${1:-$here/../examples/topics.txt}")
out=${CS_BATCH_DIR:-$here/build}
exec 9> "${CS_LOCK:-/tmp/creator-tools-daily.lock}"
if ! flock -n 9; then
  echo "daily.sh: another run holds the lock; skipping this one" >&2
  exit 0
fi
make -C "$here" -j "${JOBS:-2}" videos TOPICS="$topics" OUT="$out"
