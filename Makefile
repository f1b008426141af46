# Driftwarden: two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test check-infra bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch node_modules/.installed

## The embedded end-to-end run: ARM emulator + Azurite, a seeded estate, realistic event traffic.
demo: $(STAMP) node_modules/.installed
	$(PY) -m warden demo

## The whole test suite (unit, integration against the emulator and Azurite, functions wiring).
test: $(STAMP) node_modules/.installed
	$(PY) -m pytest

## Bicep parse + checkov gate (own virtualenvs, see infra/check.sh).
check-infra:
	bash infra/check.sh

## Benchmarks: print figures (cold start, decision rate, ARM calls per event, state, sweep).
bench: $(STAMP) node_modules/.installed
	for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) node_modules .venv-infra* infra/generated
