"""Export a DamageNet checkpoint to the model repository (ONNX + config.pbtxt) and record test outputs.

    python -m training.damage.export --checkpoint training/runs/damage/last.pt

Writes models/damage_detector/1/model.onnx (normalisation and decode inside), its
config.pbtxt from picloss/engines/models/damage_detector.py, and a small JSON fixture with the
outputs for a generated input (tests/unit/damage/fixtures/damage_detector_expected.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from picloss.engines.models import damage_detector as ms
from picloss.engines.models.damage_detector import INPUT_SIZE
from training.damage.fixture import FIXTURE, REPO, TOP, fixture_input
from training.damage.model import PART_TOP_K, TOP_K, DamageNet, ExportWrapper
from training.triton_config import config_pbtxt as triton_config

MAX_BYTES = 25 * 1024 * 1024


def config_pbtxt() -> str:
    k, p = TOP_K, PART_TOP_K
    dims = {
        ms.INPUT_IMAGES: [3, INPUT_SIZE, INPUT_SIZE],
        ms.OUTPUT_BOXES: [k, 4],
        ms.OUTPUT_SCORES: [k],
        ms.OUTPUT_TYPE_PROBS: [k, len(ms.DAMAGE_TYPES)],
        ms.OUTPUT_SEVERITY_PROBS: [k, len(ms.SEVERITIES)],
        ms.OUTPUT_PART_PROBS: [k, len(ms.PART_KINDS)],
        ms.OUTPUT_PART_BOXES: [p, 4],
        ms.OUTPUT_PART_SCORES: [p],
        ms.OUTPUT_PART_KIND_PROBS: [p, len(ms.PART_KINDS)],
        ms.OUTPUT_PART_TYPE_PROBS: [p, len(ms.DAMAGE_TYPES)],
        ms.OUTPUT_PART_SEVERITY_PROBS: [p, len(ms.SEVERITIES)],
    }
    return triton_config(ms.DAMAGE_DETECTOR, ms.MAX_BATCH_SIZE, dims,
                         "Written by training/damage/export.py; tensor names: "
                         "picloss/engines/models/damage_detector.py.")


def export_onnx(net: DamageNet, onnx_path: Path) -> tuple[int, float]:
    """`net` as the service's ONNX file (normalisation and decode inside, batch axis dynamic) at `onnx_path`;
    returns its size in bytes and the largest onnxruntime-vs-torch difference of the first detections."""
    import onnxruntime as ort

    wrapper = ExportWrapper(net).eval()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.from_numpy(fixture_input())
    dynamic = {ms.INPUT_IMAGES: {0: "batch"}, **{name: {0: "batch"} for name in ms.DAMAGE_DETECTOR.outputs}}
    torch.onnx.export(wrapper, (dummy,), str(onnx_path), input_names=[ms.INPUT_IMAGES],
                      output_names=list(ms.DAMAGE_DETECTOR.outputs), dynamic_axes=dynamic, opset_version=17,
                      dynamo=False)
    size = onnx_path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{onnx_path} is {size} bytes, over 25 MB")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ort_out = session.run(None, {ms.INPUT_IMAGES: fixture_input()})
    with torch.no_grad():
        torch_out = wrapper(dummy)
    worst = max(float(np.abs(o[:, :TOP] - t[:, :TOP].numpy()).max()) for o, t in zip(ort_out, torch_out, strict=True))
    return size, worst


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=Path("training/runs/damage/last.pt"))
    p.add_argument("--models-dir", type=Path, default=REPO / "models")
    args = p.parse_args(argv)

    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    heads = ckpt["heads"]
    if (tuple(heads["damage_type"]), tuple(heads["severity"]), tuple(heads["part_kind"])) != (
        ms.DAMAGE_TYPES,
        ms.SEVERITIES,
        ms.PART_KINDS,
    ):
        raise SystemExit(f"checkpoint heads {heads} differ from picloss/engines/models/damage_detector.py")
    net = DamageNet(len(ms.DAMAGE_TYPES), len(ms.SEVERITIES), len(ms.PART_KINDS), pretrained=False)
    net.load_state_dict(ckpt["model"])
    wrapper = ExportWrapper(net).eval()

    out_dir = args.models_dir / ms.DAMAGE_DETECTOR.name
    onnx_path = out_dir / ms.DAMAGE_DETECTOR.version / "model.onnx"
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.from_numpy(fixture_input())
    dynamic = {ms.INPUT_IMAGES: {0: "batch"}, **{name: {0: "batch"} for name in ms.DAMAGE_DETECTOR.outputs}}
    torch.onnx.export(
        wrapper,
        (dummy,),
        str(onnx_path),
        input_names=[ms.INPUT_IMAGES],
        output_names=list(ms.DAMAGE_DETECTOR.outputs),
        dynamic_axes=dynamic,
        opset_version=17,
        dynamo=False,
    )
    size = onnx_path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{onnx_path} is {size} bytes, over 25 MB")
    (out_dir / "config.pbtxt").write_text(config_pbtxt())

    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    ort_out = dict(
        zip(ms.DAMAGE_DETECTOR.outputs, session.run(None, {ms.INPUT_IMAGES: fixture_input()}), strict=True)
    )
    with torch.no_grad():
        torch_out = dict(zip(ms.DAMAGE_DETECTOR.outputs, wrapper(dummy), strict=True))
    worst = max(float(np.abs(ort_out[n][:, :TOP] - torch_out[n][:, :TOP].numpy()).max()) for n in ort_out)
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(
        json.dumps(
            {
                "note": "export.py fixture_input() through the committed ONNX: first 10 detections",
                "top": TOP,
                **{n: np.round(v[0, :TOP], 5).tolist() for n, v in ort_out.items()},
            },
            indent=1,
        )
    )
    print(
        f"exported {onnx_path} ({size / 1e6:.1f} MB), onnxruntime vs torch max abs diff {worst:.2e}; "
        f"fixture {FIXTURE}"
    )


if __name__ == "__main__":
    main()
