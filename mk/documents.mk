# Documents (issue 3): CJK font, renderer, photo classifier training, evaluation.
.PHONY: fonts render-docs train-classifier eval-docs test-docs

CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
DOCS_LOG_DIR ?= /tmp/logs

fonts: ## install the CJK font the document renderer needs (Debian fonts-wqy-zenhei) when missing
	@if [ -f $(CJK_FONT) ] || fc-list 2>/dev/null | grep -qi 'wqy zen hei'; then echo "CJK font present"; \
	else apt-get install -y fonts-wqy-zenhei || { apt-get update && apt-get install -y fonts-wqy-zenhei; }; fi

render-docs: $(STAMP) fonts ## render 20 fake document photos with ground truth into /tmp/picloss-docs
	$(PY) -m training.documents.render --out /tmp/picloss-docs --count 20 --seed 1

train-classifier: $(STAMP) fonts ## extract features, train the photo classifier head, export models/photo_classifier
	@mkdir -p $(DOCS_LOG_DIR)
	nice -n 10 $(PY) -m training.documents.train_classifier --log $(DOCS_LOG_DIR)/train_classifier.log

eval-docs: $(STAMP) fonts ## classification + OCR evaluation; writes docs/benchmarks.md (Documents section)
	nice -n 10 $(PY) -m training.documents.evaluate

test-docs: $(STAMP) fonts ## the documents tests only
	$(VENV)/bin/pytest -q tests/unit/documents tests/integration/documents
