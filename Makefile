# ICP Explorer: `make run` installs and starts the app; `make test` installs and runs every test.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test browser servers bench sample clean

$(VENV)/.installed: requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Python 3.11 is required; set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

## run: install (first time) and start the app on the bundled sample data
run: $(VENV)/.installed
	$(PY) -m streamlit run app.py --server.port $(PORT)

## browser: Debian's chromium + chromium-driver for the end-to-end test (no browser download)
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi
	@/usr/bin/chromium --version

## servers: Debian's PostgreSQL server binaries and a Java 17 runtime for Spark, for the warehouse tests
## (each test run starts its own throwaway PostgreSQL cluster on a unix socket and Spark in local mode,
## and stops them; nothing listens on a port)
servers:
	@PKGS=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || PKGS="$$PKGS postgresql"; \
	command -v java >/dev/null 2>&1 || PKGS="$$PKGS openjdk-17-jre-headless"; \
	if [ -n "$$PKGS" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$PKGS; \
	fi
	@ls /usr/lib/postgresql/*/bin/initdb && java -version 2>&1 | head -1

## test: install everything (first time), lint, type-check icp_core, run the whole suite (browser tests included)
test: $(VENV)/.installed-dev browser servers
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest

## bench: ingest (time, memory) and scoring (slider rerun) benchmarks at 100k and 1M generated accounts
bench: $(VENV)/.installed
	$(PY) -m bench.bench_ingest
	$(PY) -m bench.bench_score
	$(PY) -m bench.bench_evidence
	$(PY) -m bench.bench_segments
	$(PY) -m bench.bench_shapes
	$(PY) -m bench.bench_all

## sample: regenerate sample_data/ from its seeded generator
sample: $(VENV)/.installed
	$(PY) sample_data/generate_sample.py

clean:
	rm -rf $(VENV) .icp_data .pytest_cache
