#!/usr/bin/env bash
# Voice length against script.target_s: cs-idea -> cs-script --length L --voice-engine E -> cs-voice --engine E
# for each topic, length and engine; prints target / words / before fit / actual / error % (bundled SmolLM2).
# Usage: bash bench/length.sh                       # 6 topics x 30, 60, 180 s x piper, espeak (slow: hours on 2 cores)
#        TOPICS=2 LENGTHS="30 60" ENGINES=espeak bash bench/length.sh   # a quicker subset
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
export CS_OUT_DIR="$work/cs-out"
trap 'rm -rf "$work"' EXIT
all_topics=("home espresso" "sourdough starter" "houseplant watering" "bike chain care" "budget meal prep" "night sky photos")
count=${TOPICS:-6}
lengths=${LENGTHS:-"30 60 180"}
engines=${ENGINES:-"piper espeak"}
.venv/bin/cs-idea "${all_topics[@]:0:$count}" -n 1 --format short --seed 1 -q -k > "$work/ideas.jsonl" || true
printf "%-7s %-22s %7s %6s %10s %8s %7s %6s\n" engine topic target words before_s actual_s error% rate
for engine in $engines; do
  for length in $lengths; do
    .venv/bin/cs-script --length "$length" --voice-engine "$engine" --seed 1 -q -k -i "$work/ideas.jsonl" \
      | .venv/bin/cs-voice --engine "$engine" -q -k > "$work/voiced.jsonl" || true
    jq -r --arg e "$engine" 'select(.voice) | [$e, (.topic[0:22]), .script.target_s,
        ([.script.segments[].text | split(" ") | length] | add),
        (.voice.fitted_from_s // .voice.duration_s), .voice.duration_s,
        ((.voice.duration_s - .script.target_s) / .script.target_s * 100), .voice.rate] | @tsv' "$work/voiced.jsonl" \
      | awk -F'\t' '{printf "%-7s %-22s %7d %6d %10.1f %8.1f %+7.1f %6.3f\n", $1, $2, $3, $4, $5, $6, $7, $8}'
    jq -r 'select(._error) | "  failed: \(.id): \(._error.message)"' "$work/voiced.jsonl"
  done
done
