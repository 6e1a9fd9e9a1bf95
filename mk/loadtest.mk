# Load test, benchmarks, fault drills and fuzzing (issue 6). None of these is part of `make test`.
.PHONY: loadtest bench drill fuzz wrk test-hostile

USERS ?= 10
DURATION ?= 60
FUZZ_CASES ?= 10000
BENCH_ROUNDS ?= 5
LOADTEST_LOG_DIR ?= /tmp/logs

loadtest: $(STAMP) ## locust headless (USERS, DURATION) against `make up`, or a stack started for the run
	$(PY) -m loadtest.run --users $(USERS) --duration $(DURATION) --run-dir $(RUN_DIR) $(if $(PHOTOS),--photos $(PHOTOS),)

wrk: ## install wrk (Debian package) when missing
	@command -v wrk >/dev/null || apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }

bench: $(STAMP) wrk ## backbone benchmarks as ratios, BENCH_ROUNDS interleaved rounds (5); appends `## Backbone (make bench)` to docs/benchmarks.md
	$(PY) -m bench.run --rounds $(BENCH_ROUNDS) $(if $(PHOTOS),--photos $(PHOTOS),)

drill: $(STAMP) ## fault drill under load: SIGKILL every process, restart PostgreSQL, failing receivers
	$(PY) -m bench.drill

fuzz: $(STAMP) ## schemathesis against contracts/openapi.yaml, signed, FUZZ_CASES cases in all
	FUZZ_CASES=$(FUZZ_CASES) $(PY) -m bench.fuzz_report

test-hostile: $(STAMP) ## hostile photos and the short fuzz run only
	$(VENV)/bin/pytest -q tests/integration/hostile tests/e2e/fuzz
