# The insurer's own-data loop (issue 24): labels -> retrain -> compare -> promote / rollback; the learning curve.
# docs/insurer-loop.md walks through it. Included by the Makefile.
DATA ?=
PHOTOS ?=
DEVICE ?= cpu
RETRAIN_OUT ?= training/runs/retrain
RETRAIN_STEPS ?= 600
RETRAIN_MAX_MINUTES ?= 0
CANDIDATE ?= $(RETRAIN_OUT)/candidate
MODEL ?= damage_detector
CURVE_STEPS ?= 800

.PHONY: retrain compare-models promote-model rollback-model model-versions learning-curve

retrain: $(STAMP) ## retrain the damage detector on DATA=labels/ (+ public base data) from the model in service [DEVICE=cuda]
	@test -n "$(DATA)" || { echo "usage: make retrain DATA=labels/ [DEVICE=cuda] [RETRAIN_STEPS=600]"; exit 2; }
	nice -n 10 $(PY) -m training.damage.retrain --data $(DATA) $(if $(PHOTOS),--photos $(PHOTOS),) \
	  --device $(DEVICE) --out $(RETRAIN_OUT) --steps $(RETRAIN_STEPS) --max-minutes $(RETRAIN_MAX_MINUTES) --resume

compare-models: $(STAMP) ## the model in service vs CANDIDATE on DATA's held-out claims (bootstrap intervals, verdicts)
	@test -n "$(DATA)" || { echo "usage: make compare-models DATA=labels/ [CANDIDATE=$(CANDIDATE)]"; exit 2; }
	$(PY) -m training.damage.compare --candidate $(CANDIDATE) --data $(DATA) $(if $(PHOTOS),--photos $(PHOTOS),)

promote-model: $(STAMP) ## CANDIDATE becomes the next numbered version of models/damage_detector and serves (FORCE=1: skip the comparison check)
	$(PY) -m training.damage.promote promote --candidate $(CANDIDATE) $(if $(FORCE),--force,)

rollback-model: $(STAMP) ## serve the previous version of MODEL (default damage_detector) again
	$(PY) -m training.damage.promote rollback --model $(MODEL)

model-versions: $(STAMP) ## the versions of MODEL in models/ and the one that serves
	$(PY) -m training.damage.promote status --model $(MODEL)

learning-curve: $(STAMP) ## damaged_parts as an insurer's claims: 0/25/50/100 % added; docs/benchmarks.md + docs/learning-curve.svg
	nice -n 10 $(PY) -m training.damage.learning_curve --steps $(CURVE_STEPS) --device $(DEVICE)
