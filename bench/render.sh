#!/bin/bash
# cs-render against the physical floor on the render anchor (/work/shared/bench/render-anchor/README.md):
# the same narration, segment texts and stills, rendered by cs-render; then bench/floor.sh (a plain
# re-encode with cs-render's own x264 settings, media/graph.py encoder_args; FLOOR= another floor script)
# times a re-encode of cs-render's own output in the same run. Prints wall seconds, peak RSS (ffmpeg included: /usr/bin/time reports the largest process of the
# tree) and the ratio per run, then the medians. LONG=1 adds a ~10-minute landscape render and a 1-minute
# one, to show that memory does not grow with length. CLIPS="5 15 30" adds the many-clips case: a 60-second
# short whose `visuals` shot list holds that many stock-like clips (made in WORK with testsrc2/colour
# sources, never committed), with ratio to the floor and the peak RSS of the whole process tree
# (bench/render_clips.py); CLIPS_ONLY=1 runs only that case.
#
# usage: bench/render.sh [RUNS]    env: ANCHOR=dir  WORK=dir  LONG=1  CLIPS="5 15 30"  CLIPS_ONLY=1
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
anchor=${ANCHOR:-$root/../shared/bench/render-anchor}
[ -d "$anchor" ] || anchor=$root/../../shared/bench/render-anchor  # a worktree under /work/wt/NAME
work=${WORK:-${TMPDIR:-/tmp}/cs-render-bench}
py=${PY:-$root/.venv/bin/python}
render=${RENDER:-$root/.venv/bin/cs-render}
runs=${1:-3}
floor_sh=${FLOOR:-$here/floor.sh}
export PY="$py"
mkdir -p "$work"
[ -f "$work/inp/timeline.json" ] || "$py" "$anchor/make_inputs.py" "$work/inp" >/dev/null

one() {  # one(record, label): render, print "seconds KB video"
  rm -rf "$work/out"
  CS_OUT_DIR="$work/out" /usr/bin/time -f "%e %M %U %S" -o "$work/time" \
    "$render" -q --library "$work/inp" --threads 2 --encoder libx264 < "$1" > "$work/out.jsonl"
  read -r seconds kb user system < "$work/time"
  echo "$seconds $kb $("$py" -c "print(round($user + $system, 2))") $("$py" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["video"]["path"])' "$work/out.jsonl")"
}

if [ -n "${CLIPS:-}" ]; then
  # shellcheck disable=SC2086
  FLOOR="$floor_sh" "$py" "$here/render_clips.py" "$anchor" "$work/inp" "$work" "$render" $CLIPS
  [ "${CLIPS_ONLY:-0}" = 1 ] && exit 0
fi

"$py" "$here/render_record.py" "$anchor" "$work/inp" > "$work/short.json"
ratios=() renders=() floors=() peaks=()
for run in $(seq "$runs"); do
  read -r seconds kb cpu video < <(one "$work/short.json")
  /usr/bin/time -f "%e %M %U %S" -o "$work/time" bash "$floor_sh" "$video"
  read -r floor floor_kb floor_user floor_system < "$work/time"
  floor_cpu=$("$py" -c "print(round($floor_user + $floor_system, 2))")
  ratio=$("$py" -c "print(f'{$seconds / $floor:.2f}')")
  echo "run $run: cs-render ${seconds} s (cpu ${cpu} s), peak $((kb / 1024)) MB | floor ${floor} s (cpu ${floor_cpu} s)," \
    "peak $((floor_kb / 1024)) MB | ratio ${ratio}x wall, $("$py" -c "print(f'{$cpu / $floor_cpu:.2f}')")x cpu | load $(cut -d' ' -f1 /proc/loadavg)"
  ratios+=("$ratio") renders+=("$seconds") floors+=("$floor") peaks+=("$kb")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "median of $runs: cs-render $(median "${renders[@]}") s, floor $(median "${floors[@]}") s," \
  "ratio $(median "${ratios[@]}")x (bar 1.5x, goal 1.2x), peak $(( $(median "${peaks[@]}") / 1024 )) MB (bar 400 MB)"

if [ "${LONG:-0}" = 1 ]; then
  "$py" "$here/render_record.py" "$anchor" "$work/inp" --format long > "$work/long1.json"
  "$py" "$here/render_record.py" "$anchor" "$work/inp" --format long --repeat 9 > "$work/long9.json"
  read -r s1 kb1 c1 v1 < <(one "$work/long1.json")
  read -r s9 kb9 c9 v9 < <(one "$work/long9.json")
  d1=$("$py" -c "import json; print(round(json.load(open('$work/long1.json'))['voice']['duration_s']))")
  d9=$("$py" -c "import json; print(round(json.load(open('$work/long9.json'))['voice']['duration_s']))")
  echo "landscape ${d1} s: ${s1} s wall, peak $((kb1 / 1024)) MB | landscape ${d9} s: ${s9} s wall, peak $((kb9 / 1024)) MB"
fi
