# Documents (issue 3): CJK font, renderer, photo classifier training, evaluation.
.PHONY: fonts render-docs train-classifier eval-docs test-docs

# Fonts: family A (layouts.py) wqy-zenhei; family B (layouts_b.py) wqy-microhei + arphic-ukai; the HELD-BACK
# evaluation family (heldout_layouts.py) arphic-uming + Noto Serif CJK, fonts no training photo uses.
CJK_FONTS := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc /usr/share/fonts/truetype/wqy/wqy-microhei.ttc \
	/usr/share/fonts/truetype/arphic/ukai.ttc /usr/share/fonts/truetype/arphic/uming.ttc \
	/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc
CJK_FONT_PACKAGES := fonts-wqy-zenhei fonts-wqy-microhei fonts-arphic-ukai fonts-arphic-uming fonts-noto-cjk
DOCS_LOG_DIR ?= /tmp/logs
OLD_CLASSIFIER_DIR ?=

fonts: ## install the CJK fonts of the document renderers (Debian packages) when missing
	@missing=0; for f in $(CJK_FONTS); do [ -f $$f ] || missing=1; done; \
	if [ $$missing = 0 ]; then echo "CJK fonts present"; \
	else apt-get install -y $(CJK_FONT_PACKAGES) || { apt-get update && apt-get install -y $(CJK_FONT_PACKAGES); }; fi

render-docs: $(STAMP) fonts ## render 20 fake document photos with ground truth into /tmp/picloss-docs
	$(PY) -m training.documents.render --out /tmp/picloss-docs --count 20 --seed 1

train-classifier: $(STAMP) fonts ## extract features, train the photo classifier head, export models/photo_classifier
	@mkdir -p $(DOCS_LOG_DIR)
	nice -n 10 $(PY) -m training.documents.train_classifier --log $(DOCS_LOG_DIR)/train_classifier.log

eval-docs: $(STAMP) fonts ## held-back-family classification + OCR evaluation; writes docs/benchmarks.md (Documents)
	nice -n 10 $(PY) -m training.documents.evaluate $(if $(OLD_CLASSIFIER_DIR),--compare-models-dir $(OLD_CLASSIFIER_DIR))

test-docs: $(STAMP) fonts ## the documents tests only
	$(VENV)/bin/pytest -q tests/unit/ocr tests/unit/shared/test_documents_*.py tests/unit/training/test_documents_*.py tests/unit/orchestrator/test_documents_routing.py tests/integration/documents
