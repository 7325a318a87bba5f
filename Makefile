# Salon — the targets CI and people call. `make run` and `make test` install whatever is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: help install system-deps run test test-fast check domain-coverage bench clean

help:
	@echo "make run     install what is missing, then serve Salon on http://127.0.0.1:8000"
	@echo "make test    install what is missing, then lint, type-check and run every test (SQLite and PostgreSQL)"
	@echo "make check   ruff + mypy --strict (src, bench and tests)"
	@echo "make bench   benchmarks: event fan-out, audio, hallway, web tap-to-sound, broadcast tier (docs/BENCHMARKS.md)"

system-deps:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: system-deps $(STAMP)

run: install
	$(VENV)/bin/salon serve

check: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src bench
	MYPYPATH=src $(VENV)/bin/mypy --explicit-package-bases tests

# The tests marked `parallel` (unit, API, CLI and the database-only integration modules: most of the tests,
# CPU-bound; no engine, fixed port or timing of their own) run on two workers; the tests that start real engines,
# namespaces and Chromium, or measure sound or time, run one at a time, so each starts its engines once. Each run
# lists its slowest tests, to keep an eye on the time make test takes (docs/ARCHITECTURE.md, "How long make test
# takes").
test: install check domain-coverage
	$(VENV)/bin/pytest -q -p no:cacheprovider -n 2 --durations=10 -m parallel tests
	$(VENV)/bin/pytest -q -p no:cacheprovider --durations=15 -m "not parallel" tests

# The rules are the product: every line and branch of domain/ is exercised by its unit tests.
domain-coverage: $(STAMP)
	$(VENV)/bin/coverage run --data-file=.coverage.domain --branch --source=salon.domain \
		-m pytest -q -p no:cacheprovider tests/unit/domain
	$(VENV)/bin/coverage report --data-file=.coverage.domain --fail-under=100 --skip-covered

test-fast: $(STAMP)
	SALON_TEST_BACKENDS=sqlite $(VENV)/bin/pytest -q -x -p no:cacheprovider

# The benchmarks of docs/BENCHMARKS.md: event fan-out (~3½ min), audio (~3 min; root: it makes a network
# namespace), the hallway, a listener's tap-to-sound in Chromium (~1 min; root), and the broadcast tier at 1,000 and
# 2,500 HTTP listeners (~1 min; needs `cc`; the full matrix: make bench BROADCAST_BENCH_ARGS=), the per-speaker mix
# (~1½ min; root). A quick audio smoke
# run: make bench MEDIA_BENCH_ARGS=--quick
MEDIA_BENCH_ARGS ?=
BROADCAST_BENCH_ARGS ?= --quick
bench: install
	$(PY) bench/fanout.py
	$(PY) bench/media.py $(MEDIA_BENCH_ARGS)
	$(PY) bench/hallway.py
	$(PY) bench/hallway_ws.py
	$(PY) bench/web_audio.py
	$(PY) bench/broadcast.py $(BROADCAST_BENCH_ARGS)
	$(PY) bench/broadcast_stage.py --quick
	$(PY) bench/speaker_mix.py

clean:
	rm -rf $(VENV) build *.egg-info
