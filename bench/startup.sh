#!/usr/bin/env bash
# Median wall time of `cs-X --help` for every command, next to a bare `python -c "import click"`.
# Goal: every command at most 1.5x the bare import.  Usage: bash bench/startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-15}
py=.venv/bin/python
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
base=$(for _ in $(seq "$runs"); do time_ms $py -c "import click"; done | median)
printf '%-22s %8s %8s\n' command median_ms ratio
printf '%-22s %8s %8s\n' 'python -c "import click"' "$base" 1.00
worst=0
for cmd in $(sed -n 's/^\(cs-[a-z]*\) = .*/\1/p' pyproject.toml); do
  ms=$(for _ in $(seq "$runs"); do time_ms .venv/bin/$cmd --help; done | median)
  ratio=$(awk -v a="$ms" -v b="$base" 'BEGIN {printf "%.2f", a / b}')
  printf '%-22s %8s %8s\n' "$cmd --help" "$ms" "$ratio"
  worst=$(awk -v a="$ratio" -v w="$worst" 'BEGIN {print (a > w) ? a : w}')
done
echo "worst ratio: $worst (goal <= 1.5)"
