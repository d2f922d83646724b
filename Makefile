# The two commands: `make run` starts the stack, `make test` runs every test.
# Both install what is missing first; a second run skips what is installed (stamp files).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3.11
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
FORGE_STAMP := forge-app/node_modules/.installed

.PHONY: install run up down test test-py test-forge lint bench clean

install: $(PY_STAMP) $(NODE_STAMP) $(FORGE_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV) 2>/dev/null || python3 -m venv $(VENV)

# torch first: 2.13.0 is the CPU build on this machine's disk; letting another package pull
# torch in would fetch a multi-GB CUDA build.
$(PY_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(FORGE_STAMP): forge-app/package.json forge-app/package-lock.json
	cd forge-app && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(VENV)/bin/clinisight up --foreground

up: install
	$(VENV)/bin/clinisight up

down:
	$(VENV)/bin/clinisight down

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/bandit -q -c pyproject.toml -r config serve agents embeddings index store compliance metrics -lll
	$(VENV)/bin/pytest
	cd forge-app && npm test

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# `make bench`: every benchmark of issue #7 in turn (about an hour on 2 cores; the 1M-vector
# search alone takes ~15 min and ~10 GB), then benchmarks/report.md with its plots. Benchmarks
# print figures and write reports; they are not tests. wrk comes from Debian.
BENCH_STAMP := $(VENV)/.bench-installed
# The shipped settings at every level, then two other Serve configurations at 100 connections:
# Ray Serve's defaults, and HAProxy in front of two ingress replicas.
INTAKE_ARGS ?= --paced-delay-ms 1000 --variant 'shipped:' \
	--variant 'serve-defaults:CLINISIGHT_SERVE_THROUGHPUT_OPTIMIZED=false' \
	--variant 'haproxy-2-replicas:RAY_SERVE_ENABLE_HA_PROXY=1,CLINISIGHT_INGRESS_REPLICAS=2'

$(BENCH_STAMP): $(PY_STAMP)
	$(PY) -m pip install -q -e ".[dev,bench]"
	command -v wrk >/dev/null || apt-get install -y -q wrk || sudo apt-get install -y -q wrk
	command -v haproxy >/dev/null || apt-get install -y -q haproxy || sudo apt-get install -y -q haproxy
	touch $@

bench: install $(BENCH_STAMP)
	$(PY) benchmarks/intake_bench.py $(INTAKE_ARGS)
	$(PY) benchmarks/e2e_bench.py
	$(PY) benchmarks/embed_bench.py
	$(PY) benchmarks/search_bench.py --million
	$(PY) benchmarks/access_bench.py
	$(PY) benchmarks/reindex_bench.py
	$(PY) benchmarks/backfill_bench.py
	$(PY) benchmarks/state_bench.py
	$(PY) benchmarks/metrics_bench.py
	$(PY) benchmarks/phi_eval.py --cv
	$(PY) benchmarks/phi_shapes.py
	$(PY) benchmarks/report.py > /dev/null
	@echo "wrote benchmarks/report.md"

clean:
	rm -rf $(VENV) node_modules forge-app/node_modules
