# picloss: the single entry point. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
PROTO_DIRS := common classifier ocr damage aggregator events
RUN_DIR ?= .run

.PHONY: help install proto proto-check lint test test-unit test-integration test-e2e up down demo \
        bench eval eval-docs eval-damage chart-lint images loadtest drill fuzz train-damage train-classifier clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	@# only the tritonserver binary of this wheel is used; its numpy<2 pin must not downgrade numpy
	$(PIP) install -q --no-deps nvidia-pytriton==0.7.0
	$(PY) tools/helm.py
	touch $(STAMP)

install: $(STAMP) ## create .venv and install every pinned dependency

proto: $(STAMP) ## regenerate picloss/rpc/<domain>/v1 from protos/
	$(PY) -m grpc_tools.protoc -I protos --python_out=. --grpc_python_out=. --pyi_out=. \
	  $(foreach d,$(PROTO_DIRS),protos/picloss/rpc/$(d)/v1/*.proto)
	@for d in $(PROTO_DIRS); do touch picloss/rpc/__init__.py picloss/rpc/$$d/__init__.py picloss/rpc/$$d/v1/__init__.py; done

proto-check: proto ## fail when `make proto` changes the tree
	@git diff --exit-code --stat -- picloss/ && test -z "$$(git status --porcelain -- picloss/ | grep -E '_pb2')" \
	  || { echo "generated code is stale: run 'make proto' and commit"; exit 1; }

lint: $(STAMP) ## ruff + mypy on hand-written code
	$(VENV)/bin/ruff check picloss gateway services devkit tests loadtest training bench
	$(VENV)/bin/mypy picloss gateway services devkit loadtest bench

test: $(STAMP) fonts proto-check ## the whole test suite (unit, integration, e2e, chart)
	$(VENV)/bin/pytest -q -ra tests

test-unit: $(STAMP)
	$(VENV)/bin/pytest -q tests/unit

test-integration: $(STAMP)
	$(VENV)/bin/pytest -q tests/integration

test-e2e: $(STAMP)
	$(VENV)/bin/pytest -q tests/e2e

up: $(STAMP) ## start broker, database, services and HTTPS gateway on 127.0.0.1 in the background
	$(PY) -m devkit up --run-dir $(RUN_DIR)

down: ## stop exactly what `make up` started
	@if [ -x $(PY) ]; then $(PY) -m devkit down --run-dir $(RUN_DIR); fi

demo: $(STAMP) fonts ## start the stack, submit SINGLE and BATCH requests, print the callbacks, stop
	$(PY) -m devkit.demo $(if $(PHOTOS),--photos $(PHOTOS),)

eval: eval-docs eval-damage ## every model evaluation (documents, damage); figures go to docs/benchmarks.md

clean: down
	rm -rf $(RUN_DIR)

# Each area keeps its own targets in mk/<area>.mk.
-include mk/*.mk
