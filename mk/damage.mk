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

# Box verifier (issue 21): the detector's candidates on train photos (mined once, resumable), then the verifier
# (cached trunk, resumable), exported to models/damage_verifier with its score combination and default threshold.
VERIFIER_CACHE ?= /tmp/picloss-verifier
VERIFIER_LOG_DIR ?= /tmp/logs

.PHONY: train-damage-verifier

train-damage-verifier: $(STAMP) ## mine detector candidates on train photos, fine-tune the box verifier, export models/damage_verifier
	@mkdir -p $(VERIFIER_LOG_DIR) $(VERIFIER_CACHE)
	nice -n 10 $(PY) -m training.damage.verifier_data --out $(VERIFIER_CACHE)/candidates.jsonl
	nice -n 10 $(PY) -m training.damage.verifier --candidates $(VERIFIER_CACHE)/candidates.jsonl \
	  --cache $(VERIFIER_CACHE) --log $(VERIFIER_LOG_DIR)/verifier.log
