# The insurer's toolkit (issue 12): the `picloss` command line, the SDK and the reviewer's HTML report.
# The report tests render the report in a real headless Chromium (Debian package `chromium`).
.PHONY: chromium test-cli

chromium: ## install chromium (Debian package; the report tests screenshot with it) when missing
	@command -v chromium >/dev/null || apt-get install -y --no-install-recommends chromium \
	  || { apt-get update && apt-get install -y --no-install-recommends chromium; }

test: chromium

test-cli: $(STAMP) chromium ## the command line, SDK, report and review-page tests (CLI verbs run against a local stack)
	$(VENV)/bin/pytest -q tests/unit/shared/test_sdk*.py tests/e2e/test_cli*.py tests/integration/test_report*.py \
	  tests/integration/test_review*.py tests/e2e/test_review_browser.py
