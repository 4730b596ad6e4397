#!/usr/bin/env bash
# cs-stats report over 1,000 videos x 365 days of daily rows (365,000 rows), generated straight into the
# store; only the cs-stats commands are timed. Goal: `cs-stats report` under 1 s on SQLite.
#   bench/stats.sh            # SQLite, then PostgreSQL when it is installed
#   VIDEOS=200 DAYS=90 RUNS=3 bench/stats.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PATH="$PWD/.venv/bin:$PATH"
VIDEOS=${VIDEOS:-1000} DAYS=${DAYS:-365} RUNS=${RUNS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
db="$work/stats.sqlite"

echo "== SQLite: $VIDEOS videos x $DAYS days"
python bench/stats_seed.py --db "$db" --videos "$VIDEOS" --days "$DAYS" --full
echo -n "report (jsonl, 7d window):     "; python bench/stats_time.py "$RUNS" cs-stats report --db "$db"
echo -n "report --window 365d:          "; python bench/stats_time.py "$RUNS" cs-stats report --db "$db" --window 365d
echo -n "report --format table:         "; python bench/stats_time.py "$RUNS" cs-stats report --db "$db" --format table
echo -n "report --plot (28d, PNG):      "; python bench/stats_time.py 1 cs-stats report --db "$db" --window 28d --plot "$work/stats.png"
echo -n "recommend:                     "; python bench/stats_time.py "$RUNS" cs-stats recommend --db "$db"
test "$(cs-stats report --db "$db" | wc -l)" -eq "$VIDEOS"

echo "== PostgreSQL: $VIDEOS videos x $DAYS days"
python bench/stats_pg.py "
python bench/stats_seed.py --db \"\$CS_STATS_DB\" --videos $VIDEOS --days $DAYS --full
echo -n 'report (jsonl, 7d window):     '; python bench/stats_time.py $RUNS cs-stats report
echo -n 'report --window 365d:          '; python bench/stats_time.py $RUNS cs-stats report --window 365d
echo -n 'recommend:                     '; python bench/stats_time.py $RUNS cs-stats recommend
"
