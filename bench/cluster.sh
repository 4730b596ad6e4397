#!/bin/bash
# --cluster against a local run: the same batch (RECORDS scripts, cs-voice | cs-caption on the bundled Piper
# voice and whisper tiny.en) run locally with -j 2, then on a local Dask scheduler with 1 and with 2 worker
# processes (one thread each). Prints wall seconds and records per minute for each, the speed-up of 2 workers
# over 1, and the per-record overhead of going through the cluster, measured on a stage that has nothing to
# do (cs-voice on SKIPS records whose voice is already there): (time for SKIPS records - time for 0) / SKIPS,
# locally and on the cluster. Each set-up gets a fresh CS_OUT_DIR, so nothing is reused between them.
#
# usage: bench/cluster.sh            env: RECORDS=8  SKIPS=200  WORK=dir
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${BIN:-$root/.venv/bin}
work=${WORK:-${TMPDIR:-/tmp}/cs-cluster-bench}
records=${RECORDS:-8}
skips=${SKIPS:-200}
rm -rf "$work" && mkdir -p "$work"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$bin/python" - "$records" > "$work/scripts.jsonl" <<'EOF'
import json, sys
topics = ["coffee", "bread", "tea", "bikes", "plants", "knots", "maps", "clocks", "kites", "soap", "ink", "salt"]
for n in range(int(sys.argv[1])):
    topic = topics[n % len(topics)]
    segments = [{"text": f"Here is one thing about {topic} that most people never notice.", "visual": topic, "on_screen": ""},
                {"text": f"Try it at home this week and see the difference for yourself.", "visual": topic, "on_screen": ""}]
    print(json.dumps({"id": f"b{n}", "format": "short",
                      "script": {"title": topic, "language": "en", "segments": segments, "cta": ""}}))
EOF

seconds() { "$bin/python" -c "import time; print(f'{time.monotonic():.3f}')"; }
elapsed() { "$bin/python" -c "print(f'{$2 - $1:.2f}')"; }

start_cluster() {  # start_cluster NAME WORKERS: a scheduler and WORKERS one-thread worker processes
  local dir=$work/$1
  mkdir -p "$dir"
  # exec: the pid recorded is the dask process itself, leader of its own group (setsid), so cleanup ends it all
  (cd "$dir" && CS_OUT_DIR=$dir/out exec setsid "$bin/dask" scheduler --host 127.0.0.1 --port 0 --no-dashboard \
    --scheduler-file "$dir/scheduler.json" > "$dir/scheduler.log" 2>&1) &
  pids+=("$!")
  until [ -s "$dir/scheduler.json" ]; do sleep 0.2; done
  (cd "$dir" && CS_OUT_DIR=$dir/out exec setsid "$bin/dask" worker --scheduler-file "$dir/scheduler.json" --host 127.0.0.1 \
    --nthreads 1 --nworkers "$2" --no-dashboard > "$dir/worker.log" 2>&1) &
  pids+=("$!")
  "$bin/python" -c "
from distributed import Client
with Client(scheduler_file='$dir/scheduler.json', timeout=30) as c: c.wait_for_workers($2, timeout=120)"
}

batch() {  # batch NAME FLAGS...: the voice+caption batch in $work/NAME, prints wall seconds
  local dir=$work/$1; shift
  mkdir -p "$dir"
  local t0 t1
  t0=$(seconds)
  CS_OUT_DIR=$dir/out "$bin/cs-voice" -q "$@" < "$work/scripts.jsonl" | CS_OUT_DIR=$dir/out "$bin/cs-caption" -q "$@" \
    > "$dir/captioned.jsonl"
  t1=$(seconds)
  [ "$(wc -l < "$dir/captioned.jsonl")" -eq "$records" ] || { echo "batch $dir lost records" >&2; exit 1; }
  elapsed "$t0" "$t1"
}

skipping() {  # skipping NAME COUNT FLAGS...: cs-voice over COUNT records that are already voiced
  local dir=$work/$1 count=$2; shift 2
  "$bin/python" - "$dir/captioned.jsonl" "$count" > "$dir/done-$count.jsonl" <<'EOF'
import json, sys
done = [json.loads(line) for line in open(sys.argv[1])]
for n in range(int(sys.argv[2])):
    print(json.dumps({**done[n % len(done)], "id": f"skip{n}"}))
EOF
  local t0 t1
  t0=$(seconds)
  CS_OUT_DIR=$dir/out "$bin/cs-voice" -q "$@" < "$dir/done-$count.jsonl" > "$dir/skipped.jsonl"
  t1=$(seconds)
  elapsed "$t0" "$t1"
}

per_minute() { "$bin/python" -c "print(f'{$records * 60 / $1:.1f}')"; }

local_s=$(batch local -j 2)
start_cluster one 1
one_s=$(batch one --cluster "$work/one/scheduler.json")
for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done; pids=()  # one cluster at a time
start_cluster two 2
two_s=$(batch two --cluster "$work/two/scheduler.json")

local_0=$(skipping local 0); local_n=$(skipping local "$skips")
cluster_0=$(skipping two 0 --cluster "$work/two/scheduler.json")
cluster_n=$(skipping two "$skips" --cluster "$work/two/scheduler.json")

echo "batch: $records records of cs-voice | cs-caption (bundled engines), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
printf '  %-26s %7s s  %6s records/min\n' "local -j 2" "$local_s" "$(per_minute "$local_s")"
printf '  %-26s %7s s  %6s records/min\n' "cluster, 1 worker" "$one_s" "$(per_minute "$one_s")"
printf '  %-26s %7s s  %6s records/min\n' "cluster, 2 workers" "$two_s" "$(per_minute "$two_s")"
echo "  (on the cluster both stages share the workers' threads; locally each command has its own -j 2)"
echo "  2 workers vs 1: $("$bin/python" -c "print(f'{$one_s / $two_s:.2f}')")x"
echo "overhead per record ($skips records with nothing to do, start-up subtracted):"
echo "  local:   $("$bin/python" -c "print(f'{($local_n - $local_0) * 1000 / $skips:.1f}')") ms/record (start-up $local_0 s)"
echo "  cluster: $("$bin/python" -c "print(f'{($cluster_n - $cluster_0) * 1000 / $skips:.1f}')") ms/record (start-up $cluster_0 s)"
