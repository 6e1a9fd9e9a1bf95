"""The photo classifier model: tensor names, class order and input size, shared with config.pbtxt."""

from __future__ import annotations

from picloss.inference import ModelSpec

INPUT_NAME = "images"  # float32 [N, 3, 224, 224], RGB pixel values 0..255 (normalised inside the model)
OUTPUT_NAME = "probs"  # float32 [N, 7], softmax over CLASSES
INPUT_SIZE = 224
CLASSES: tuple[str, ...] = (
    "IDCARD_FRONT", "IDCARD_BACK", "DRIVER_LICENSE", "DRIVING_LICENSE", "VIN", "DAMAGE", "OTHER",
)
MAX_BATCH_SIZE = 16

PHOTO_CLASSIFIER = ModelSpec(name="photo_classifier", inputs=(INPUT_NAME,), outputs=(OUTPUT_NAME,))
