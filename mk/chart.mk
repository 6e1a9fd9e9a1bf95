# Deployment: Helm chart validation, container images, local Triton (issue 5).
HELM := .tools/helm
IMAGE_REGISTRY ?= ghcr.io/picloss
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# name=Dockerfile (built from the repository root)
IMAGE_FILES := gateway=gateway/Dockerfile \
  orchestrator=services/orchestrator/Dockerfile dispatcher=services/dispatcher/Dockerfile \
  classifier=services/classifier/Dockerfile ocr=services/ocr/Dockerfile \
  damage=services/damage/Dockerfile aggregator=services/aggregator/Dockerfile \
  model-repository=docker/model-repository/Dockerfile
PYTRITON_PIN := nvidia-pytriton==0.7.0

.PHONY: helm chart-lint chart-template images triton-deps triton-local test-triton

$(HELM): tools/helm.py
	$(PY) tools/helm.py

helm: $(STAMP) $(HELM) ## fetch the pinned helm binary into .tools/helm

chart-lint: $(STAMP) $(HELM) ## helm lint --strict, helm template and strict k8s schemas on charts/picloss/ci/*
	$(VENV)/bin/pytest -q tests/chart

chart-template: $(STAMP) $(HELM) ## render the chart with VALUES=charts/picloss/ci/minimal-values.yaml
	$(HELM) template picloss charts/picloss -f $(or $(VALUES),charts/picloss/ci/minimal-values.yaml)

images: ## build every image when a Docker engine is reachable (REQUIRE_DOCKER=1 makes its absence an error)
	@if ! docker info >/dev/null 2>&1; then \
	  echo "make images: no Docker engine here ('docker info' failed), nothing built."; \
	  echo "The Dockerfiles were not built in this environment; see docs/deploy.md."; \
	  test -z "$(REQUIRE_DOCKER)"; \
	else \
	  set -e; for item in $(IMAGE_FILES); do \
	    name=$${item%%=*}; file=$${item#*=}; \
	    echo "docker build -f $$file -t $(IMAGE_REGISTRY)/picloss-$$name:$(IMAGE_TAG) ."; \
	    docker build -f $$file -t $(IMAGE_REGISTRY)/picloss-$$name:$(IMAGE_TAG) .; \
	  done; \
	fi

triton-deps: $(STAMP) ## install the tritonserver binary bundled in nvidia-pytriton (no deps: it pins numpy<2)
	$(PIP) install -q --no-deps $(PYTRITON_PIN)

triton-local: triton-deps ## serve models/ on a local CPU tritonserver (then TRITON_URL=127.0.0.1:8001)
	$(PY) -m picloss.triton_local --run-dir $(RUN_DIR)/triton

test-triton: triton-deps ## onnxruntime vs tritonserver parity on the same inputs
	$(VENV)/bin/pytest -q tests/integration/triton
