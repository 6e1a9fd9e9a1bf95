"""Photo-level damage gate: "is there any damage on this photo?", asked before damage boxes are reported.

The model (models/damage_gate, trained by training/damage/gate_finetune.py) is ImageNet EfficientNet-Lite0 with
its last stage (blocks 11-15 and the head convolution) fine-tuned together with a linear head on mean + max
pooled features, exported with its sigmoid as one ONNX graph (docs/damage-gate.md). Its contract (tensor names,
the squashed input): picloss/engines/models/damage_gate.py.
"""

from __future__ import annotations

import numpy as np

from picloss.engines.models.damage_gate import INPUT_IMAGES, MAX_BATCH_SIZE, OUTPUT_DAMAGE_PROB, to_batch
from picloss.platform.inference import ModelRunner

# Chosen on TRAIN photos only (training/damage/gate_finetune.py): the highest threshold whose recall on the whole
# damage photos of the selection fold (one of 5 grouped folds of train, never trained on) is >= 0.98. Never
# fitted on val.
# Recorded with the model in models/damage_gate/gate.json and the ONNX metadata (a unit test checks they agree).
DAMAGE_THRESHOLD = 0.274656


async def damage_probability(runner: ModelRunner, rgbs: list[np.ndarray]) -> list[float]:
    """One probability of "any damage" per photo, in the order given (batches of at most MAX_BATCH_SIZE)."""
    probs: list[float] = []
    for start in range(0, len(rgbs), MAX_BATCH_SIZE):
        batch = to_batch(rgbs[start:start + MAX_BATCH_SIZE])
        out = await runner.infer({INPUT_IMAGES: batch})
        probs.extend(float(p) for p in np.asarray(out[OUTPUT_DAMAGE_PROB]).reshape(len(batch)))
    return probs


def is_damaged(prob: float, threshold: float = DAMAGE_THRESHOLD) -> bool:
    return prob >= threshold
