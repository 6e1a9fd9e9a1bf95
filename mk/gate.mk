# Photo-level damage gate (issue 11, part 2): "is there any damage on this photo?". Included by the Makefile.
GATE_CACHE ?= /tmp/picloss-gate
GATE_FT_CACHE ?= /tmp/picloss-gate-ft
GATE_LOG_DIR ?= /tmp/logs
GATE_EPOCHS ?= 6
GATE_PASTES ?= 0

.PHONY: train-damage-gate train-damage-gate-linear

train-damage-gate: $(STAMP) ## fine-tune Lite0's last stage + head (cached trunk), select on a train fold, export models/damage_gate, re-fit the verifier's combination
	@mkdir -p $(GATE_LOG_DIR)
	nice -n 10 $(PY) -m training.damage.gate_finetune --cache $(GATE_FT_CACHE) --epochs $(GATE_EPOCHS) \
	  --pastes $(GATE_PASTES) --log $(GATE_LOG_DIR)/gate_finetune.log
	@# the box verifier's existence confidence uses the gate's probability: its combination and operating point are
	@# fitted again with the new gate (the verifier's best tail from `make train-damage-verifier` in $(VERIFIER_CACHE));
	@# then copy the printed weights and threshold into picloss/engines/damage/verifier.py and picloss/engines/damage/gate.py
	nice -n 10 $(PY) -m training.damage.verifier --reuse-best --record-only --cache $(VERIFIER_CACHE) \
	  --candidates $(VERIFIER_CACHE)/candidates.jsonl --log $(GATE_LOG_DIR)/verifier_combination.log

train-damage-gate-linear: $(STAMP) ## the first gate: frozen features + logistic head, grouped-CV threshold (for comparison)
	@mkdir -p $(GATE_LOG_DIR)
	nice -n 10 $(PY) -m training.damage.gate --cache $(GATE_CACHE) --no-export --log $(GATE_LOG_DIR)/damage_gate.log

# Issue 21: false damage on a clean-car source that no model, combination or threshold was fitted to. The detector
# and the box verifier never train on clean_cars/vehicles; the shipped gate does, so this target retrains the gate
# with the same recipe but without that source (--hold-out-vehicles), re-fits the verifier's score combination and
# operating point with it (the verifier's best tail from `make train-damage-verifier` in $(VERIFIER_CACHE)), and
# runs the whole evaluation on those models: docs/benchmarks.md, section "Damage on an unseen clean-car source".
UNSEEN_DIR ?= /tmp/picloss-unseen-source

.PHONY: eval-damage-unseen-source

eval-damage-unseen-source: $(STAMP) ## leave-source-out gate (no clean_cars/vehicles), re-fitted combination, the whole damage evaluation on them
	@mkdir -p $(GATE_LOG_DIR) $(UNSEEN_DIR)
	rm -rf $(UNSEEN_DIR)/models && cp -r models $(UNSEEN_DIR)/models && rm -rf $(UNSEEN_DIR)/models/damage_gate
	nice -n 10 $(PY) -m training.damage.gate_finetune --cache $(GATE_FT_CACHE) --epochs $(GATE_EPOCHS) \
	  --pastes $(GATE_PASTES) --hold-out-vehicles --models-dir $(UNSEEN_DIR)/models --log $(GATE_LOG_DIR)/gate_unseen.log
	nice -n 10 $(PY) -m training.damage.verifier --reuse-best --record-only --cache $(VERIFIER_CACHE) \
	  --candidates $(VERIFIER_CACHE)/candidates.jsonl --models-dir $(UNSEEN_DIR)/models \
	  --gate-models-dir $(UNSEEN_DIR)/models --log $(GATE_LOG_DIR)/verifier_unseen.log
	$(PY) -m training.damage.evaluate --models-dir $(UNSEEN_DIR)/models --sheet $(UNSEEN_DIR)/contact_sheet.png \
	  --section "## Damage on an unseen clean-car source (make eval-damage-unseen-source)"
