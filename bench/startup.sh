#!/usr/bin/env bash
# Wall time of `cs-X --help` for every command, next to a bare `python -c "import click"`: the median and the
# minimum of RUNS runs each, and each median's ratio to the bare import's median.
# Goal: every command at most 1.5x the bare import.  Usage: bash bench/startup.sh [RUNS]  (default 21)
#
# Made robust to a busy machine: runs are interleaved (each round times the bare import and then every
# command once, so a burst of load hits them all alike), and the median and minimum are both printed (the
# minimum is the least disturbed run). Bytecode is compiled first, so the timings are imports, not the
# compilation a first run (or PYTHONDONTWRITEBYTECODE=1, which keeps .pyc files from being written) pays.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-21}
py=.venv/bin/python
$py -m compileall -q src/creator_tools >/dev/null

time_ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
minimum() { sort -n | head -1; }

mapfile -t cmds < <(sed -n 's/^\(cs-[a-z]*\) = .*/\1/p' pyproject.toml)
samples=$(mktemp -d)
trap 'rm -rf "$samples"' EXIT
for _ in $(seq "$runs"); do
  time_ms $py -c "import click" >>"$samples/bare"
  for cmd in "${cmds[@]}"; do
    time_ms ".venv/bin/$cmd" --help >>"$samples/$cmd"
  done
done

base=$(median <"$samples/bare")
printf '%-26s %9s %6s %6s\n' command median_ms min_ms ratio
printf '%-26s %9s %6s %6s\n' 'python -c "import click"' "$base" "$(minimum <"$samples/bare")" 1.00
worst=0
for cmd in "${cmds[@]}"; do
  ms=$(median <"$samples/$cmd")
  ratio=$(awk -v a="$ms" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
  printf '%-26s %9s %6s %6s\n' "$cmd --help" "$ms" "$(minimum <"$samples/$cmd")" "$ratio"
  worst=$(awk -v a="$ratio" -v w="$worst" 'BEGIN {print (a > w) ? a : w}')
done
echo "worst median ratio: $worst (goal <= 1.5; $runs runs each, interleaved)"
