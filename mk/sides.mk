# Car sides from the view (issue 11, item 6): the view classifier and the side evaluation. Included by the Makefile.
VIEW_CACHE ?= /tmp/picloss-view
VIEW_LOG_DIR ?= /tmp/logs

.PHONY: train-view-classifier eval-sides

train-view-classifier: $(STAMP) ## train photos only: features (cached), grouped CV, thresholds, export models/view_classifier
	@mkdir -p $(VIEW_LOG_DIR)
	OMP_NUM_THREADS=1 nice -n 10 $(PY) -m training.damage.view_classifier --cache $(VIEW_CACHE) \
	  --log $(VIEW_LOG_DIR)/view_classifier.log

eval-sides: $(STAMP) ## side decided / side right on the labelled val photos (training/damage/sides_labels.csv), before and now
	$(PY) -m training.damage.eval_sides
