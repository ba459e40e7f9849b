# Two commands set vident up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO_DATA ?= demo-data

.PHONY: install demo interconnect-demo test lint typecheck pytest bench postgres chromium forensic-tools libarchive fuzz clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Builds a data directory from benign sample pictures and prints the triage of a demo seizure.
demo: install
	$(BIN)/python -m vident.demo --data $(DEMO_DATA)

# Two national instances and a hub on loopback ports, exchanging hashes, alerts and a bundle;
# SERVE=1 keeps the three servers running afterwards (Ctrl-C stops them).
INTERCONNECT_DEMO ?= interconnect-demo
interconnect-demo: install
	$(BIN)/python -m vident.demo.interconnect --root $(INTERCONNECT_DEMO) $(if $(SERVE),--serve)

# PostgreSQL server binaries for the store tests (the tests start their own throwaway server).
postgres:
	@bash scripts/ensure-postgres.sh

# Debian's Chromium for the browser tests (Playwright drives it; they skip where it is missing).
chromium:
	@bash scripts/ensure-chromium.sh

# Tools that build E01 and raw disk images for the ingest tests (they skip where one is missing).
forensic-tools:
	@bash scripts/ensure-forensic-tools.sh

# Debian's libarchive, which opens 7z and rar archives at ingest.
libarchive:
	@bash scripts/ensure-libarchive.sh

# Two test processes (pytest-xdist), whole files to each: the suite takes about two thirds of
# the serial time on two cores. PYTEST_WORKERS=0 runs it in this process alone.
PYTEST_WORKERS ?= 2
pytest: install postgres chromium forensic-tools libarchive
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

lint: install
	$(BIN)/ruff check src tests bench fuzz
	$(BIN)/ruff format --check src tests bench fuzz

typecheck: install
	$(BIN)/mypy

test: pytest lint typecheck

bench: install
	$(BIN)/python -m bench --json bench-results.json

# Coverage-guided fuzzing (atheris) of the parsers that read seized or imported bytes:
# FUZZ_SECONDS per target (default 60), one core; exits non-zero when a crash was found.
# Seeds, corpus and crashing inputs stay in fuzz/work/. Not part of `make test`.
FUZZ_SECONDS ?= 60
fuzz: install
	$(BIN)/python -m fuzz.run --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) $(DEMO_DATA) $(INTERCONNECT_DEMO) .pytest_cache .mypy_cache .ruff_cache fuzz/work
