# Licences of every shipped model weights file and runtime dependency (issue 23): docs/licences.md, generated.
# tests/unit/tools/test_licences.py (make test) fails when it is stale or an entry has no licence.
.PHONY: licences

licences: $(STAMP) ## regenerate docs/licences.md (model weights and runtime dependencies with their licences)
	$(PY) tools/gen_licences.py
