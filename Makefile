# Twinline: `make run` starts both sites; `make test` runs the suite. Each sets itself up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROTOS := $(shell find protos -name '*.proto')

.PHONY: help run test lint bench demo gen setup clean

# `make help`: each target with the "## " text after it.
help:
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):.*## /  make \1\t/' | expand -t 16

setup: .stamp-gen .stamp-node ## create .venv and node_modules, generate the protobuf code

# The virtual environment and the project installed editable into it (gen/ holds the generated package).
.stamp-venv: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	mkdir -p gen/twinline && touch gen/twinline/__init__.py gen/twinline/py.typed
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Python code, typed stubs and a descriptor set with the comments (for docs/asyncapi.json)
# from protos/, never edited by hand.
.stamp-gen: .stamp-venv $(PROTOS)
	rm -rf gen/twinline && mkdir -p gen/twinline
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(PY) -m grpc_tools.protoc -Iprotos \
	  --python_out=gen --grpc_python_out=gen --mypy_out=gen --mypy_grpc_out=gen \
	  --descriptor_set_out=gen/twinline.binpb --include_source_info $(PROTOS)
	find gen/twinline -type d -exec touch {}/__init__.py {}/py.typed \;
	touch $@

# Node tools from package-lock.json: buf (make lint) and the AsyncAPI schemas (a test).
.stamp-node: package.json package-lock.json
	npm install --no-audit --no-fund --silent
	touch $@

run: setup ## both sites on loopback (Ctrl-C stops them); data in var/
	$(PY) -m services.devstack.launcher

# Debian's chromium and its driver, for the board's browser test and bench: the system browser,
# never one a tool downloads. apt's lists are refreshed only when an install from them fails.
BROWSER_PACKAGES := chromium chromium-driver
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
.stamp-browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
	  as_root=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "installing $(BROWSER_PACKAGES) (Debian) for the browser test"; \
	  $$as_root apt-get install -y -q --no-install-recommends $(BROWSER_PACKAGES) \
	  || { $$as_root apt-get update -q \
	       && $$as_root apt-get install -y -q --no-install-recommends $(BROWSER_PACKAGES); }; \
	fi
	touch $@

# PYTEST_ARGS: e.g. "-n 2" (both cores, pytest-xdist) or "tests/kernel" (a part).
test: setup .stamp-browser ## the whole suite (real nats-servers, gRPC servers, SQLite, chromium)
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: setup ## ruff, mypy, the architecture contracts and buf lint
	$(VENV)/bin/ruff check services tests bench docs/examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	node_modules/.bin/buf lint

bench: setup .stamp-browser ## the benchmarks; JSON into bench/results/
	$(PY) -m bench

demo: setup ## a record and batches through their lifecycle (needs make run)
	$(PY) -m services.devstack.demo

clean: ## remove .venv, gen/, node_modules and var/ (all data)
	rm -rf $(VENV) gen node_modules var .stamp-*
