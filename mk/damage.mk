# Damage detector: training, export and evaluation (issue 4). Included by the Makefile.
DAMAGE_RUN ?= training/runs/damage
DAMAGE_EPOCHS ?= 8
DAMAGE_MAX_MINUTES ?= 0
DAMAGE_DEVICE ?= cpu

.PHONY: train-damage export-damage eval-damage damage-threshold

train-damage: $(STAMP) ## train the damage detector (resumes from $(DAMAGE_RUN)/last.pt), then export ONNX
	nice -n 10 $(PY) -m training.damage.train --out $(DAMAGE_RUN) --epochs $(DAMAGE_EPOCHS) \
	  --max-minutes $(DAMAGE_MAX_MINUTES) --device $(DAMAGE_DEVICE) --resume
	$(PY) -m training.damage.export --checkpoint $(DAMAGE_RUN)/last.pt

export-damage: $(STAMP) ## export $(DAMAGE_RUN)/last.pt to models/damage_detector and record the test fixture
	$(PY) -m training.damage.export --checkpoint $(DAMAGE_RUN)/last.pt

eval-damage: $(STAMP) ## evaluate the committed damage model on val (no leaked images); writes docs/benchmarks.md
	$(PY) -m training.damage.evaluate

damage-threshold: $(STAMP) ## claim F1 per score threshold on 150 *train* photos (to choose DEFAULT_SCORE_THRESHOLD)
	$(PY) -m training.damage.evaluate --sweep 150
