"""The damage detector's tensor names and label order, shared by export, config.pbtxt and clients."""

from __future__ import annotations

from picloss.inference import ModelSpec

INPUT_IMAGES = "images"  # float32 [B, 3, 640, 640], RGB 0..255, letterboxed (services.damage.preprocess)
# Damages (the scratch, dent or break itself), from the full-resolution pass, best first.
OUTPUT_BOXES = "boxes"  # float32 [B, K, 4] xyxy in model-input pixels
OUTPUT_SCORES = "scores"  # float32 [B, K] damage confidence 0..1, best first
OUTPUT_TYPE_PROBS = "type_probs"  # float32 [B, K, len(DAMAGE_TYPES)]
OUTPUT_SEVERITY_PROBS = "severity_probs"  # float32 [B, K, len(SEVERITIES)]
OUTPUT_PART_PROBS = "part_probs"  # float32 [B, K, len(PART_KINDS)]: the part under the damage's centre
# Damaged parts (the whole damaged bumper, door...), from the half-resolution pass, best first.
OUTPUT_PART_BOXES = "part_boxes"  # float32 [B, P, 4] xyxy in model-input pixels
OUTPUT_PART_SCORES = "part_scores"  # float32 [B, P] damaged-part confidence 0..1
OUTPUT_PART_KIND_PROBS = "part_kind_probs"  # float32 [B, P, len(PART_KINDS)]
OUTPUT_PART_TYPE_PROBS = "part_type_probs"  # float32 [B, P, len(DAMAGE_TYPES)] at the part's centre
OUTPUT_PART_SEVERITY_PROBS = "part_severity_probs"  # float32 [B, P, len(SEVERITIES)] at the part's centre

DAMAGE_DETECTOR = ModelSpec(
    name="damage_detector",
    inputs=(INPUT_IMAGES,),
    outputs=(
        OUTPUT_BOXES,
        OUTPUT_SCORES,
        OUTPUT_TYPE_PROBS,
        OUTPUT_SEVERITY_PROBS,
        OUTPUT_PART_PROBS,
        OUTPUT_PART_BOXES,
        OUTPUT_PART_SCORES,
        OUTPUT_PART_KIND_PROBS,
        OUTPUT_PART_TYPE_PROBS,
        OUTPUT_PART_SEVERITY_PROBS,
    ),
)
MAX_BATCH_SIZE = 8

# Same order as training/damage/classmap.yaml `heads` (the export checks it).
DAMAGE_TYPES = ("scratch", "dent", "broken")
SEVERITIES = ("minor", "moderate", "severe")
PART_KINDS = ("bonnet", "bumper", "trunk", "door", "fender", "lamp", "windshield")
