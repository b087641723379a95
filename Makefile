# gtq: the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export GX_ANALYTICS_ENABLED := false

.PHONY: demo test coverage ui install docs bench bench-coco clean

## demo: create the environment, then run the whole pipeline on the bundled sample into ./warehouse
demo: $(VENV)/.installed
	$(BIN)/gtq run

## test: create the environment, then run every test
test: $(VENV)/.installed
	$(BIN)/pytest

## coverage: run every test, measuring which lines of pipeline/ they run (the `gtq run` subprocesses too)
coverage: $(VENV)/.installed
	$(BIN)/pytest --cov --cov-report=term

## ui: open the Dagster UI on http://127.0.0.1:3000 (runs from `make demo` show there)
ui: $(VENV)/.installed
	$(BIN)/gtq ui

install: $(VENV)/.installed

## bench: ingest, scoring and COCO benchmarks against the tools a user would otherwise run (writes bench/results/)
bench: $(VENV)/.installed .venv-bench/.installed .venv-crowdkit/.installed .venv-coco/.installed
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.scoring
	$(BIN)/python -m bench.coco

## bench-coco: COCO AP on a val2017-sized case beside pycocotools, faster-coco-eval, hotcoco, ultrafast-pycocotools
bench-coco: $(VENV)/.installed .venv-coco/.installed
	$(BIN)/python -m bench.coco

.venv-coco/.installed: bench/requirements-coco.txt
	$(PYTHON) -m venv .venv-coco
	.venv-coco/bin/pip install --quiet -r bench/requirements-coco.txt
	touch $@

.venv-crowdkit/.installed: bench/requirements-crowdkit.txt
	$(PYTHON) -m venv .venv-crowdkit
	.venv-crowdkit/bin/pip install --quiet -r bench/requirements-crowdkit.txt
	touch $@

.venv-bench/.installed: bench/requirements.txt
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install --quiet -r bench/requirements.txt
	touch $@

## docs: rewrite the tables section of docs/contract.md from pipeline/contract.py
docs: $(VENV)/.installed
	sed -i '/^## Tables$$/,$$d' docs/contract.md
	printf '## Tables\n\n' >> docs/contract.md
	$(BIN)/python -m pipeline.contract >> docs/contract.md

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf .coverage .coverage.*
	rm -rf warehouse/gtq.duckdb warehouse/projects warehouse/schemas warehouse/samples warehouse/.dagster
