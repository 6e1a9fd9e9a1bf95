# Monitoring (issue 13): Prometheus alerting rules checked with promtool (Debian's prometheus package), a real
# Prometheus for the local stack, and a check that every dashboard panel and alert gets data (docs/monitoring.md).
.PHONY: promtool check-rules monitor monitor-down monitor-config monitor-check

MONITOR_PORT ?= 9090
MONITOR_INTERVAL ?= 15s
# make monitor-check serves the models on a local CPU tritonserver (TRITON=1), so the Triton panels get data too;
# TRITON=0 runs them in-process and the check then lists the Triton panels as needing a cluster
TRITON ?= 1

promtool: ## install promtool (Debian package prometheus) when missing; make test checks the alert rules with it
	@command -v promtool >/dev/null || apt-get install -y --no-install-recommends prometheus \
	  || { apt-get update && apt-get install -y --no-install-recommends prometheus; }

test: promtool

check-rules: promtool ## promtool check rules on the chart's alerting rules
	promtool check rules charts/picloss/alerts/picloss-rules.yaml

monitor: $(STAMP) promtool ## Prometheus on 127.0.0.1:MONITOR_PORT (free one if taken) scraping `make up`, with the chart's alerts
	$(PY) -m bench.monitor up --run-dir $(RUN_DIR) --port $(MONITOR_PORT) --interval $(MONITOR_INTERVAL)

monitor-down: ## stop the Prometheus `make monitor` started
	@if [ -x $(PY) ]; then $(PY) -m bench.monitor down --run-dir $(RUN_DIR); fi

monitor-config: $(STAMP) ## print the scrape configuration `make monitor` uses
	@$(PY) -m bench.monitor config --run-dir $(RUN_DIR) --interval $(MONITOR_INTERVAL)

monitor-check: $(STAMP) fonts promtool $(if $(filter 1,$(TRITON)),triton-deps,) ## own stack, Triton and Prometheus (1 s scrapes) + load; every panel and alert must return data
	$(PY) -m bench.monitor check --run-dir $(RUN_DIR)/monitor-check $(if $(filter 1,$(TRITON)),--triton,)
