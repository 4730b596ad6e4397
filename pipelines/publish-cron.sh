#!/bin/sh
# Publish the day's finished videos, scheduled one per day over the coming week; leave deferred ones
# (quota or rate limits: cs-publish exit 4) for the next run. Nobody watches at 3 a.m., so `cs-review
# --auto approve-clean` approves only records the content checks find nothing to block in; a flagged one
# stays unreviewed, cs-publish refuses it (an _error naming the finding), and a person reviews it with
# `cs-review -i $CS_PUBLISHED_DIR/<name>.jsonl`. Copy it, set the paths, add a crontab line:
#
#   # m h dom mon dow  command
#   17 3 * * *  $HOME/creator-tools/pipelines/publish-cron.sh >> $HOME/.local/state/creator-tools/publish.log 2>&1
#
# Inputs: every *.jsonl in $CS_READY_DIR (records with video, thumb, captions, meta: the output of
# `... | cs-thumb | cs-meta`). Outputs: $CS_PUBLISHED_DIR/<name>.jsonl with the `youtube` key added.
# Re-running is safe: a file already on the channel (same sha256) is never uploaded twice, and a killed
# upload resumes where the server stopped. Quota: 10000 units a day, about 6 uploads with thumbnails and
# captions; what does not fit is deferred and picked up tomorrow, because the input file stays in place
# until every record in it is published.
set -u

CS_BIN=${CS_BIN:-$HOME/creator-tools/.venv/bin}
CS_READY_DIR=${CS_READY_DIR:-$HOME/videos/ready}
CS_PUBLISHED_DIR=${CS_PUBLISHED_DIR:-$HOME/videos/published}
CS_YOUTUBE_TOKEN=${CS_YOUTUBE_TOKEN:-$HOME/.config/creator-tools/youtube-token.json}
SCHEDULE_EVERY_H=${SCHEDULE_EVERY_H:-24}   # one video a day: a day's batch spreads over the week
QUOTA=${QUOTA:-10000}
LOCK=${XDG_RUNTIME_DIR:-/tmp}/creator-tools-publish.lock
export CS_YOUTUBE_TOKEN

# One run at a time: a slow upload must not overlap the next cron start (the ledger would keep them from
# making duplicates, but two uploads of one file would waste bandwidth and quota).
exec 9>"$LOCK"
if ! flock -n 9; then
    echo "publish-cron: another run holds $LOCK; leaving" >&2
    exit 0
fi

mkdir -p "$CS_PUBLISHED_DIR"
status=0
for ready in "$CS_READY_DIR"/*.jsonl; do
    [ -e "$ready" ] || continue
    name=$(basename "$ready")
    out="$CS_PUBLISHED_DIR/$name"
    # -k: a bad record (thumbnail over 2 MB, title too long) becomes an _error record, found before any
    # quota is spent, and the others go on. -o replaces $out only when the run ends (exit 0, 3 or 4).
    # A record a person already approved keeps its review; the rest are judged by the rule.
    "$CS_BIN/cs-review" -q -k --auto approve-clean -i "$ready" \
        | "$CS_BIN/cs-publish" -k --quota "$QUOTA" --schedule-every "$SCHEDULE_EVERY_H" \
            --metrics "$CS_PUBLISHED_DIR/.cs-publish.prom" -o "$out"
    code=$?
    case $code in
        0)  rm -f "$ready"                                 # all published: the input is done
            echo "publish-cron: $name published" >&2 ;;
        4)  echo "publish-cron: $name: some records deferred (quota); the next run continues" >&2 ;;
        3)  echo "publish-cron: $name: some records failed; see _error in $out" >&2
            status=3 ;;
        *)  echo "publish-cron: $name: cs-publish stopped (exit $code); nothing written" >&2
            status=$code
            [ "$code" -eq 1 ] && break ;;                  # a fatal error (token revoked): stop the run
    esac
done
exit $status
