# Monitoring (issue 13): Prometheus alerting rules checked with promtool (Debian's prometheus package).
.PHONY: promtool check-rules

promtool: ## install promtool (Debian package prometheus) when missing; make test checks the alert rules with it
	@command -v promtool >/dev/null || apt-get install -y --no-install-recommends prometheus \
	  || { apt-get update && apt-get install -y --no-install-recommends prometheus; }

test: promtool

check-rules: promtool ## promtool check rules on the chart's alerting rules
	promtool check rules charts/picloss/alerts/picloss-rules.yaml
