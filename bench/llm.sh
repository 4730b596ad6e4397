#!/usr/bin/env bash
# Local LLM engine figures: generation tokens/s, seconds per idea and per 60-second script (bundled SmolLM2).
# Usage: bash bench/llm.sh [MODEL.gguf]
set -euo pipefail
cd "$(dirname "$0")/.."
export CS_OUT_DIR=$(mktemp -d) CS_LLM_MODEL=${1:-}
[ -n "$CS_LLM_MODEL" ] || unset CS_LLM_MODEL
.venv/bin/python - <<'PY'
import time
from creator_tools.engines.llm import LLMSettings, get_llm
llm = get_llm(LLMSettings(seed=1))
started = time.perf_counter()
reply = llm.model.create_chat_completion(messages=[{"role": "user", "content": "Tell a long story about coffee."}],
                                         max_tokens=256, temperature=0.8, seed=1)
seconds = time.perf_counter() - started
tokens = reply["usage"]["completion_tokens"]
print(f"generation: {tokens} tokens in {seconds:.2f} s = {tokens / seconds:.1f} tokens/s (plain text)")
PY
t0=$(date +%s.%N)
.venv/bin/cs-idea "home espresso" -n 3 --seed 1 -q > "$CS_OUT_DIR/ideas.jsonl"
t1=$(date +%s.%N)
n=$(wc -l < "$CS_OUT_DIR/ideas.jsonl")
awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN {printf "cs-idea: %d ideas in %.1f s = %.1f s per idea (process start and model load included)\n", n, b - a, (b - a) / n}'
head -1 "$CS_OUT_DIR/ideas.jsonl" | .venv/bin/cs-script --length 60 --seed 1 -q > "$CS_OUT_DIR/script.jsonl"
t2=$(date +%s.%N)
words=$(jq '[.script.segments[].text | split(" ") | length] | add' "$CS_OUT_DIR/script.jsonl")
awk -v a="$t1" -v b="$t2" -v w="$words" 'BEGIN {printf "cs-script: one 60-second script (%d words) in %.1f s\n", w, b - a}'
rm -rf "$CS_OUT_DIR"
