# Deployment: Helm chart validation, local Triton (issue 5). Images: mk/images.mk.
HELM := .tools/helm
PYTRITON_PIN := nvidia-pytriton==0.7.0

.PHONY: helm chart-lint chart-template triton-deps triton-local test-triton

$(HELM): tools/helm.py
	$(PY) tools/helm.py

helm: $(STAMP) $(HELM) ## fetch the pinned helm binary into .tools/helm

chart-lint: $(STAMP) $(HELM) ## helm lint --strict, helm template and strict k8s schemas on charts/picloss/ci/*
	$(VENV)/bin/pytest -q tests/chart

chart-template: $(STAMP) $(HELM) ## render the chart with VALUES=charts/picloss/ci/minimal-values.yaml
	$(HELM) template picloss charts/picloss -f $(or $(VALUES),charts/picloss/ci/minimal-values.yaml)

triton-deps: $(STAMP) ## install the tritonserver binary bundled in nvidia-pytriton (no deps: it pins numpy<2)
	$(PIP) install -q --no-deps $(PYTRITON_PIN)

triton-local: triton-deps ## serve models/ on a local CPU tritonserver (then TRITON_URL=127.0.0.1:8001)
	$(PY) -m devkit.triton_local --run-dir $(RUN_DIR)/triton

test-triton: triton-deps ## onnxruntime vs tritonserver parity on the same inputs
	$(VENV)/bin/pytest -q tests/integration/tritonserver
