# Photo-level damage gate (issue 11, part 2): "is there any damage on this photo?". Included by the Makefile.
GATE_CACHE ?= /tmp/picloss-gate
GATE_FT_CACHE ?= /tmp/picloss-gate-ft
GATE_LOG_DIR ?= /tmp/logs
GATE_EPOCHS ?= 6

.PHONY: train-damage-gate train-damage-gate-linear

train-damage-gate: $(STAMP) ## fine-tune Lite0's last stage + head (cached trunk), select on a train fold, export models/damage_gate
	@mkdir -p $(GATE_LOG_DIR)
	nice -n 10 $(PY) -m training.damage.gate_finetune --cache $(GATE_FT_CACHE) --epochs $(GATE_EPOCHS) \
	  --log $(GATE_LOG_DIR)/gate_finetune.log

train-damage-gate-linear: $(STAMP) ## the first gate: frozen features + logistic head, grouped-CV threshold (for comparison)
	@mkdir -p $(GATE_LOG_DIR)
	nice -n 10 $(PY) -m training.damage.gate --cache $(GATE_CACHE) --no-export --log $(GATE_LOG_DIR)/damage_gate.log
