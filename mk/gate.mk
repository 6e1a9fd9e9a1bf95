# Photo-level damage gate (issue 11, part 2): "is there any damage on this photo?". Included by the Makefile.
GATE_CACHE ?= /tmp/picloss-gate
GATE_LOG_DIR ?= /tmp/logs

.PHONY: train-damage-gate

train-damage-gate: $(STAMP) ## features (cached), grouped CV threshold, held-out figures, export models/damage_gate
	@mkdir -p $(GATE_LOG_DIR)
	nice -n 10 $(PY) -m training.damage.gate --cache $(GATE_CACHE) --log $(GATE_LOG_DIR)/damage_gate.log
